"""COCO and LVIS mean average precision for detection and instance segmentation.

``MeanAveragePrecision`` (streaming) and ``mean_average_precision`` (functional) take
torchmetrics' arguments, inputs and result keys and give pycocotools' ``COCOeval``
values (``federated=True``: lvis-api's ``LVISEval``), with the rare / common / frequent
split of long-tailed detection (LVIS, Gupta et al. 2019) as ``map_rare``,
``map_common`` and ``map_frequent``.

IoU (boxes, and COCO run-length masks as pycocotools' ``maskApi.c``), the greedy matching
per IoU threshold with crowd regions, area ranges and max-detection limits, and the
101-point interpolated precision all run in Rust, in parallel over images and classes,
with the GIL released.

**Inputs.** ``preds`` and ``target`` are lists with one dict per image (numpy arrays or
torch tensors): ``boxes`` ``(N, 4)`` in ``box_format`` (``iou_type="bbox"``) or ``masks``
(``iou_type="segm"``: an ``(N, H, W)`` bool array or a list of COCO RLE dicts
``{"size": [H, W], "counts": bytes | str | list}``), ``labels`` ``(N,)`` integer class
ids, and ``scores`` ``(N,)`` for predictions. Targets may carry ``iscrowd`` and
``area`` (an area <= 0 is computed from the box or mask, as torchmetrics does) and, for
``federated=True``, ``neg_category_ids`` and ``not_exhaustive_category_ids``.

**Results.** A dict with torchmetrics' keys: ``map``, ``map_50``, ``map_75``,
``map_small``, ``map_medium``, ``map_large``, ``mar_{m}`` for each max-detection limit
``m``, ``mar_small``, ``mar_medium``, ``mar_large``, ``map_per_class``,
``mar_{last m}_per_class`` and ``classes``; plus ``map_rare``, ``map_common``,
``map_frequent`` when ``frequency`` is given. Scalars are Python floats, per-class
values float64 arrays ordered as ``classes`` (int64, every class seen in preds or
target). Undefined entries are -1 (torchmetrics' and pycocotools' convention): a class
without ground truth, an area range without objects, ``map_50`` when 0.5 is not an IoU
threshold, per-class values without ``class_metrics=True`` (``[-1.0]``). As in
pycocotools, ``map`` and ``map_per_class`` read the column of the limit 100: they are
-1 when 100 is not among ``max_detection_thresholds``.

Differences from torchmetrics, all towards pycocotools: default thresholds are
pycocotools' float64 ``np.linspace`` values (torchmetrics rounds them to float32), and
in ``segm`` mode images without masks still count (their detections are false
positives), as for boxes.
"""

from __future__ import annotations

import sys
from typing import Any, Mapping, Sequence

import numpy as np

from longtail import _core
from longtail._checks import to_numpy
from longtail.distributed import all_gather_objects, world_size

__all__ = ["MeanAveragePrecision", "mean_average_precision"]

_AREAS = ("all", "small", "medium", "large")
_GROUPS = ("rare", "common", "frequent")
_STATE_KEYS = ("scores", "labels", "levels", "codes", "gt_labels", "gt_flags", "classes")
_EMPTY_STATE = {
    "scores": np.zeros(0, np.float32),
    "labels": np.zeros(0, np.int32),
    "levels": np.zeros(0, np.uint8),
    "codes": np.zeros(0, np.uint8),
    "gt_labels": np.zeros(0, np.int32),
    "gt_flags": np.zeros(0, np.uint8),
    "classes": np.zeros(0, np.int64),
}


# --------------------------------------------------------------------------------------
# arguments


def _thresholds(value: Any, name: str, default: np.ndarray) -> np.ndarray:
    if value is None:
        return default
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(f"{name}: expected a list of floats or None, got {type(value).__name__}")
    arr = np.asarray(to_numpy(value, name), dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name}: must not be empty")
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name}: values must lie in [0, 1], got {arr.tolist()}")
    return np.ascontiguousarray(arr)


def _max_dets(value: Any, federated: bool) -> list[int]:
    if value is None:
        return [300] if federated else [1, 10, 100]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(
            f"max_detection_thresholds: expected a list of ints or None, got {type(value).__name__}"
        )
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"max_detection_thresholds: expected positive ints, got {value!r}")
        out.append(int(v))
    want = 1 if federated else 3
    if len(out) != want:
        raise ValueError(
            f"max_detection_thresholds: expected {want} value(s) "
            f"({'one per-image limit for federated evaluation' if federated else 'as COCO'}),"
            f" got {len(out)}"
        )
    return sorted(out)


def _frequency_groups(frequency: Any) -> Any:
    """None, a {group: ids} dict (normalised), or an int64 per-class count array."""
    if frequency is None:
        return None
    if isinstance(frequency, Mapping):
        bad = set(frequency) - set(_GROUPS)
        if bad:
            raise ValueError(
                f"frequency: unknown group(s) {sorted(bad)}; expected keys among {_GROUPS}"
            )
        out = {}
        for g in _GROUPS:
            ids = np.asarray(to_numpy(frequency.get(g, []), "frequency"))
            if ids.size and ids.dtype.kind not in "iu":
                raise TypeError(f"frequency: class ids of {g!r} must be integers")
            out[g] = np.unique(ids.astype(np.int64).reshape(-1))
        return out
    counts = np.asarray(to_numpy(frequency, "frequency"))
    if counts.ndim != 1 or counts.size == 0 or counts.dtype.kind not in "iuf":
        raise ValueError(
            "frequency: expected {'rare'|'common'|'frequent': class ids} or a 1-D array of "
            "per-class training image counts"
        )
    if counts.dtype.kind == "f" and (
        not np.all(np.isfinite(counts)) or np.any(counts != np.round(counts))
    ):
        raise ValueError("frequency: training image counts must be whole numbers")
    if counts.min() < 0:
        raise ValueError("frequency: training image counts must be >= 0")
    return counts.astype(np.int64)


# --------------------------------------------------------------------------------------
# inputs


def _np(x: Any, name: str) -> np.ndarray:
    if type(x) is np.ndarray:
        return x
    if type(x).__name__ == "Tensor":
        try:
            return x.numpy()  # a CPU tensor without grad: no copy, no checks
        except (RuntimeError, TypeError):
            pass  # CUDA, requires_grad, half precision: the general path
    return to_numpy(x, name)


def _get(d: Any, key: str, name: str) -> Any:
    if type(d) is dict and key in d:
        return d[key]
    if not isinstance(d, Mapping):
        raise TypeError(f"{name}: expected a dict per image, got {type(d).__name__}")
    try:
        return d[key]
    except KeyError:
        raise ValueError(f"{name}: missing key {key!r}") from None


def _masks(x: Any, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenated RLE run lengths, runs per mask and ``(h, w)`` per mask of one image's
    masks (an ``(N, H, W)`` bool array/tensor or a list of COCO RLE dicts). Run sums are
    checked against ``h * w`` by the kernel."""
    if isinstance(x, (list, tuple)) and (len(x) == 0 or isinstance(x[0], Mapping)):
        strings, hw = [], np.zeros((len(x), 2), np.int64)
        for k, m in enumerate(x):
            if not isinstance(m, Mapping) or "size" not in m or "counts" not in m:
                raise TypeError(f"{name}: mask {k} is not an RLE dict with 'size' and 'counts'")
            size = m["size"]
            if len(size) != 2:
                raise ValueError(f"{name}: mask {k} has size {size!r}, expected [height, width]")
            hw[k] = size
            counts = m["counts"]
            if isinstance(counts, str):
                counts = counts.encode("ascii")
            if not isinstance(counts, bytes):
                runs = np.asarray(counts)
                if runs.ndim != 1 or (
                    runs.size and (runs.dtype.kind not in "iu" or runs.min() < 0)
                ):
                    raise ValueError(
                        f"{name}: mask {k} 'counts' must be an RLE string or a list of run lengths"
                    )
                counts = _core.rle_to_string(np.ascontiguousarray(runs, dtype=np.uint32))
            strings.append(counts)
        if hw.size and (hw.min() < 0 or hw.max() >= 2**32):
            raise ValueError(f"{name}: bad mask size")
        try:
            cnts, off = _core.rle_from_strings(strings)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
        return cnts, np.diff(off), hw.astype(np.uint32)
    arr = _np(x, name)
    if arr.ndim != 3:
        raise ValueError(
            f"{name}: expected an (N, H, W) bool array or a list of RLE dicts, got shape "
            f"{tuple(arr.shape)}"
        )
    n, h, w = arr.shape
    if arr.size == 0:
        return (
            np.zeros(0, np.uint32),
            np.zeros(0, np.int64),
            np.tile([h, w], (n, 1)).astype(np.uint32),
        )
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    elif arr.dtype.kind in "iu":
        arr = (arr != 0).view(np.uint8)
    else:
        raise TypeError(f"{name}: expected bool masks, got dtype {arr.dtype}")
    cnts, off = _core.rle_encode(np.ascontiguousarray(arr))
    return cnts, np.diff(off), np.tile(np.array([h, w], np.uint32), (n, 1))


def _offsets(counts: Any) -> np.ndarray:
    out = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _image_of(offsets: np.ndarray, row: int) -> int:
    return int(np.searchsorted(offsets, row, side="right") - 1)


def _column(values: list, side: str, key: str, width: int | None) -> tuple[np.ndarray, list]:
    """One key of every image dict, concatenated: ``(array, rows per image)``.

    ``width``: None for 1-D values, 4 for boxes. torch tensors are concatenated with one
    ``torch.cat`` (then one ``.numpy()``); anything else goes through numpy. An empty
    value of any shape counts as zero rows.
    """
    torch = sys.modules.get("torch")
    ndim = 1 if width is None else 2
    want = "(N,)" if width is None else f"(N, {width})"
    all_torch = torch is not None and all(type(v) is torch.Tensor for v in values)
    items = values if all_torch else [_np(v, f"{side}[{i}][{key!r}]") for i, v in enumerate(values)]
    parts, rows = [], []
    for i, v in enumerate(items):
        shape = tuple(v.shape)
        if len(shape) == ndim and (width is None or shape[1] == width):
            rows.append(shape[0])
            if shape[0]:
                parts.append(v)
        elif 0 in shape:
            rows.append(0)
        else:
            raise ValueError(f"{side}[{i}][{key!r}]: expected shape {want}, got {shape}")
    if not parts:
        return np.zeros((0,) if width is None else (0, width), np.float64), rows
    if all_torch:
        try:
            t = torch.cat(parts).detach()
        except RuntimeError:  # tensors on different devices: one by one
            parts = [_np(v, f"{side}[{i}][{key!r}]") for i, v in enumerate(parts)]
        else:
            if t.dtype in (torch.float16, torch.bfloat16):
                t = t.float()
            return t.cpu().numpy(), rows
    return np.concatenate(parts), rows


def _check_kind(arr: np.ndarray, rows: list, side: str, key: str, kinds: str) -> None:
    if arr.size and arr.dtype.kind not in kinds:
        i = next(i for i, r in enumerate(rows) if r)
        what = "integer class ids" if kinds == "iub" else "numbers"
        raise TypeError(f"{side}[{i}][{key!r}]: expected {what}, got dtype {arr.dtype}")


def _integer_labels(arr: np.ndarray, rows: list, side: str, key: str) -> np.ndarray:
    if arr.dtype.kind == "f" and arr.size:
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i = _image_of(_offsets(rows), int(np.flatnonzero(bad)[0]))
            raise TypeError(
                f"{side}[{i}][{key!r}]: class ids must be integers, got {arr.dtype}"
                " values with fractions or NaN"
            )
    else:
        _check_kind(arr, rows, side, key, "iub")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _same_rows(side: str, names: tuple[str, ...], *counts: list) -> None:
    first = counts[0]
    for other in counts[1:]:
        if other != first:
            i = next(i for i, (a, b) in enumerate(zip(first, other)) if a != b)
            got = ", ".join(f"{n} {c[i]}" for n, c in zip(names, counts))
            raise ValueError(f"{side}[{i}]: {'/'.join(names)} differ in length ({got})")


class _Batch:
    """Flat arrays of one ``update`` call."""

    def __init__(self, preds: Any, target: Any, iou_type: str, federated: bool) -> None:
        for name, v in (("preds", preds), ("target", target)):
            if isinstance(v, Mapping) or not isinstance(v, Sequence):
                raise TypeError(
                    f"{name}: expected a list with one dict per image, got {type(v).__name__}"
                )
        if len(preds) != len(target):
            raise ValueError(f"preds: has {len(preds)} images but target has {len(target)}")
        geo = "boxes" if iou_type == "bbox" else "masks"
        n_img = len(preds)

        def col(items: Sequence, side: str, key: str) -> list:
            return [_get(d, key, f"{side}[{i}]") for i, d in enumerate(items)]

        scores, s_rows = _column(col(preds, "preds", "scores"), "preds", "scores", None)
        self.scores_f32 = scores.dtype == np.float32
        _check_kind(scores, s_rows, "preds", "scores", "fiub")
        d_labels, dl_rows = _column(col(preds, "preds", "labels"), "preds", "labels", None)
        d_labels = _integer_labels(d_labels, dl_rows, "preds", "labels")
        g_labels, gl_rows = _column(col(target, "target", "labels"), "target", "labels", None)
        g_labels = _integer_labels(g_labels, gl_rows, "target", "labels")
        if geo == "boxes":
            det_boxes, db_rows = _column(col(preds, "preds", "boxes"), "preds", "boxes", 4)
            gt_boxes, gb_rows = _column(col(target, "target", "boxes"), "target", "boxes", 4)
            _check_kind(det_boxes, db_rows, "preds", "boxes", "fiu")
            _check_kind(gt_boxes, gb_rows, "target", "boxes", "fiu")
            dt = np.float32 if det_boxes.dtype == gt_boxes.dtype == np.float32 else np.float64
            self.det_boxes = np.ascontiguousarray(det_boxes, dtype=dt)
            self.gt_boxes = np.ascontiguousarray(gt_boxes, dtype=dt)
        else:
            parts = {"preds": ([], [], []), "target": ([], [], [])}
            db_rows, gb_rows = [], []
            for side, items, rows in (("preds", preds, db_rows), ("target", target, gb_rows)):
                runs, lens, hw = parts[side]
                for i, d in enumerate(items):
                    r, ln, h = _masks(_get(d, "masks", f"{side}[{i}]"), f"{side}[{i}]['masks']")
                    runs.append(r)
                    lens.append(ln)
                    hw.append(h)
                    rows.append(ln.size)
            for side, attr in (("preds", "det"), ("target", "gt")):
                runs, lens, hw = parts[side]
                setattr(self, f"{attr}_runs", _cat(runs, np.uint32))
                setattr(self, f"{attr}_run_offsets", _offsets(_cat(lens, np.int64)))
                setattr(self, f"{attr}_hw", _cat(hw, np.uint32).reshape(-1))
        _same_rows("preds", (geo, "scores", "labels"), db_rows, s_rows, dl_rows)
        _same_rows("target", (geo, "labels"), gb_rows, gl_rows)

        extra = {}
        for key in ("iscrowd", "area"):
            vals = [d.get(key) if isinstance(d, Mapping) else None for d in target]
            if all(v is None for v in vals):
                extra[key] = np.zeros(g_labels.size, np.float64)
                continue
            vals = [np.zeros(n) if v is None else v for v, n in zip(vals, gb_rows)]
            arr, rows = _column(vals, "target", key, None)
            _check_kind(arr, rows, "target", key, "fiub")
            if rows != gb_rows:
                i = next(i for i, (a, b) in enumerate(zip(rows, gb_rows)) if a != b)
                raise ValueError(
                    f"target[{i}][{key!r}]: has {rows[i]} values but there are {gb_rows[i]} {geo}"
                )
            extra[key] = np.ascontiguousarray(arr, dtype=np.float64)
        if not np.all(np.isfinite(extra["area"])):
            r = int(np.flatnonzero(~np.isfinite(extra["area"]))[0])
            raise ValueError(
                f"target[{_image_of(_offsets(gb_rows), r)}]['area']: is NaN or infinite"
            )
        fed = None
        if federated:
            lists = []
            for key in ("neg_category_ids", "not_exhaustive_category_ids"):
                vals = [np.zeros(0, np.int64) if d.get(key) is None else d.get(key) for d in target]
                arr, rows = _column(vals, "target", key, None)
                lists += [_offsets(rows), _integer_labels(arr, rows, "target", key)]
            fed = tuple(lists)
        self.n_images = n_img
        self.images = {
            "det_offsets": _offsets(s_rows),
            "det_scores": np.ascontiguousarray(scores, dtype=np.float64),
            "det_labels": d_labels,
            "gt_offsets": _offsets(gl_rows),
            "gt_labels": g_labels,
            "gt_crowd": (extra["iscrowd"] != 0).astype(np.uint8),
            "gt_area": extra["area"],
            "federated": fed,
        }


def _narrow(labels: np.ndarray) -> np.ndarray:
    """int32 class ids when they fit (half the state to keep and to gather), else int64."""
    if labels.size and (labels.min() < -(2**31) or labels.max() >= 2**31):
        return labels
    return labels.astype(np.int32)


def _cat(parts: list, dtype: Any) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype)
    return np.ascontiguousarray(np.concatenate(parts), dtype=dtype)


# --------------------------------------------------------------------------------------
# the metric


class MeanAveragePrecision:
    """COCO (pycocotools) / LVIS (lvis-api) mean average precision, streaming.

    Arguments, inputs and result keys are torchmetrics' ``MeanAveragePrecision``
    (see the module docstring); values equal pycocotools' ``COCOeval`` (``bbox`` and
    ``segm``) to 1e-6, or lvis-api's ``LVISEval`` with ``federated=True``. Average
    precision after Everingham et al. 2010 (PASCAL VOC) with COCO's 101-point
    interpolation (Lin et al. 2014); rare / common / frequent AP after LVIS (Gupta et al.
    2019).

    **State and DDP.** ``update`` matches each image at once and keeps only the outcome:
    per kept detection its score (float32 when the scores were float32, else float64),
    class (int32 when the ids fit), max-detection level (uint8) and 2 bits per (area
    range, IoU threshold) -- 21 bytes with COCO's 4 x 10, against 28 for a float32 box,
    score and int64 label -- and per ground truth its class and a byte of area-range
    flags (5 bytes, against 24). Boxes and masks are never stored. ``sync(group=None)``
    all-gathers exactly these arrays (one
    ``all_gather_object``) and concatenates them in rank order, so the result equals one
    metric fed rank 0's images, then rank 1's, ... (the order matters only for detections
    of exactly equal score, which keep image order as in pycocotools).

    Parameters
    ----------
    iou_type : {"bbox", "segm"}, default "bbox"
        Match boxes or masks (RLE dicts or bool arrays).
    box_format : {"xyxy", "xywh", "cxcywh"}, default "xyxy"
        Box layout (``iou_type="bbox"``).
    iou_thresholds : list of float, optional
        IoU thresholds in [0, 1]; None gives pycocotools' ``np.linspace(0.5, 0.95, 10)``.
    rec_thresholds : list of float, optional
        Recall points in [0, 1]; None gives ``np.linspace(0, 1, 101)``.
    max_detection_thresholds : list of int, optional
        Three limits (COCO, default ``[1, 10, 100]``: the top detections kept per image
        *and class*), or one with ``federated=True`` (default ``[300]``: the top
        detections kept per image over all classes, as ``LVISResults``).
    class_metrics : bool, default False
        Fill ``map_per_class`` and ``mar_{m}_per_class``.
    frequency : dict or array-like of int, optional
        ``{"rare" | "common" | "frequent": class ids}`` or a 1-D array of per-class
        training image counts indexed by class id (LVIS: rare <= 10, common 11-100,
        frequent > 100); adds ``map_rare``, ``map_common``, ``map_frequent``, the mean AP
        of the group's classes that have ground truth (-1 for an empty group).
    federated : bool, default False
        Evaluate as LVIS: detections of a class neither present in an image's ground
        truth nor in its ``neg_category_ids`` are dropped, unmatched detections of its
        ``not_exhaustive_category_ids`` are ignored, and ``iscrowd`` is not used.

    Raises
    ------
    ValueError
        If an option is out of range (unknown ``iou_type`` or ``box_format``, empty or
        out-of-[0, 1] thresholds, bad ``max_detection_thresholds`` or ``frequency``); from
        ``update``, if an image dict lacks a key, arrays have the wrong shape or differ in
        length, or ``preds`` and ``target`` have different numbers of images; from
        ``merge`` / ``load_state_dict``, if the configurations differ or a state key is
        missing; from ``compute``, if ``frequency`` counts do not cover a seen class.
    TypeError
        If a threshold list, ``class_metrics``/``federated`` or a ``frequency`` class id
        has the wrong type, or an image is not a dict / an array has the wrong dtype.

    Notes
    -----
    Main methods: ``update(preds, target)`` returns None; ``compute()`` returns the result
    dict (``map``, ``map_50``, ``map_75``, ``map_small`` ... ``mar_100``, ``classes``, and
    the per-class / LVIS-group keys asked for); ``precision_recall()`` returns
    ``(precision, recall, classes)``; ``merge(other)`` and ``sync(group)`` return the
    metric itself; ``state_dict()`` returns a dict of numpy arrays and the configuration.

    Examples
    --------
    >>> import numpy as np
    >>> preds = [dict(boxes=np.array([[258.0, 41.0, 606.0, 285.0]]),
    ...               scores=np.array([0.536]), labels=np.array([0]))]
    >>> target = [dict(boxes=np.array([[214.0, 41.0, 562.0, 285.0]]), labels=np.array([0]))]
    >>> metric = MeanAveragePrecision(iou_type="bbox")
    >>> metric.update(preds, target)
    >>> result = metric.compute()
    >>> round(result["map"], 6), round(result["map_50"], 6), result["map_small"]
    (0.6, 1.0, -1.0)
    >>> result["classes"]
    array([0])
    """

    def __init__(
        self,
        *,
        iou_type: str = "bbox",
        box_format: str = "xyxy",
        iou_thresholds: Any = None,
        rec_thresholds: Any = None,
        max_detection_thresholds: Any = None,
        class_metrics: bool = False,
        frequency: Any = None,
        federated: bool = False,
    ) -> None:
        if iou_type not in ("bbox", "segm"):
            raise ValueError(f"iou_type: expected 'bbox' or 'segm', got {iou_type!r}")
        if box_format not in ("xyxy", "xywh", "cxcywh"):
            raise ValueError(f"box_format: expected 'xyxy', 'xywh' or 'cxcywh', got {box_format!r}")
        for name, v in (("class_metrics", class_metrics), ("federated", federated)):
            if not isinstance(v, (bool, np.bool_)):
                raise TypeError(f"{name}: expected a bool, got {type(v).__name__}")
        self.iou_type = iou_type
        self.box_format = box_format
        self.federated = bool(federated)
        self.iou_thresholds = _thresholds(
            iou_thresholds, "iou_thresholds", np.linspace(0.5, 0.95, 10)
        )
        self.rec_thresholds = _thresholds(
            rec_thresholds, "rec_thresholds", np.linspace(0.0, 1.0, 101)
        )
        self.max_detection_thresholds = _max_dets(max_detection_thresholds, self.federated)
        self.class_metrics = bool(class_metrics)
        self.frequency = _frequency_groups(frequency)
        self.reset()

    # --- state ------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        return {
            "iou_type": self.iou_type,
            "iou_thresholds": self.iou_thresholds.tolist(),
            "max_detection_thresholds": list(self.max_detection_thresholds),
            "federated": self.federated,
        }

    def reset(self) -> None:
        """Forget every image seen."""
        self._chunks: list[dict[str, np.ndarray]] = []
        self._local: list[dict[str, np.ndarray]] | None = None  # kept aside by sync()

    def _unsync(self) -> None:
        if self._local is not None:
            self._chunks, self._local = self._local, None

    def _state(self) -> dict[str, np.ndarray]:
        if len(self._chunks) != 1:
            if not self._chunks:
                return {k: v.copy() for k, v in _EMPTY_STATE.items()}
            state = {
                k: np.concatenate([c[k] for c in self._chunks])
                for k in _STATE_KEYS
                if k != "classes"
            }
            state["classes"] = np.unique(np.concatenate([c["classes"] for c in self._chunks]))
            self._chunks = [state]
        return self._chunks[0]

    def update(
        self, preds: Sequence[Mapping[str, Any]], target: Sequence[Mapping[str, Any]]
    ) -> None:
        """Match one batch of images (lists of per-image dicts) and keep the outcome."""
        self._unsync()
        b = _Batch(preds, target, self.iou_type, self.federated)
        iou = self.iou_thresholds.tolist()
        if self.iou_type == "bbox":
            out = _core.detection_evaluate_boxes(
                b.images,
                b.det_boxes,
                b.gt_boxes,
                self.box_format,
                iou,
                self.max_detection_thresholds,
            )
        else:
            out = _core.detection_evaluate_masks(
                b.images,
                b.det_runs,
                b.det_run_offsets,
                b.det_hw,
                b.gt_runs,
                b.gt_run_offsets,
                b.gt_hw,
                iou,
                self.max_detection_thresholds,
            )
        scores, labels, levels, codes, gt_flags = out
        seen = np.unique(np.concatenate([b.images["det_labels"], b.images["gt_labels"]]))
        if b.scores_f32:
            scores = scores.astype(np.float32)  # exact: they were float32 scores
        self._chunks.append(
            {
                "scores": scores,
                "labels": _narrow(labels),
                "levels": levels,
                "codes": codes,
                "gt_labels": _narrow(b.images["gt_labels"]),
                "gt_flags": gt_flags,
                "classes": seen,
            }
        )

    def merge(self, other: "MeanAveragePrecision") -> "MeanAveragePrecision":
        """Append ``other``'s images after this metric's."""
        if not isinstance(other, MeanAveragePrecision) or other._config() != self._config():
            raise ValueError(
                "other: can only merge a MeanAveragePrecision with the same iou_type, "
                "iou_thresholds, max_detection_thresholds and federated"
            )
        self._unsync()
        theirs = other._local if other._local is not None else other._chunks
        self._chunks.extend({k: v.copy() for k, v in c.items()} for c in theirs)
        return self

    def sync(self, group: Any = None) -> "MeanAveragePrecision":
        """Hold the images of all ranks of ``group``, in rank order (one all-gather of the
        compact per-detection outcomes, see the class docstring). No-op without a process
        group. A later ``update`` or ``sync`` starts again from this rank's own images."""
        self._unsync()
        if world_size(group) == 1:
            return self
        state = self._state()
        gathered = all_gather_objects(state, group=group)
        self._local = [state]
        self._chunks = [dict(s) for s in gathered]
        return self

    def state_dict(self) -> dict[str, Any]:
        """The state (global after ``sync()``) as numpy arrays plus the configuration."""
        out: dict[str, Any] = {k: v.copy() for k, v in self._state().items()}
        out["config"] = self._config()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a ``state_dict()`` of a metric with the same configuration."""
        if state.get("config") != self._config():
            raise ValueError(
                f"state: was saved with {state.get('config')}, this metric has {self._config()}"
            )
        chunk = {}
        for k in _STATE_KEYS:
            if k not in state:
                raise ValueError(f"state: missing {k!r}")
            arr = np.asarray(state[k])
            keep = {"scores": "f", "labels": "i", "gt_labels": "i", "classes": "i"}.get(k)
            if keep and arr.dtype.kind == keep and arr.dtype.itemsize >= 4:
                chunk[k] = arr.copy()
            else:
                chunk[k] = np.array(arr, dtype=_EMPTY_STATE[k].dtype, copy=True)
        self.reset()
        self._chunks = [chunk]

    # --- result -----------------------------------------------------------------------

    def precision_recall(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(precision (T, R, K, A, M), recall (T, K, A, M), classes)``, as
        ``COCOeval.eval["precision"]`` / ``["recall"]`` (-1 where undefined)."""
        s = self._state()
        classes = s["classes"]
        t, r, m = (
            len(self.iou_thresholds),
            len(self.rec_thresholds),
            len(self.max_detection_thresholds),
        )
        prec, rec = _core.detection_accumulate(
            np.ascontiguousarray(s["scores"], dtype=np.float64),
            np.ascontiguousarray(s["labels"], dtype=np.int64),
            s["levels"],
            s["codes"],
            np.ascontiguousarray(s["gt_labels"], dtype=np.int64),
            s["gt_flags"],
            classes,
            t,
            self.rec_thresholds.tolist(),
            m,
        )
        k = classes.size
        return prec.reshape(t, r, k, 4, m), rec.reshape(t, k, 4, m), classes

    def compute(self) -> dict[str, Any]:
        """The result dict (keys and -1 convention as torchmetrics, values as pycocotools)."""
        prec, rec, classes = self.precision_recall()
        return _summarize(self, prec, rec, classes)


def _mean(s: np.ndarray) -> float:
    s = s[s > -1]
    return float(np.mean(s)) if s.size else -1.0


def _summarize(
    cfg: MeanAveragePrecision, prec: np.ndarray, rec: np.ndarray, classes: np.ndarray
) -> dict[str, Any]:
    md = cfg.max_detection_thresholds
    iou = cfg.iou_thresholds

    def m_at(value: int) -> list[int]:
        return [i for i, v in enumerate(md) if v == value]

    def ap(
        t: float | None = None, area: int = 0, m: list[int] | None = None, k: Any = None
    ) -> float:
        s = prec
        if t is not None:
            s = s[np.flatnonzero(iou == t)]
        if k is not None:
            s = s[:, :, k]
        return _mean(s[:, :, :, area][..., m])

    def ar(area: int = 0, m: list[int] | None = None) -> float:
        return _mean(rec[:, :, area][..., m])

    last = [len(md) - 1]
    if cfg.federated:
        m_ap, m_ar, m_sum = [0], [0], [0]
    else:
        # pycocotools' summarize: AP at maxDets == 100, the rest at maxDets[2].
        m_ap, m_ar, m_sum = m_at(100), [2], [2]
    out: dict[str, Any] = {
        "map": ap(m=m_ap),
        "map_50": ap(0.5, m=m_sum),
        "map_75": ap(0.75, m=m_sum),
        "map_small": ap(area=1, m=m_sum),
        "map_medium": ap(area=2, m=m_sum),
        "map_large": ap(area=3, m=m_sum),
    }
    if cfg.federated:
        out[f"mar_{md[0]}"] = ar(m=[0])
    else:
        for i, v in enumerate(md):
            out[f"mar_{v}"] = ar(m=[i])
    out["mar_small"] = ar(1, m_ar)
    out["mar_medium"] = ar(2, m_ar)
    out["mar_large"] = ar(3, m_ar)
    if cfg.class_metrics:
        s = prec[:, :, :, 0][..., m_ap]  # (T, R, K, len)
        r = rec[:, :, 0][..., last]  # (T, K, 1)
        k_n = classes.size
        out["map_per_class"] = np.array([_mean(s[:, :, k]) for k in range(k_n)], np.float64)
        out[f"mar_{md[-1]}_per_class"] = np.array([_mean(r[:, k]) for k in range(k_n)], np.float64)
    else:
        out["map_per_class"] = np.array([-1.0])
        out[f"mar_{md[-1]}_per_class"] = np.array([-1.0])
    if cfg.frequency is not None:
        for g, ks in _group_slots(cfg.frequency, classes).items():
            out[f"map_{g}"] = ap(m=m_ap, k=ks) if ks.size else -1.0
    out["classes"] = classes.copy()
    return out


def _group_slots(frequency: Any, classes: np.ndarray) -> dict[str, np.ndarray]:
    """Positions in ``classes`` of the rare / common / frequent classes."""
    if isinstance(frequency, dict):
        return {g: np.flatnonzero(np.isin(classes, frequency[g])) for g in _GROUPS}
    counts = frequency
    if classes.size and (classes.min() < 0 or classes.max() >= counts.size):
        bad = classes[(classes < 0) | (classes >= counts.size)][0]
        raise ValueError(
            f"frequency: has training image counts for classes 0..{counts.size - 1} but "
            f"class {int(bad)} was seen"
        )
    c = counts[classes] if classes.size else np.zeros(0, np.int64)
    return {
        "rare": np.flatnonzero(c <= 10),
        "common": np.flatnonzero((c > 10) & (c <= 100)),
        "frequent": np.flatnonzero(c > 100),
    }


def mean_average_precision(
    preds: Sequence[Mapping[str, Any]],
    target: Sequence[Mapping[str, Any]],
    **kwargs: Any,
) -> dict[str, Any]:
    """COCO / LVIS mean average precision of one set of images (``MeanAveragePrecision``'s
    keywords and result).

    Everingham et al. 2010 (AP), Lin et al. 2014 (COCO), Gupta et al. 2019 (LVIS).

    Parameters
    ----------
    preds : sequence of dict
        Per image: ``boxes`` (or ``masks``), ``scores``, ``labels``.
    target : sequence of dict
        Per image: ``boxes`` (or ``masks``), ``labels``, optionally ``iscrowd``/``area``
        (and LVIS's ``neg_category_ids``, ``not_exhaustive_category_ids``).
    **kwargs
        Keywords of :class:`MeanAveragePrecision` (``iou_type``, ``box_format``,
        ``iou_thresholds``, ``rec_thresholds``, ``max_detection_thresholds``,
        ``class_metrics``, ``frequency``, ``federated``).

    Returns
    -------
    dict[str, Any]
        :meth:`MeanAveragePrecision.compute`'s result.

    Raises
    ------
    ValueError
        As :class:`MeanAveragePrecision` and its ``update`` (bad options, malformed images,
        mismatched numbers of images).
    TypeError
        As :class:`MeanAveragePrecision` (wrong types of options or image fields).

    Examples
    --------
    >>> import numpy as np
    >>> preds = [dict(boxes=np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]]),
    ...               scores=np.array([0.9, 0.8]), labels=np.array([1, 2]))]
    >>> target = [dict(boxes=np.array([[0.0, 0.0, 10.0, 10.0]]), labels=np.array([1]))]
    >>> r = mean_average_precision(preds, target, class_metrics=True,
    ...                            frequency={"rare": [1], "frequent": [2]})
    >>> round(r["map"], 6), r["map_per_class"].round(6).tolist(), r["map_frequent"]
    (1.0, [1.0, -1.0], -1.0)
    """
    metric = MeanAveragePrecision(**kwargs)
    metric.update(preds, target)
    return metric.compute()
