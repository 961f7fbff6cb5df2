"""longtail.metrics.detection against pycocotools' COCOeval (bbox, segm) and lvis-api's
LVISEval (federated) on generated data: crowd regions, all three area ranges, images
without ground truth, classes without detections, tied scores, custom thresholds."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from longtail import _core
from longtail.metrics.detection import MeanAveragePrecision, mean_average_precision

TOL = 1e-6
H = W = 64  # mask images


# --------------------------------------------------------------------------------------
# generated data


def _box(rng, lo=4, hi=200):
    w, h = rng.uniform(lo, hi, 2)
    x, y = rng.uniform(0, 300, 2)
    return [x, y, x + w, y + h]


def make_boxes(seed, n_images=30, n_classes=6, dets=12, crowd=True, ties=True):
    """xyxy float64 data; image 0 has no ground truth, class n_classes - 1 no detections,
    class 99 no ground truth."""
    rng = np.random.default_rng(seed)
    preds, target = [], []
    for i in range(n_images):
        ng = 0 if i == 0 else int(rng.integers(0, 6))
        gb = np.array([_box(rng) for _ in range(ng)]).reshape(-1, 4)
        gl = rng.integers(0, n_classes, ng)
        t = {"boxes": gb, "labels": gl}
        if crowd:
            t["iscrowd"] = (rng.random(ng) < 0.15).astype(np.int64)
        if i % 3 == 0:
            t["area"] = np.where(rng.random(ng) < 0.5, rng.uniform(100, 12000, ng), 0.0)
        target.append(t)
        nd = int(rng.integers(0, dets + 1))
        db, dl = [], []
        for _ in range(nd):
            if ng and rng.random() < 0.7:
                j = int(rng.integers(0, ng))
                jit = rng.normal(0, 0.12, 4) * (gb[j, 2:] - gb[j, :2]).repeat(2)
                b = gb[j] + jit
                b[2:] = np.maximum(b[2:], b[:2] + 1)
                db.append(b)
                dl.append(gl[j] if rng.random() < 0.85 else rng.integers(0, n_classes - 1))
            else:
                db.append(_box(rng))
                dl.append(99 if rng.random() < 0.1 else rng.integers(0, n_classes - 1))
        dl = [0 if lab == n_classes - 1 else lab for lab in dl]  # a class without detections
        s = rng.random(nd)
        if ties:
            s = np.round(s, 1)
        preds.append(
            {
                "boxes": np.array(db).reshape(-1, 4),
                "scores": s,
                "labels": np.array(dl, dtype=np.int64),
            }
        )
    return preds, target


def _blob(rng):
    m = np.zeros((H, W), bool)
    y, x = rng.integers(0, H - 4, 2)
    h, w = rng.integers(2, 40, 2)
    m[y : y + h, x : x + w] = True
    m &= rng.random((H, W)) < 0.9
    return m


def make_masks(seed, n_images=16, n_classes=4, dets=8):
    """bool masks; some images as RLE dicts (compressed bytes / str / uncompressed)."""
    rng = np.random.default_rng(seed)
    preds, target = [], []
    for i in range(n_images):
        ng = 0 if i == 0 else int(rng.integers(0, 5))
        gm = np.array([_blob(rng) for _ in range(ng)]).reshape(ng, H, W)
        gl = rng.integers(0, n_classes, ng)
        nd = int(rng.integers(0, dets + 1))
        dm, dl = [], []
        for _ in range(nd):
            if ng and rng.random() < 0.7:
                j = int(rng.integers(0, ng))
                m = gm[j] ^ (rng.random((H, W)) < 0.05)
                dm.append(m & np.roll(gm[j], int(rng.integers(-3, 4)), axis=1) | (m & gm[j]))
                dl.append(gl[j] if rng.random() < 0.85 else rng.integers(0, n_classes - 1))
            else:
                dm.append(_blob(rng))
                dl.append(rng.integers(0, n_classes - 1))
        dm = np.array(dm).reshape(nd, H, W)
        t = {"masks": gm, "labels": gl, "iscrowd": (rng.random(ng) < 0.2).astype(int)}
        p = {"masks": dm, "scores": np.round(rng.random(nd), 1), "labels": np.array(dl, int)}
        if i % 3 == 1:
            t["masks"] = [_rle(m, "bytes") for m in gm]
            p["masks"] = [_rle(m, "str") for m in dm]
        elif i % 3 == 2:
            t["masks"] = [_rle(m, "list") for m in gm]
            p["masks"] = torch.from_numpy(dm)
        target.append(t)
        preds.append(p)
    return preds, target


def _rle(m, kind):
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    if kind == "str":
        return {"size": r["size"], "counts": r["counts"].decode()}
    if kind == "list":
        return {"size": r["size"], "counts": _runs(m)}
    return r


def _runs(m):
    flat = m.T.reshape(-1).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])) != 0)
    runs = np.diff(np.concatenate([[0], edges]))
    return [int(v) for v in runs] if flat.size else [0]


# --------------------------------------------------------------------------------------
# oracles


def _xywh(b, fmt):
    b = np.asarray(b, np.float64).reshape(-1, 4)
    if fmt == "xyxy":
        return np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)
    if fmt == "cxcywh":
        return np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 2], b[:, 3]], 1)
    return b


def _as_rle(m):
    if isinstance(m, dict):
        if isinstance(m["counts"], list):
            return mask_utils.frPyObjects(m, *m["size"])
        c = m["counts"]
        return {"size": list(m["size"]), "counts": c.encode() if isinstance(c, str) else c}
    return mask_utils.encode(np.asfortranarray(np.asarray(m, np.uint8)))


def _geom(d, iou_type, fmt):
    """(list of bbox or segmentation, list of computed areas) of one image dict."""
    if iou_type == "bbox":
        b = _xywh(d["boxes"], fmt)
        return [list(map(float, r)) for r in b], [float(r[2] * r[3]) for r in b]
    masks = d["masks"]
    if isinstance(masks, torch.Tensor):
        masks = masks.numpy()
    rles = [_as_rle(m) for m in masks]
    return rles, [float(mask_utils.area(r)) for r in rles]


def _datasets(preds, target, iou_type, fmt="xyxy", lvis=None):
    images, gts, dts = [], [], []
    labels = set()
    for i, (p, t) in enumerate(zip(preds, target)):
        img = {"id": i, "height": H, "width": W}
        if lvis is not None:
            img["neg_category_ids"] = [int(c) for c in t.get("neg_category_ids", [])]
            img["not_exhaustive_category_ids"] = [
                int(c) for c in t.get("not_exhaustive_category_ids", [])
            ]
        images.append(img)
        geo, areas = _geom(t, iou_type, fmt)
        given = np.asarray(t.get("area", np.zeros(len(areas))), np.float64)
        crowd = np.asarray(t.get("iscrowd", np.zeros(len(areas))))
        for k, lab in enumerate(np.asarray(t["labels"])):
            a = float(given[k]) if given[k] > 0 else areas[k]
            ann = {
                "id": len(gts) + 1,
                "image_id": i,
                "category_id": int(lab),
                "area": a,
                "iscrowd": 0 if lvis is not None else int(crowd[k]),
            }
            ann["bbox" if iou_type == "bbox" else "segmentation"] = geo[k]
            if iou_type == "segm":
                ann["bbox"] = [0.0, 0.0, 1.0, 1.0]  # unused by segm evaluation
            gts.append(ann)
            labels.add(int(lab))
        geo, areas = _geom(p, iou_type, fmt)
        for k, lab in enumerate(np.asarray(p["labels"])):
            ann = {
                "id": len(dts) + 1,
                "image_id": i,
                "category_id": int(lab),
                "score": float(np.asarray(p["scores"])[k]),
                "area": areas[k],
                "iscrowd": 0,
            }
            ann["bbox" if iou_type == "bbox" else "segmentation"] = geo[k]
            dts.append(ann)
            labels.add(int(lab))
    cats = [{"id": c, "name": str(c)} for c in sorted(labels)]
    return images, gts, dts, cats


def coco_oracle(
    preds, target, iou_type="bbox", fmt="xyxy", iou_thrs=None, rec_thrs=None, max_dets=None
):
    images, gts, dts, cats = _datasets(preds, target, iou_type, fmt)
    gt, dt = COCO(), COCO()
    gt.dataset = {"images": images, "annotations": gts, "categories": cats}
    dt.dataset = {"images": images, "annotations": dts, "categories": cats}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt.createIndex()
        e = COCOeval(gt, dt, iouType=iou_type)
        if iou_thrs is not None:
            e.params.iouThrs = np.array(iou_thrs, np.float64)
        if rec_thrs is not None:
            e.params.recThrs = np.array(rec_thrs, np.float64)
        if max_dets is not None:
            e.params.maxDets = list(max_dets)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


def lvis_oracle(preds, target, iou_type, frequency):
    from lvis import LVIS, LVISEval, LVISResults

    images, gts, dts, cats = _datasets(preds, target, iou_type, lvis=True)
    for c in cats:
        n = frequency[c["id"]]
        c["frequency"] = "r" if n <= 10 else ("c" if n <= 100 else "f")
    if iou_type == "segm":
        for d in dts:
            d.pop("bbox", None)
    for d in dts:
        del d["id"], d["area"], d["iscrowd"]
    gt = LVIS.__new__(LVIS)
    gt.logger = logging.getLogger("lvis-test")
    gt.dataset = {"images": images, "annotations": gts, "categories": cats}
    gt._create_index()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        dt = LVISResults(gt, dts, max_dets=300)
    e = LVISEval(gt, dt, iou_type=iou_type)
    had = hasattr(np, "float")
    np.float = float  # lvis-api 0.5.3 still uses np.float (removed in numpy 1.24)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # its logger.warn
            e.run()
    finally:
        if not had:
            del np.float
    return e


def _per_class_ap(prec):
    """Per-class mean of a (T, R, K) precision slice over entries > -1 (-1 if none)."""
    out = []
    for k in range(prec.shape[2]):
        s = prec[:, :, k]
        s = s[s > -1]
        out.append(s.mean() if s.size else -1.0)
    return np.array(out)


def check_against_coco(result, e, ours_pr, class_metrics=False):
    prec, rec, classes = ours_pr
    np.testing.assert_array_equal(classes, e.params.catIds)
    np.testing.assert_allclose(prec, e.eval["precision"], atol=TOL, rtol=0)
    np.testing.assert_allclose(rec, e.eval["recall"], atol=TOL, rtol=0)
    md = e.params.maxDets
    keys = [
        "map",
        "map_50",
        "map_75",
        "map_small",
        "map_medium",
        "map_large",
        f"mar_{md[0]}",
        f"mar_{md[1]}",
        f"mar_{md[2]}",
        "mar_small",
        "mar_medium",
        "mar_large",
    ]
    for key, want in zip(keys, e.stats):
        assert result[key] == pytest.approx(want, abs=TOL), key
    if class_metrics:
        m100 = [i for i, m in enumerate(md) if m == 100]
        ap = (
            _per_class_ap(e.eval["precision"][:, :, :, 0, m100[0]])
            if m100
            else -np.ones(len(classes))
        )
        np.testing.assert_allclose(result["map_per_class"], ap, atol=TOL)
        ar = []
        for k in range(len(classes)):
            s = e.eval["recall"][:, k, 0, -1]
            s = s[s > -1]
            ar.append(s.mean() if s.size else -1.0)
        np.testing.assert_allclose(result[f"mar_{md[-1]}_per_class"], ar, atol=TOL)


# --------------------------------------------------------------------------------------
# COCO bbox


@pytest.mark.parametrize("fmt", ["xyxy", "xywh", "cxcywh"])
@pytest.mark.parametrize("seed", [0, 1])
def test_bbox_equals_cocoeval(fmt, seed):
    preds, target = make_boxes(seed)
    if fmt != "xyxy":
        conv = {
            "xywh": lambda b: _xywh(b, "xyxy"),
            "cxcywh": lambda b: np.stack(
                [
                    (b[:, 0] + b[:, 2]) / 2,
                    (b[:, 1] + b[:, 3]) / 2,
                    b[:, 2] - b[:, 0],
                    b[:, 3] - b[:, 1],
                ],
                1,
            ),
        }[fmt]
        for d in preds + target:
            d["boxes"] = conv(np.asarray(d["boxes"]).reshape(-1, 4))
    e = coco_oracle(preds, target, "bbox", fmt)
    m = MeanAveragePrecision(box_format=fmt, class_metrics=True)
    m.update(preds, target)
    check_against_coco(m.compute(), e, m.precision_recall(), class_metrics=True)
    # the data exercise what they should
    assert (e.eval["precision"][:, :, :, 1:4] > -1).any(axis=(0, 1, 2, 4)).all()
    ap = _per_class_ap(e.eval["precision"][:, :, :, 0, 2])
    assert ap[list(e.params.catIds).index(99)] == -1  # a class without ground truth
    assert ap[list(e.params.catIds).index(5)] == 0  # a class without detections


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(0, 2**31 - 1), st.integers(1, 6), st.integers(0, 15), st.booleans())
def test_bbox_equals_cocoeval_property(seed, n_images, dets, ties):
    preds, target = make_boxes(seed, n_images=n_images, n_classes=3, dets=dets, ties=ties)
    e = coco_oracle(preds, target)
    m = MeanAveragePrecision(class_metrics=True)
    m.update(preds, target)
    check_against_coco(m.compute(), e, m.precision_recall(), class_metrics=True)


def test_bbox_custom_thresholds():
    preds, target = make_boxes(3, dets=30)
    kw = dict(
        iou_thresholds=[0.3, 0.5, 0.62, 0.9],
        rec_thresholds=[0.0, 0.25, 0.33, 0.5, 1.0],
        max_detection_thresholds=[2, 5, 100],
    )
    e = coco_oracle(
        preds,
        target,
        iou_thrs=kw["iou_thresholds"],
        rec_thrs=kw["rec_thresholds"],
        max_dets=kw["max_detection_thresholds"],
    )
    m = MeanAveragePrecision(class_metrics=True, **kw)
    m.update(preds, target)
    r = m.compute()
    check_against_coco(r, e, m.precision_recall(), class_metrics=True)
    assert r["map_75"] == -1.0 and "mar_5" in r


def test_bbox_max_dets_without_100_and_unsorted_recall():
    # pycocotools reads AP at maxDets == 100: without it map is -1; unsorted recall
    # thresholds stop at the first one past the curve.
    preds, target = make_boxes(4, dets=20)
    kw = dict(rec_thresholds=[0.9, 0.1, 0.5], max_detection_thresholds=[10, 1, 3])
    e = coco_oracle(preds, target, rec_thrs=kw["rec_thresholds"], max_dets=[1, 3, 10])
    m = MeanAveragePrecision(class_metrics=True, **kw)
    m.update(preds, target)
    r = m.compute()
    check_against_coco(r, e, m.precision_recall(), class_metrics=True)
    assert r["map"] == -1.0 and (r["map_per_class"] == -1).all()


def test_bbox_float32_torch_inputs():
    preds, target = make_boxes(5)
    tp = [
        {k: torch.as_tensor(np.asarray(v, np.float32) if k == "boxes" else v) for k, v in d.items()}
        for d in preds
    ]
    tt = [
        {k: torch.as_tensor(np.asarray(v, np.float32) if k == "boxes" else v) for k, v in d.items()}
        for d in target
    ]
    # the oracle sees the same float32 coordinates
    for d in preds + target:
        d["boxes"] = np.asarray(d["boxes"], np.float32).astype(np.float64)
    e = coco_oracle(preds, target)
    m = MeanAveragePrecision()
    m.update(tp, tt)
    check_against_coco(m.compute(), e, m.precision_recall())


TM_KEYS = {
    "classes",
    "map",
    "map_50",
    "map_75",
    "map_large",
    "map_medium",
    "map_per_class",
    "map_small",
    "mar_1",
    "mar_10",
    "mar_100",
    "mar_100_per_class",
    "mar_large",
    "mar_medium",
    "mar_small",
}


def test_torchmetrics_docstring_examples():
    # torchmetrics' MeanAveragePrecision docstring (bbox and segm): same keys and values.
    preds = [
        dict(
            boxes=torch.tensor([[258.0, 41.0, 606.0, 285.0]]),
            scores=torch.tensor([0.536]),
            labels=torch.tensor([0]),
        )
    ]
    target = [dict(boxes=torch.tensor([[214.0, 41.0, 562.0, 285.0]]), labels=torch.tensor([0]))]
    r = mean_average_precision(preds, target)
    assert set(r) == TM_KEYS
    want = {
        "map": 0.6,
        "map_50": 1.0,
        "map_75": 1.0,
        "map_large": 0.6,
        "map_medium": -1.0,
        "map_small": -1.0,
        "mar_1": 0.6,
        "mar_10": 0.6,
        "mar_100": 0.6,
        "mar_large": 0.6,
        "mar_medium": -1.0,
        "mar_small": -1.0,
    }
    for k, v in want.items():
        assert r[k] == pytest.approx(v, abs=1e-6), k
    assert r["map_per_class"].tolist() == [-1.0] and r["classes"].tolist() == [0]
    mask_pred = [
        [0, 0, 0, 0, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ]
    mask_tgt = [[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]]
    preds = [
        dict(
            masks=torch.tensor([mask_pred], dtype=torch.bool),
            scores=torch.tensor([0.536]),
            labels=torch.tensor([0]),
        )
    ]
    target = [dict(masks=torch.tensor([mask_tgt], dtype=torch.bool), labels=torch.tensor([0]))]
    # The IoU is 3/5: pycocotools' float64 threshold 0.6 matches it, torchmetrics' float32
    # 0.6000000238 does not. With torchmetrics' thresholds we give its documented 0.2.
    tm_thresholds = torch.linspace(0.5, 0.95, 10).tolist()
    for thr, ap in ((None, 0.3), (tm_thresholds, 0.2)):
        r = mean_average_precision(preds, target, iou_type="segm", iou_thresholds=thr)
        assert set(r) == TM_KEYS
        want = {
            "map": ap,
            "map_50": 1.0,
            "map_75": 0.0,
            "map_large": -1.0,
            "map_small": ap,
            "mar_1": ap,
            "mar_100": ap,
            "mar_small": ap,
            "mar_large": -1.0,
        }
        for k, v in want.items():
            assert r[k] == pytest.approx(v, abs=1e-6), k
    e = coco_oracle(preds, target, "segm")
    assert e.stats[0] == pytest.approx(0.3, abs=1e-6)


def test_no_update_and_empty_images():
    m = MeanAveragePrecision(class_metrics=True)
    r = m.compute()
    assert r["map"] == -1 and r["classes"].size == 0 and r["map_per_class"].size == 0
    assert MeanAveragePrecision().compute()["map_per_class"].tolist() == [-1]
    empty = {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, int)}
    m.update([empty], [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int)}])
    assert m.compute()["mar_100"] == -1


# --------------------------------------------------------------------------------------
# COCO segm


@pytest.mark.parametrize("seed", [0, 1])
def test_segm_equals_cocoeval(seed):
    preds, target = make_masks(seed)
    e = coco_oracle(preds, target, "segm")
    m = MeanAveragePrecision(iou_type="segm", class_metrics=True)
    m.update(preds, target)
    check_against_coco(m.compute(), e, m.precision_recall(), class_metrics=True)
    assert (e.eval["precision"][:, :, :, 1:3] > -1).any()


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**31 - 1), st.floats(0.0, 1.0))
def test_rle_encode_and_strings_equal_pycocotools(h, w, seed, p):
    m = np.random.default_rng(seed).random((2, h, w)) < p
    cnts, off = _core.rle_encode(m.view(np.uint8))
    for i in range(2):
        ref = mask_utils.encode(np.asfortranarray(m[i].astype(np.uint8)))
        mine = cnts[off[i] : off[i + 1]]
        assert _core.rle_to_string(mine) == ref["counts"]
        back, _ = _core.rle_from_strings([ref["counts"]])
        np.testing.assert_array_equal(back, mine)
        assert mine.sum() == h * w


# --------------------------------------------------------------------------------------
# LVIS federated and frequency groups


def _federate(preds, target, n_classes, seed):
    rng = np.random.default_rng(seed)
    for t in target:
        present = set(np.asarray(t["labels"]).tolist())
        absent = [c for c in range(n_classes) if c not in present]
        t["neg_category_ids"] = rng.choice(absent, size=min(len(absent), 2), replace=False)
        t["not_exhaustive_category_ids"] = np.array(
            [c for c in present if rng.random() < 0.3], dtype=np.int64
        )
        t.pop("iscrowd", None)
        t.pop("area", None)
    return preds, target


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_federated_equals_lvis(iou_type):
    n_classes = 6
    if iou_type == "bbox":
        preds, target = make_boxes(7, n_classes=n_classes, dets=40, crowd=False)
        # one image over the 300-per-image cap
        rng = np.random.default_rng(0)
        preds[1] = {
            "boxes": np.array([_box(rng) for _ in range(320)]),
            "scores": np.round(rng.random(320), 2),
            "labels": rng.integers(0, n_classes, 320),
        }
    else:
        preds, target = make_masks(7, n_classes=n_classes)
        preds = [
            {
                **p,
                "masks": np.asarray(p["masks"])
                if isinstance(p["masks"], torch.Tensor)
                else p["masks"],
            }
            for p in preds
        ]
    preds, target = _federate(preds, target, n_classes, 1)
    counts = np.full(100, 7)
    counts[:6] = [3, 50, 500, 10, 11, 101]
    e = lvis_oracle(preds, target, iou_type, counts)
    m = MeanAveragePrecision(
        iou_type=iou_type, federated=True, frequency=counts, class_metrics=True
    )
    m.update(preds, target)
    r = m.compute()
    prec, rec, classes = m.precision_recall()
    assert list(classes) == e.params.cat_ids
    np.testing.assert_allclose(prec[..., 0], e.eval["precision"], atol=TOL)
    np.testing.assert_allclose(rec[..., 0], e.eval["recall"], atol=TOL)
    names = {
        "map": "AP",
        "map_50": "AP50",
        "map_75": "AP75",
        "map_small": "APs",
        "map_medium": "APm",
        "map_large": "APl",
        "map_rare": "APr",
        "map_common": "APc",
        "map_frequent": "APf",
        "mar_300": "AR@300",
        "mar_small": "ARs@300",
        "mar_medium": "ARm@300",
        "mar_large": "ARl@300",
    }
    for ours, theirs in names.items():
        assert r[ours] == pytest.approx(e.results[theirs], abs=TOL), ours
    ap = _per_class_ap(e.eval["precision"][:, :, :, 0])
    np.testing.assert_allclose(r["map_per_class"], ap, atol=TOL)
    # APr/APc/APf are the group means of the per-class AP
    for g, sel in (
        ("rare", counts <= 10),
        ("common", (counts > 10) & (counts <= 100)),
        ("frequent", counts > 100),
    ):
        vals = ap[np.isin(classes, np.flatnonzero(sel))]
        vals = vals[vals > -1]
        assert r[f"map_{g}"] == pytest.approx(vals.mean() if vals.size else -1, abs=TOL)


def test_frequency_groups_coco_mode():
    preds, target = make_boxes(8)
    e = coco_oracle(preds, target)
    ap = _per_class_ap(e.eval["precision"][:, :, :, 0, 2])
    groups = {"rare": [0, 5], "common": [1, 2], "frequent": [3, 4, 99]}
    r = mean_average_precision(preds, target, frequency=groups)
    for g, ids in groups.items():
        vals = ap[np.isin(e.params.catIds, ids)]
        vals = vals[vals > -1]
        assert r[f"map_{g}"] == pytest.approx(vals.mean(), abs=TOL)
    r = mean_average_precision(preds, target, frequency={"rare": [0]})
    assert r["map_frequent"] == -1.0 and r["map_common"] == -1.0
    with pytest.raises(ValueError, match="frequency"):
        mean_average_precision(preds, target, frequency=[5, 5])
    with pytest.raises(ValueError, match="frequency"):
        MeanAveragePrecision(frequency={"often": [1]})


# --------------------------------------------------------------------------------------
# streaming


def test_chunked_merge_and_state_dict_equal_one_update():
    preds, target = make_boxes(9, n_images=40)
    one = MeanAveragePrecision(class_metrics=True)
    one.update(preds, target)
    want = one.compute()
    chunked = MeanAveragePrecision(class_metrics=True)
    for s in range(0, 40, 7):
        chunked.update(preds[s : s + 7], target[s : s + 7])
    a, b = MeanAveragePrecision(class_metrics=True), MeanAveragePrecision(class_metrics=True)
    a.update(preds[:13], target[:13])
    b.update(preds[13:], target[13:])
    a.merge(b)
    restored = MeanAveragePrecision(class_metrics=True)
    restored.load_state_dict(a.state_dict())
    for other in (chunked, a, restored):
        got = other.compute()
        for k, v in want.items():
            np.testing.assert_array_equal(got[k], v, err_msg=k)
    with pytest.raises(ValueError, match="other"):
        a.merge(MeanAveragePrecision(iou_type="segm"))
    with pytest.raises(ValueError, match="state"):
        MeanAveragePrecision(iou_thresholds=[0.5]).load_state_dict(a.state_dict())
    a.reset()
    assert a.compute()["map"] == -1


def test_state_is_smaller_than_the_boxes():
    preds, target = make_boxes(10, n_images=40, dets=40)
    for d in preds + target:  # a detector's float32 outputs
        for k in ("boxes", "scores"):
            if k in d:
                d[k] = np.asarray(d[k], np.float32)
    m = MeanAveragePrecision()
    m.update(preds, target)
    s = m.state_dict()
    per_det = sum(s[k].itemsize for k in ("scores", "labels", "levels")) + 12
    assert per_det == 21 and s["codes"].size == 12 * s["scores"].size
    state = sum(v.nbytes for k, v in m.state_dict().items() if k != "config")
    raw = sum(
        np.asarray(d[k]).astype(np.float32 if k != "labels" else np.int64).nbytes
        for d in preds + target
        for k in ("boxes", "scores", "labels")
        if k in d
    )
    assert state < raw


# --------------------------------------------------------------------------------------
# bad input


def _one(**over):
    p = {
        "boxes": np.array([[0.0, 0.0, 5.0, 5.0]]),
        "scores": np.array([0.5]),
        "labels": np.array([1]),
    }
    t = {"boxes": np.array([[0.0, 0.0, 5.0, 5.0]]), "labels": np.array([1])}
    for k, v in over.items():
        side, key = k.split("__")
        (p if side == "p" else t)[key] = v
    ok = (
        {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, int)},
        {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int)},
    )
    return [ok[0], p], [ok[1], t]


@pytest.mark.parametrize(
    "over, exc, match",
    [
        ({"p__boxes": np.zeros((1, 3))}, ValueError, r"preds\[1\]\['boxes'\].*\(N, 4\)"),
        (
            {"t__boxes": np.array([[0.0, 0.0, -1.0, 5.0]])},
            ValueError,
            r"target\[1\]\['boxes'\].*negative",
        ),
        ({"p__boxes": np.array([[0.0, np.nan, 1.0, 5.0]])}, ValueError, r"preds\[1\]\['boxes'\]"),
        ({"p__scores": np.array([np.nan])}, ValueError, r"preds\[1\]\['scores'\].*NaN"),
        ({"p__scores": np.array([0.5, 0.4])}, ValueError, r"preds\[1\].*differ in length"),
        ({"t__labels": np.array([1, 2])}, ValueError, r"target\[1\].*differ in length"),
        ({"p__labels": np.array([1.5])}, TypeError, r"preds\[1\]\['labels'\].*integer"),
        ({"t__labels": np.array(["a"])}, TypeError, r"target\[1\]\['labels'\]"),
        ({"t__iscrowd": np.array([0, 1])}, ValueError, r"target\[1\]\['iscrowd'\]"),
        ({"t__area": np.array([np.nan])}, ValueError, r"target\[1\]\['area'\]"),
    ],
)
def test_bad_boxes_name_argument_and_image(over, exc, match):
    preds, target = _one(**over)
    with pytest.raises(exc, match=match):
        mean_average_precision(preds, target)


def test_bad_arguments():
    preds, target = _one()
    with pytest.raises(ValueError, match="iou_type"):
        MeanAveragePrecision(iou_type="keypoints")
    with pytest.raises(ValueError, match="box_format"):
        MeanAveragePrecision(box_format="yxyx")
    with pytest.raises(ValueError, match="max_detection_thresholds"):
        MeanAveragePrecision(max_detection_thresholds=[1, 10])
    with pytest.raises(ValueError, match="iou_thresholds"):
        MeanAveragePrecision(iou_thresholds=[1.5])
    with pytest.raises(TypeError, match="class_metrics"):
        MeanAveragePrecision(class_metrics="yes")
    with pytest.raises(ValueError, match="preds"):
        mean_average_precision(preds, target[:1])
    with pytest.raises(ValueError, match=r"preds\[0\]: missing key 'scores'"):
        mean_average_precision([{"boxes": np.zeros((0, 4)), "labels": []}], target[:1])
    with pytest.raises(TypeError, match="preds"):
        mean_average_precision({"boxes": 1}, target)


def test_bad_masks_name_image():
    a = np.zeros((1, 8, 8), bool)
    b = np.zeros((1, 8, 9), bool)
    p = [{"masks": a, "scores": np.array([0.5]), "labels": np.array([0])}]
    with pytest.raises(ValueError, match=r"\[0\]\['masks'\].*8x9|8x8"):
        mean_average_precision(p, [{"masks": b, "labels": np.array([0])}], iou_type="segm")
    with pytest.raises(ValueError, match=r"preds\[0\]\['masks'\]"):
        mean_average_precision(
            [{**p[0], "masks": np.zeros((8, 8))}],
            [{"masks": a, "labels": np.array([0])}],
            iou_type="segm",
        )
    bad = {"size": [8, 8], "counts": [3, 4]}
    with pytest.raises(ValueError, match=r"target\[0\]\['masks'\]"):
        mean_average_precision(p, [{"masks": [bad], "labels": np.array([0])}], iou_type="segm")
