"""COCO / LVIS mAP: longtail vs pycocotools, faster-coco-eval and lvis-api on the same data.

    python benches/detection.py            # small sizes (about a minute)
    flock /tmp/bench.lock python benches/detection.py --large   # the sizes of issue 15

Rows:
- bbox: a COCO-val-sized generated set (``--large``: 5000 images, 80 classes, ~7 ground
  truths and 100 detections per image, 10% crowd regions); longtail's
  ``mean_average_precision`` from torchvision-style per-image dicts of float32 tensors vs
  ``COCOeval.evaluate() + accumulate()`` of pycocotools and faster-coco-eval (their COCO
  objects are built outside the timing);
- segm: the same with ellipse masks as COCO RLE dicts (``--large``: 1000 images of
  480 x 640 pixels);
- lvis: an LVIS-like federated set (1203 classes with LVIS-like training frequencies,
  neg / not-exhaustive category ids, 300 detections per image) vs ``LVISEval.run()``.

Every row checks that the summary values agree to 1e-6 and prints peer time / our time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table, timeit  # noqa: E402

from longtail.metrics.detection import mean_average_precision  # noqa: E402

COLUMNS = ["case", "size", "longtail s", "peer", "peer s", "x peer", "max |diff|", "agree"]
IMG_H, IMG_W = 480, 640


# --------------------------------------------------------------------------------------
# data


def _boxes(rng, n):
    """xywh boxes whose areas span COCO's small / medium / large ranges."""
    side = np.exp(rng.uniform(np.log(6), np.log(300), (n, 2)))
    w = np.minimum(side[:, 0], IMG_W - 1)
    h = np.minimum(side[:, 1], IMG_H - 1)
    x = rng.uniform(0, IMG_W - w)
    y = rng.uniform(0, IMG_H - h)
    return np.stack([x, y, w, h], 1)


def make_set(seed, n_images, n_classes, gt_per_image, dets_per_image, class_p=None):
    """Per image: gt xywh, labels, crowd; det xywh (jittered gt or random), labels, scores."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n_images):
        ng = int(rng.poisson(gt_per_image))
        gb = _boxes(rng, ng)
        gl = rng.choice(n_classes, ng, p=class_p)
        crowd = (rng.random(ng) < 0.1).astype(np.int64)
        nd = dets_per_image
        from_gt = rng.random(nd) < (0.5 if ng else 0.0)
        j = rng.integers(0, max(ng, 1), nd)
        db = _boxes(rng, nd)
        dl = rng.choice(n_classes, nd, p=class_p)
        if ng:
            jit = gb[j] + rng.normal(0, 0.1, (nd, 4)) * np.repeat(gb[j, 2:], 2, axis=1)
            jit[:, 2:] = np.maximum(jit[:, 2:], 1.0)
            db[from_gt] = jit[from_gt]
            dl[from_gt] = np.where(rng.random(from_gt.sum()) < 0.8, gl[j[from_gt]], dl[from_gt])
        db[:, 0] = np.clip(db[:, 0], 0, IMG_W - 2)
        db[:, 1] = np.clip(db[:, 1], 0, IMG_H - 2)
        db[:, 2] = np.minimum(db[:, 2], IMG_W - 1 - db[:, 0])
        db[:, 3] = np.minimum(db[:, 3], IMG_H - 1 - db[:, 1])
        scores = rng.random(nd).astype(np.float32)
        images.append(
            dict(
                gb=gb.astype(np.float32),
                gl=gl,
                crowd=crowd,
                db=db.astype(np.float32),
                dl=dl,
                scores=scores,
            )
        )
    return images


def add_masks(images):
    import pycocotools.mask as mu

    for im in images:
        for side in ("g", "d"):
            b = im[f"{side}b"]
            rles = [{"size": [IMG_H, IMG_W], "counts": _mask_runs(r)} for r in b]
            enc = mu.frPyObjects(rles, IMG_H, IMG_W) if rles else []
            im[f"{side}m"] = [{"size": e["size"], "counts": e["counts"]} for e in enc]
            im[f"{side}area"] = np.array([float(mu.area(e)) for e in enc])


def _mask_runs(b):
    """Column-major runs of the ellipse in xywh box ``b`` (zeros first)."""
    x, y, w, h = (float(v) for v in b)
    cx, cy, rx, ry = x + w / 2, y + h / 2, max(w / 2, 0.5), max(h / 2, 0.5)
    x0, x1 = max(int(x), 0), min(int(np.ceil(x + w)), IMG_W)
    xs = np.arange(x0, x1)
    half = ry * np.sqrt(np.clip(1 - ((xs + 0.5 - cx) / rx) ** 2, 0, None))
    top = np.clip(np.round(cy - half), 0, IMG_H).astype(np.int64)
    bot = np.maximum(np.clip(np.round(cy + half), 0, IMG_H).astype(np.int64), top)
    keep = bot > top
    starts = (xs * IMG_H + top)[keep]
    ends = (xs * IMG_H + bot)[keep]
    if starts.size == 0:
        return [IMG_H * IMG_W]
    # adjacent columns can touch (end of one == start of next): merge them
    brk = np.flatnonzero(starts[1:] != ends[:-1])
    s = np.concatenate([[starts[0]], starts[1:][brk]])
    e = np.concatenate([ends[:-1][brk], [ends[-1]]])
    runs = np.empty(2 * s.size + 1, np.int64)
    runs[0] = s[0]
    runs[1::2] = e - s
    runs[2:-1:2] = s[1:] - e[:-1]
    runs[-1] = IMG_H * IMG_W - e[-1]
    return runs.tolist()


# --------------------------------------------------------------------------------------
# inputs for each tool


def ours_inputs(images, iou_type="bbox", federated=False):
    preds, target = [], []
    for im in images:
        p = {"scores": torch.from_numpy(im["scores"]), "labels": torch.from_numpy(im["dl"])}
        t = {"labels": torch.from_numpy(im["gl"])}
        if iou_type == "bbox":
            p["boxes"] = torch.from_numpy(im["db"])
            t["boxes"] = torch.from_numpy(im["gb"])
        else:
            p["masks"] = im["dm"]
            t["masks"] = im["gm"]
        if federated:
            t["neg_category_ids"] = torch.from_numpy(im["neg"])
            t["not_exhaustive_category_ids"] = torch.from_numpy(im["nel"])
        else:
            t["iscrowd"] = torch.from_numpy(im["crowd"])
        preds.append(p)
        target.append(t)
    return preds, target


def coco_dicts(images, iou_type, lvis=False, class_freq=None):
    imgs, gts, dts = [], [], []
    for i, im in enumerate(images):
        img = {"id": i, "height": IMG_H, "width": IMG_W}
        if lvis:
            img["neg_category_ids"] = im["neg"].tolist()
            img["not_exhaustive_category_ids"] = im["nel"].tolist()
        imgs.append(img)
        for k in range(im["gl"].size):
            b = im["gb"][k].astype(np.float64)
            ann = {
                "id": len(gts) + 1,
                "image_id": i,
                "category_id": int(im["gl"][k]),
                "iscrowd": 0 if lvis else int(im["crowd"][k]),
                "bbox": b.tolist(),
            }
            if iou_type == "bbox":
                ann["area"] = float(b[2] * b[3])
            else:
                ann["segmentation"] = im["gm"][k]
                ann["area"] = float(im["garea"][k])
            gts.append(ann)
        for k in range(im["dl"].size):
            ann = {"image_id": i, "category_id": int(im["dl"][k]), "score": float(im["scores"][k])}
            if iou_type == "bbox":
                b = im["db"][k].astype(np.float64)
                ann["bbox"] = b.tolist()
                ann["area"] = float(b[2] * b[3])
            else:
                ann["segmentation"] = im["dm"][k]
                ann["area"] = float(im["darea"][k])
            if not lvis:
                ann["id"] = len(dts) + 1
                ann["iscrowd"] = 0
            dts.append(ann)
    classes = sorted({a["category_id"] for a in gts} | {a["category_id"] for a in dts})
    cats = [{"id": c, "name": str(c)} for c in classes]
    if lvis:
        for c in cats:
            n = class_freq[c["id"]]
            c["frequency"] = "r" if n <= 10 else ("c" if n <= 100 else "f")
    return imgs, gts, dts, cats


def _ours_bbox(images, **kw):
    preds, target = ours_inputs(images, **kw)
    return lambda: mean_average_precision(preds, target, box_format="xywh", **kw)


COCO_KEYS = [
    "map",
    "map_50",
    "map_75",
    "map_small",
    "map_medium",
    "map_large",
    "mar_1",
    "mar_10",
    "mar_100",
    "mar_small",
    "mar_medium",
    "mar_large",
]


def _coco_peer(module, images, iou_type):
    """A closure running evaluate + accumulate (+ summarize) on prebuilt COCO objects."""
    if module == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval as Eval
    else:
        from faster_coco_eval import COCO
        from faster_coco_eval import COCOeval_faster as Eval
    imgs, gts, dts, cats = coco_dicts(images, iou_type)
    gt, dt = COCO(), COCO()
    gt.dataset = {"images": imgs, "annotations": gts, "categories": cats}
    dt.dataset = {"images": imgs, "annotations": dts, "categories": cats}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt.createIndex()

    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            e = Eval(gt, dt, iouType=iou_type)
            e.evaluate()
            e.accumulate()
            e.summarize()
        return list(e.stats[:12])

    return run


def _row(case, size, ours, peer_name, peer, keys):
    t_ours, r = ours
    t_peer, stats = peer
    diff = max(abs(r[k] - s) for k, s in zip(keys, stats))
    return {
        "case": case,
        "size": size,
        "longtail s": t_ours,
        "peer": peer_name,
        "peer s": t_peer,
        "x peer": t_peer / t_ours,
        "max |diff|": diff,
        "agree": diff <= 1e-6,
    }


def bench_bbox(large):
    n = 5000 if large else 500
    images = make_set(0, n, 80, 7, 100)
    size = f"{n} img, 80 cls, 100 det/img"
    ours = timeit(_ours_bbox(images), repeats=3, warmup=1)
    rows = []
    for peer in ("pycocotools", "faster_coco_eval"):
        run = _coco_peer(peer, images, "bbox")
        rows.append(_row("bbox", size, ours, peer, timeit(run, repeats=1), COCO_KEYS))
    return rows


def bench_segm(large):
    n = 1000 if large else 60
    images = make_set(1, n, 80, 7, 100)
    add_masks(images)
    size = f"{n} img {IMG_H}x{IMG_W}, RLE, 100 det/img"
    ours = timeit(_ours_bbox(images, iou_type="segm"), repeats=3, warmup=1)
    rows = []
    for peer in ("pycocotools", "faster_coco_eval"):
        run = _coco_peer(peer, images, "segm")
        rows.append(_row("segm", size, ours, peer, timeit(run, repeats=1), COCO_KEYS))
    return rows


def lvis_frequencies(rng, n_classes=1203):
    """Training image counts with LVIS v1's split: 337 rare, 461 common, 405 frequent."""
    counts = np.concatenate(
        [rng.integers(1, 11, 337), rng.integers(11, 101, 461), rng.integers(101, 5000, 405)]
    )
    return rng.permutation(counts)[:n_classes]


def bench_lvis(large):
    from lvis import LVIS, LVISEval, LVISResults

    rng = np.random.default_rng(2)
    counts = lvis_frequencies(rng)
    p = counts / counts.sum()
    n = 1500 if large else 40
    images = make_set(3, n, 1203, 12, 300, class_p=p)
    for im in images:
        present = np.unique(im["gl"])
        im["neg"] = rng.choice(np.setdiff1d(np.arange(1203), present), 8, replace=False)
        im["nel"] = present[rng.random(present.size) < 0.1].astype(np.int64)
        im["crowd"][:] = 0
    preds, target = ours_inputs(images, federated=True)
    ours = timeit(
        lambda: mean_average_precision(
            preds, target, box_format="xywh", federated=True, frequency=counts
        ),
        repeats=3,
        warmup=1,
    )
    imgs, gts, dts, cats = coco_dicts(images, "bbox", lvis=True, class_freq=counts)
    gt = LVIS.__new__(LVIS)
    gt.logger = logging.getLogger("lvis-bench")
    gt.dataset = {"images": imgs, "annotations": gts, "categories": cats}
    gt._create_index()
    logging.getLogger("lvis").setLevel(logging.ERROR)

    def run():
        had = hasattr(np, "float")
        np.float = float  # lvis-api 0.5.3 uses np.float (gone since numpy 1.24)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dt = LVISResults(gt, [dict(d) for d in dts], max_dets=300)
                e = LVISEval(gt, dt, iou_type="bbox")
                e.run()
        finally:
            if not had:
                del np.float
        r = e.results
        return [
            r[k]
            for k in (
                "AP",
                "AP50",
                "AP75",
                "APs",
                "APm",
                "APl",
                "APr",
                "APc",
                "APf",
                "AR@300",
                "ARs@300",
                "ARm@300",
                "ARl@300",
            )
        ]

    keys = [
        "map",
        "map_50",
        "map_75",
        "map_small",
        "map_medium",
        "map_large",
        "map_rare",
        "map_common",
        "map_frequent",
        "mar_300",
        "mar_small",
        "mar_medium",
        "mar_large",
    ]
    size = f"{n} img, 1203 cls, 300 det/img"
    return [_row("lvis (federated)", size, ours, "lvis-api", timeit(run, repeats=1), keys)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="the sizes of issue 15")
    parser.add_argument("--cases", nargs="*", default=["bbox", "segm", "lvis"])
    args = parser.parse_args()
    print(f"# detection mAP, {machine()}, torch threads {torch.get_num_threads()}\n")
    rows = []
    for case in args.cases:
        t0 = time.perf_counter()
        rows += {"bbox": bench_bbox, "segm": bench_segm, "lvis": bench_lvis}[case](args.large)
        print(f"{case}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    print(table(rows, COLUMNS))
    return 0 if all(r["agree"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
