"""Long-tail specific metrics: many/medium/few-shot accuracy, calibration error, Frechet
distance, mean IoU and the separated kappa (SeK) of semantic change detection.

Each metric is split torchmetrics-style into an ``_update`` helper that turns a batch into
additive sufficient statistics and a ``_compute`` helper that turns statistics into the
score; the streaming accumulators in :mod:`longtail.metrics.streaming` call the same
helpers, so the functional and the streaming results agree by construction.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from longtail import _core
from longtail._checks import (
    as_1d_labels,
    as_float_array,
    as_scores,
    check_positive_int,
    score_min_max,
    to_numpy,
    widen_half,
)

__all__ = [
    "shot_accuracy",
    "expected_calibration_error",
    "frechet_distance",
    "mean_iou",
    "separated_kappa",
]

_NORMS = ("l1", "l2", "max")


# --------------------------------------------------------------------------------------
# confusion counts (shared by shot accuracy, mIoU, SeK and the streaming accumulators)


def _labels_nd(x: Any, name: str) -> np.ndarray:
    """Integer class ids of any shape (segmentation maps), flattened to int64."""
    arr = to_numpy(x, name)
    if arr.ndim == 0:
        raise ValueError(f"{name}: expected an array of class ids, got a scalar")
    return as_1d_labels(arr.reshape(-1), name)


def _confusion_update(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    num_classes: int,
    cm: np.ndarray | None = None,
    names: tuple[str, str] = ("y_true", "y_pred"),
) -> np.ndarray:
    """Add the (true, predicted) pairs to the flat int64 ``num_classes**2`` counts ``cm``."""
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"{names[1]}: has {y_pred.shape[0]} items but {names[0]} has {y_true.shape[0]}"
        )
    for arr, name in zip((y_true, y_pred), names):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            bad = arr.min() if arr.min() < 0 else arr.max()
            raise ValueError(f"{name}: class id {bad} is outside [0, {num_classes})")
    if cm is None:
        cm = np.zeros(num_classes * num_classes, dtype=np.int64)
    _core.confusion_counts(y_true, y_pred, cm, num_classes)
    return cm


# --------------------------------------------------------------------------------------
# shot accuracy (Liu et al. 2019, OLTR)


def _shot_groups(train_counts: Any, many: int, few: int) -> tuple[np.ndarray, np.ndarray]:
    """Checked training counts and each class's group: 0 many, 1 medium, 2 few."""
    counts = as_1d_labels(train_counts, "train_counts")
    if np.any(counts < 0):
        raise ValueError("train_counts: must be >= 0")
    if few > many:
        raise ValueError(f"few: must be <= many, got few={few} > many={many}")
    groups = np.where(counts > many, 0, np.where(counts < few, 2, 1))
    return counts, groups


def _shot_compute(correct: np.ndarray, total: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Group means of per-class recall; classes without test examples are left out."""
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(total > 0, correct / np.maximum(total, 1), np.nan)
    out = {}
    for name, mask in (
        ("many", groups == 0),
        ("medium", groups == 1),
        ("few", groups == 2),
        ("overall", np.ones_like(groups, dtype=bool)),
    ):
        vals = recall[mask & (total > 0)]
        out[name] = float(vals.mean()) if vals.size else math.nan
    return out


def shot_accuracy(
    y_true: Any, y_pred: Any, train_counts: Any, *, many: int = 100, few: int = 20
) -> dict[str, float]:
    """Accuracy on many-, medium- and few-shot classes (Liu et al. 2019, OLTR).

    Classes are grouped by their number of *training* examples ``n``: many-shot when
    ``n > many``, few-shot when ``n < few``, medium-shot otherwise. Each group's score is
    the mean per-class recall of its classes on the test data; ``overall`` is the mean
    per-class recall of all classes (the usual top-1 accuracy on a balanced test set).
    A group without classes (or whose classes have no test examples) is NaN.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        True and predicted class ids in ``[0, len(train_counts))``.
    train_counts : array-like of int, shape (n_classes,)
        Training examples per class.
    many : int, default 100
        Classes with more than ``many`` training examples are many-shot.
    few : int, default 20
        Classes with fewer than ``few`` training examples are few-shot.

    Returns
    -------
    dict[str, float]
        Keys ``many``, ``medium``, ``few`` and ``overall``.

    Raises
    ------
    ValueError
        If a count is negative, ``few > many``, the lengths differ or a class id is outside
        ``[0, len(train_counts))``.

    References
    ----------
    Liu, Z. et al. (2019). Large-scale long-tailed recognition in an open world. CVPR.

    Examples
    --------
    >>> r = shot_accuracy([0, 0, 1, 2], [0, 1, 1, 0], train_counts=[500, 50, 5])
    >>> r["many"], r["medium"], r["few"], r["overall"]
    (0.5, 1.0, 0.0, 0.5)
    """
    many = check_positive_int(many, "many", minimum=0)
    few = check_positive_int(few, "few", minimum=0)
    counts, groups = _shot_groups(train_counts, many, few)
    c = counts.shape[0]
    t = as_1d_labels(y_true, "y_true")
    p = as_1d_labels(y_pred, "y_pred")
    cm = _confusion_update(t, p, c).reshape(c, c)
    return _shot_compute(np.diag(cm).astype(np.float64), cm.sum(1).astype(np.float64), groups)


# --------------------------------------------------------------------------------------
# calibration error (Guo et al. 2017; classwise: Kumar et al. 2019, Nixon et al. 2019)


def _check_norm(norm: str) -> str:
    if norm not in _NORMS:
        raise ValueError(f"norm: must be one of {_NORMS}, got {norm!r}")
    return norm


def _calibration_inputs(y_true: Any, probs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(labels, probs)``; 1-D probs are binary P(y = 1) and become (n, 2)."""
    # float32 stays float32 (no float64 copy of the (n, C) matrix); NaN checked by blocks.
    return _calibration_checked(y_true, as_scores(probs, "probs", ndim=(1, 2)))


def _calibration_checked(y_true: Any, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_calibration_inputs` on probs already read by ``as_scores`` (float16 and the
    bfloat16 view of ``half=True`` included: :func:`_calibration_update` widens an (n, C)
    half matrix a block of rows at a time)."""
    t = as_1d_labels(y_true, "y_true")
    if p.shape[0] != t.shape[0]:
        raise ValueError(f"probs: has {p.shape[0]} rows but y_true has {t.shape[0]} items")
    lo, hi = score_min_max(p)
    if lo < 0 or hi > 1:
        raise ValueError("probs: must lie in [0, 1]")
    if p.ndim == 1:
        p = widen_half(p)  # O(n)
        p = np.stack([1.0 - p, p], axis=1)
    c = p.shape[1]
    if t.min() < 0 or t.max() >= c:
        raise ValueError(f"y_true: class ids must lie in [0, {c}) for {c} probability columns")
    return t, p


def _bin_ids(conf: np.ndarray, n_bins: int) -> np.ndarray:
    # Left-closed bins [k/M, (k+1)/M), 1.0 in the last one, with the same edges as
    # torchmetrics (searchsorted on linspace, not floor(conf * M)) so exact boundaries
    # fall in the same bin.
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)


def _calibration_update(
    t: np.ndarray, p: np.ndarray, n_bins: int, classwise: bool
) -> np.ndarray:
    """Per-bin sums ``[count, sum confidence, sum accuracy]``: shape (3, n_bins), or
    (3, n_classes, n_bins) when classwise. Additive, so it merges by addition."""
    if classwise:
        n, c = p.shape
        size = c * n_bins
        stats = np.zeros((3, size))
        # Blocks of rows, so that the (rows, C) temporaries stay small whatever n is (and a
        # float16 / bfloat16 matrix is widened one block at a time).
        step = max(1, (1 << 16) // c)
        offset = np.arange(c) * n_bins
        for r0 in range(0, n, step):
            pb, tb = widen_half(p[r0 : r0 + step]), t[r0 : r0 + step]
            ids = (_bin_ids(pb, n_bins) + offset).ravel()  # flat (class, bin) ids
            hit = (tb[:, None] == np.arange(c)).ravel()
            stats[0] += np.bincount(ids, minlength=size)
            stats[1] += np.bincount(ids, weights=pb.ravel(), minlength=size)
            stats[2] += np.bincount(ids[hit], minlength=size)
        return stats.reshape(3, c, n_bins)
    if p.dtype.itemsize == 2:  # float16 / the bfloat16 view: widened a row block at a time
        n = p.shape[0]
        step = max(1, (1 << 16) // max(1, p.shape[1]))
        conf, pred = np.empty(n, dtype=np.float32), np.empty(n, dtype=np.int64)
        for r0 in range(0, n, step):
            b = widen_half(p[r0 : r0 + step])
            conf[r0 : r0 + step], pred[r0 : r0 + step] = b.max(axis=1), b.argmax(axis=1)
    else:
        conf, pred = p.max(axis=1), p.argmax(axis=1)
    acc = (pred == t).astype(np.float64)
    ids = _bin_ids(conf, n_bins)
    return np.stack(
        [
            np.bincount(ids, minlength=n_bins).astype(np.float64),
            np.bincount(ids, weights=conf, minlength=n_bins),
            np.bincount(ids, weights=acc, minlength=n_bins),
        ]
    )


def _calibration_compute(stats: np.ndarray, norm: str) -> float:
    """ECE from per-bin sums; classwise stats (3, C, M) give the mean over classes."""
    if stats.ndim == 3:
        per_class = [_calibration_compute(stats[:, k], norm) for k in range(stats.shape[1])]
        return float(np.mean(per_class))
    count, conf, acc = stats
    n = count.sum()
    if n == 0:
        return math.nan
    filled = count > 0
    gap = np.abs(acc[filled] - conf[filled]) / count[filled]
    w = count[filled] / n
    if norm == "l1":
        return float(np.sum(w * gap))
    if norm == "l2":
        return float(math.sqrt(np.sum(w * gap**2)))
    return float(gap.max())


def expected_calibration_error(
    y_true: Any, probs: Any, *, n_bins: int = 15, norm: str = "l1", classwise: bool = False
) -> float:
    """Expected calibration error over equal-width confidence bins (Guo et al. 2017).

    The top-label confidence ``max_k p_k`` of each example is put in one of ``n_bins``
    equal-width bins ``[k/M, (k+1)/M)`` (1.0 in the last); with ``n_b`` examples, mean
    confidence ``conf_b`` and accuracy ``acc_b`` in bin b, ``norm="l1"`` gives
    ``sum_b n_b/n |acc_b - conf_b|`` (ECE), ``"l2"`` the root of the weighted mean of
    squares, ``"max"`` the largest gap over non-empty bins (MCE). ``classwise=True`` bins
    every class's probability ``p_k`` against the indicator ``y == k`` and averages the
    per-class errors (classwise ECE, Kumar et al. 2019; Nixon et al. 2019's SCE).

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True class ids in ``[0, n_classes)``.
    probs : array-like of float, shape (n, n_classes), or (n,) for P(y = 1) of a binary task
        Probabilities in [0, 1] (softmax outputs).
    n_bins : int, default 15
        Number of equal-width confidence bins.
    norm : {"l1", "l2", "max"}, default "l1"
        ECE, the root of the weighted mean squared gap, or the maximum gap (MCE).
    classwise : bool, default False
        Bin every class's probability and average the per-class errors.

    Returns
    -------
    float
        The calibration error, in [0, 1].

    Raises
    ------
    ValueError
        If ``norm`` is invalid, ``n_bins`` < 1, the lengths differ, ``probs`` leaves [0, 1],
        or a class id has no probability column.
    TypeError
        If ``n_bins`` is not an integer.

    References
    ----------
    Guo, C. et al. (2017). On calibration of modern neural networks. ICML.
    Kumar, A. et al. (2019). Verified uncertainty calibration. NeurIPS.
    Nixon, J. et al. (2019). Measuring calibration in deep learning. CVPR Workshops.

    Examples
    --------
    >>> round(expected_calibration_error([0, 1], [[0.9, 0.1], [0.6, 0.4]], n_bins=10), 6)
    0.35
    """
    n_bins = check_positive_int(n_bins, "n_bins")
    _check_norm(norm)
    t, p = _calibration_inputs(y_true, probs)
    return _calibration_compute(_calibration_update(t, p, n_bins, classwise), norm)


# --------------------------------------------------------------------------------------
# Frechet distance (Heusel et al. 2017, FID)


def _frechet_from_moments(
    mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray
) -> float:
    """||mu_a - mu_b||^2 + Tr(Sa + Sb - 2 (Sa Sb)^(1/2)) without a general matrix sqrt.

    Tr((Sa Sb)^(1/2)) equals the sum of the square roots of the eigenvalues of the
    symmetric PSD matrix sqrt(Sa) Sb sqrt(Sa) (it is similar to Sa Sb), so two symmetric
    eigendecompositions replace scipy.linalg.sqrtm, with no complex round-off to discard.
    """
    w, v = np.linalg.eigh((cov_a + cov_a.T) / 2)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root_a @ cov_b @ root_a
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(ev, 0, None)).sum())
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * tr_covmean)


def frechet_distance(features_a: Any, features_b: Any) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (Heusel et al. 2017).

    ``||mu_a - mu_b||^2 + Tr(Sa + Sb - 2 (Sa Sb)^(1/2))`` with sample means and unbiased
    covariances (``ddof=1``, as pytorch-fid). Used on features of generated vs real data
    (FID) or between the features of two classes.

    Parameters
    ----------
    features_a : array-like, shape (n_a, d)
        First feature set, ``n_a >= 2`` rows.
    features_b : array-like, shape (n_b, d)
        Second feature set, ``n_b >= 2`` rows, same ``d``.

    Returns
    -------
    float
        The squared Frechet distance (>= 0).

    Raises
    ------
    ValueError
        If the feature dimensions differ or a set has fewer than 2 rows.

    References
    ----------
    Heusel, M. et al. (2017). GANs trained by a two time-scale update rule converge to a
    local Nash equilibrium. NeurIPS.

    Examples
    --------
    >>> a = [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]]
    >>> b = [[x + 3.0, y] for x, y in a]
    >>> round(frechet_distance(a, b), 6)
    9.0
    """
    a = as_float_array(features_a, "features_a", ndim=2)
    b = as_float_array(features_b, "features_b", ndim=2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"features_b: has {b.shape[1]} features but features_a has {a.shape[1]}"
        )
    for x, name in ((a, "features_a"), (b, "features_b")):
        if x.shape[0] < 2:
            raise ValueError(f"{name}: needs at least 2 rows for a covariance")
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    return _frechet_from_moments(a.mean(0), cov_a, b.mean(0), cov_b)


# --------------------------------------------------------------------------------------
# mean IoU and SeK (semantic segmentation / change detection)


def _segmentation_inputs(
    y_true: Any, y_pred: Any, num_classes: int, ignore_index: int | None
) -> tuple[np.ndarray, np.ndarray]:
    t = _labels_nd(y_true, "y_true")
    p = _labels_nd(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_pred: has {p.shape[0]} items but y_true has {t.shape[0]}")
    if ignore_index is not None:
        keep = t != ignore_index
        t, p = t[keep], p[keep]
    return t, p


def _iou_from_confusion(cm: np.ndarray) -> np.ndarray:
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


def mean_iou(
    y_true: Any,
    y_pred: Any,
    *,
    num_classes: int,
    ignore_index: int | None = None,
    average: str | None = "macro",
) -> float | np.ndarray:
    """Mean intersection over union of segmentation maps (any shape, flattened).

    ``IoU_k = TP_k / (TP_k + FP_k + FN_k)`` from the confusion matrix of all pixels;
    pixels whose true label is ``ignore_index`` are left out. A class absent from both
    maps has no IoU (NaN) and is left out of the mean, as in mmsegmentation.
    ``average=None`` returns the per-class IoU array.

    Parameters
    ----------
    y_true : array-like of int, any shape
        True class ids (flattened).
    y_pred : array-like of int, same number of items
        Predicted class ids.
    num_classes : int
        Number of classes; ids must lie in ``[0, num_classes)``.
    ignore_index : int, optional
        True label of pixels to leave out (e.g. 255).
    average : {"macro"} or None, default "macro"
        Mean over classes present, or None for the per-class array.

    Returns
    -------
    float or ndarray of shape (num_classes,)
        Mean IoU, or the per-class IoU (NaN for a class absent from both maps).

    Raises
    ------
    ValueError
        If ``average`` is invalid, the sizes differ, a map is a scalar or an id (other than
        ``ignore_index``) is outside ``[0, num_classes)``, or ``num_classes`` < 1.
    TypeError
        If ``num_classes`` is not an integer.

    Examples
    --------
    >>> mean_iou([[0, 0], [1, 2]], [[0, 1], [1, 2]], num_classes=3)
    0.6666666666666666
    >>> mean_iou([0, 0, 255], [0, 1, 1], num_classes=2, ignore_index=255, average=None)
    array([0.5, 0. ])
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    if average not in ("macro", None):
        raise ValueError(f"average: must be 'macro' or None, got {average!r}")
    t, p = _segmentation_inputs(y_true, y_pred, num_classes, ignore_index)
    cm = _confusion_update(t, p, num_classes).reshape(num_classes, num_classes)
    iou = _iou_from_confusion(cm)
    if average is None:
        return iou
    return float(np.nanmean(iou)) if np.any(~np.isnan(iou)) else math.nan


def _kappa(cm: np.ndarray) -> float:
    # Cohen's kappa of a confusion matrix, 0 when undefined (the SECOND reference code).
    n = cm.sum()
    if n == 0:
        return 0.0
    po = np.trace(cm) / n
    pe = float(cm.sum(1) @ cm.sum(0)) / n**2
    return 0.0 if pe == 1 else float((po - pe) / (1 - pe))


def _sek_from_confusion(cm: np.ndarray) -> float:
    """SeK from a confusion matrix whose class 0 is "no change"."""
    cm = cm.astype(np.float64)
    # Change / no-change 2 x 2 matrix: a pixel is "changed" when its class is not 0.
    tn = cm[0, 0]
    binary = np.array(
        [[tn, cm[0].sum() - tn], [cm[:, 0].sum() - tn, cm[1:, 1:].sum()]], dtype=np.float64
    )
    iou_c = _iou_from_confusion(binary)[1]
    if math.isnan(iou_c):
        iou_c = 0.0
    n0 = cm.copy()
    n0[0, 0] = 0  # the dominant no-change/no-change agreement would swamp kappa
    return float(math.exp(iou_c - 1.0) * _kappa(n0))


def separated_kappa(y_true: Any, y_pred: Any, *, num_classes: int) -> float:
    """Separated kappa (SeK) for semantic change detection (Yang et al. 2020, SECOND).

    Class 0 is "no change". With ``IoU_c`` the IoU of the *change* class in the
    change/no-change map and ``kappa_hat`` Cohen's kappa of the full confusion matrix
    after zeroing its (no-change, no-change) cell, ``SeK = exp(IoU_c - 1) * kappa_hat``
    (as the SECOND benchmark's evaluation code; kappa is 0 when undefined).

    Parameters
    ----------
    y_true : array-like of int, any shape
        True semantic change map (class 0 is "no change").
    y_pred : array-like of int, same number of items
        Predicted change map.
    num_classes : int
        Number of classes including "no change".

    Returns
    -------
    float
        SeK (0 when kappa is undefined).

    Raises
    ------
    ValueError
        If the sizes differ, a map is a scalar or an id is outside ``[0, num_classes)``.

    References
    ----------
    Yang, K. et al. (2020). Asymmetric Siamese networks for semantic change detection in
    aerial images (SECOND). IEEE TGRS.

    Examples
    --------
    >>> round(separated_kappa([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], num_classes=3), 6)
    0.165417
    """
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    t, p = _segmentation_inputs(y_true, y_pred, num_classes, None)
    cm = _confusion_update(t, p, num_classes).reshape(num_classes, num_classes)
    return _sek_from_confusion(cm)
