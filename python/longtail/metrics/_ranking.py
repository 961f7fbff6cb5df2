"""Ranking metrics, scikit-learn compatible: ROC AUC, ROC and PR curves, average precision.

The O(n log n) work (one stable radix sort of the scores, tie grouping, cumulative
weights, trapezoid / step sums; one-vs-rest columns and one-vs-one classes in parallel)
runs in Rust (``rust/core/src/metrics/ranking.rs``). This module mirrors scikit-learn's
validation, averaging and edge cases (``sklearn/metrics/_ranking.py`` and
``_base.py``) so that results agree to 1e-12 and errors are raised in the same places.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional, Union

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

from longtail import _core
from longtail._checks import score_dtype
from longtail.metrics._validation import (
    InvalidParameterError,
    check_length,
    check_pos_label,
    check_weight_kind,
    check_weight_values,
    labels_array,
    ranking_weights,
    score_array,
    target_with_indicator,
    unique,
    weight_array,
)

__all__ = [
    "roc_auc_score",
    "roc_curve",
    "average_precision_score",
    "precision_recall_curve",
]

_ONE_CLASS = "Only one class is present in y_true. ROC AUC score is not defined in that case."


def _check_pos_label(pos_label: Any, classes: np.ndarray) -> Any:
    """scikit-learn's ``_check_pos_label_consistency``."""
    if pos_label is None:
        ok = classes.dtype.kind not in "OUS" and any(
            np.array_equal(classes, c) for c in ([0, 1], [-1, 1], [0], [-1], [1])
        )
        if not ok:
            shown = ", ".join(repr(c) for c in classes.tolist())
            raise ValueError(
                f"y_true takes value in {{{shown}}} and pos_label is not specified: either "
                "make y_true take value in {0, 1} or {-1, 1} or pass pos_label explicitly."
            )
        pos_label = 1
    return pos_label


def _binary_truth(y_true: Any, pos_label: Any) -> np.ndarray:
    """``y_true == pos_label`` as uint8, after scikit-learn's checks of the target."""
    check_pos_label(pos_label)
    y = labels_array(y_true, "y_true")
    y_type, classes, ind = target_with_indicator(y, 1 if pos_label is None else pos_label)
    if not (y_type == "binary" or (y_type == "multiclass" and pos_label is not None)):
        raise ValueError(f"y_true: {y_type} format is not supported")
    assert classes is not None
    return ind(_check_pos_label(pos_label, classes))


def _indicator_truth(y: np.ndarray, average: Optional[str], *, check_pos: bool) -> np.ndarray:
    """``y == 1`` as uint8 for a multilabel indicator (any two integral values).

    scikit-learn scores every column (every row for "samples", the raveled matrix for
    "micro") as a binary problem whose positives are the 1s. Without a pos_label
    (``check_pos``, ROC AUC) a problem with two values other than {0, 1} or {-1, 1}
    is a ValueError; average precision (pos_label=1) counts the other values negative.
    """
    vals = unique(y.ravel())
    if check_pos and vals.size == 2 and not (
        np.isin(vals, [0, 1]).all() or np.isin(vals, [-1, 1]).all()
    ):
        has_hi = y == vals[1]
        axis = None if average == "micro" else (1 if average == "samples" else 0)
        both = has_hi.any(axis=axis) & ~has_hi.all(axis=axis)
        if np.any(both):
            shown = ", ".join(repr(v) for v in vals.tolist())
            raise ValueError(
                f"y_true takes value in {{{shown}}} and pos_label is not specified: either "
                "make y_true take value in {0, 1} or {-1, 1} or pass pos_label explicitly."
            )
    return np.ascontiguousarray(y == 1).view(np.uint8)


def _clf_curve(
    y01: np.ndarray, y_score: Any, sample_weight: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.dtype]:
    """fps, tps, thresholds at the distinct scores (``confusion_matrix_at_thresholds``),
    and the scores' dtype."""
    s = score_array(y_score)
    if s.ndim != 1:
        raise ValueError(f"y_score: expected a 1-D array, got shape {s.shape}")
    check_length(y01, s, "y_score")
    w = weight_array(sample_weight, y01.shape[0])
    return (*_core.binary_clf_curve(y01, s, w), score_dtype(s))


def _drop_roc(fps: np.ndarray, tps: np.ndarray, thr: np.ndarray) -> tuple[np.ndarray, ...]:
    # scikit-learn keeps the end points and every corner (non-zero second difference).
    if fps.shape[0] > 2:
        keep = np.where(
            np.concatenate([[True], np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), [True]])
        )[0]
        return fps[keep], tps[keep], thr[keep]
    return fps, tps, thr


def _roc_from(
    fps: np.ndarray, tps: np.ndarray, thr: np.ndarray, drop_intermediate: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if drop_intermediate:
        fps, tps, thr = _drop_roc(fps, tps, thr)
    tps = np.concatenate([[0.0], tps])
    fps = np.concatenate([[0.0], fps])
    thr = np.concatenate([[np.inf], thr])
    if fps[-1] <= 0:
        warnings.warn(
            "No negative samples in y_true, false positive value should be meaningless",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        fpr = np.full(fps.shape, np.nan)
    else:
        fpr = fps / fps[-1]
    if tps[-1] <= 0:
        warnings.warn(
            "No positive samples in y_true, true positive value should be meaningless",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        tpr = np.full(tps.shape, np.nan)
    else:
        tpr = tps / tps[-1]
    return fpr, tpr, thr


def _auc(x: np.ndarray, y: np.ndarray) -> float:
    """scikit-learn's ``auc`` (trapezoid, either direction)."""
    direction = 1
    dx = np.diff(x)
    if np.any(dx < 0):
        if np.all(dx <= 0):
            direction = -1
        else:
            raise ValueError(f"x is neither increasing nor decreasing : {x}.")
    return float(direction * np.trapezoid(y, x))


def roc_curve(
    y_true: Any,
    y_score: Any,
    *,
    pos_label: Any = None,
    sample_weight: Any = None,
    drop_intermediate: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Receiver operating characteristic curve, as ``sklearn.metrics.roc_curve``.

    Returns ``(fpr, tpr, thresholds)`` with thresholds decreasing and ``inf`` first.
    Collinear points are dropped unless ``drop_intermediate=False``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary true labels (any two values; see ``pos_label``).
    y_score : array-like of shape (n_samples,)
        Scores, higher meaning more likely positive.
    pos_label : int, float, bool or str, optional
        The positive class; None means 1 for {0, 1} or {-1, 1} labels.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    drop_intermediate : bool, default True
        Drop thresholds whose point is collinear with its neighbours.

    Returns
    -------
    fpr, tpr, thresholds : ndarray
        False and true positive rates at each threshold (thresholds decreasing).

    Raises
    ------
    ValueError
        If ``y_true`` is not binary, ``pos_label`` is ambiguous, or the shapes disagree.

    Examples
    --------
    >>> fpr, tpr, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    check_weight_kind(sample_weight)
    y01 = _binary_truth(y_true, pos_label)
    fps, tps, thr, _ = _clf_curve(y01, y_score, sample_weight)
    return _roc_from(fps, tps, thr, drop_intermediate)


def precision_recall_curve(
    y_true: Any,
    y_score: Any,
    *,
    pos_label: Any = None,
    sample_weight: Any = None,
    drop_intermediate: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision-recall pairs for every threshold, as
    ``sklearn.metrics.precision_recall_curve``.

    Returns ``(precision, recall, thresholds)``; the last precision is 1 and the last
    recall 0, which have no threshold.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary true labels (any two values; see ``pos_label``).
    y_score : array-like of shape (n_samples,)
        Scores, higher meaning more likely positive.
    pos_label : int, float, bool or str, optional
        The positive class; None means 1 for {0, 1} or {-1, 1} labels.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    drop_intermediate : bool, default False
        Drop thresholds that do not change the curve's shape.

    Returns
    -------
    precision, recall : ndarray of shape (n_thresholds + 1,)
        Precision and recall at each threshold, then the (1, 0) end point.
    thresholds : ndarray of shape (n_thresholds,)
        Increasing distinct scores, in the scores' dtype.

    Raises
    ------
    ValueError
        If ``y_true`` is not binary, ``pos_label`` is ambiguous, or the shapes disagree.

    Examples
    --------
    >>> p, r, t = precision_recall_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> p.round(3).tolist(), r.tolist(), t.tolist()
    ([0.5, 0.667, 0.5, 1.0, 1.0], [1.0, 1.0, 0.5, 0.5, 0.0], [0.1, 0.35, 0.4, 0.8])
    """
    check_weight_kind(sample_weight)
    y01 = _binary_truth(y_true, pos_label)
    fps, tps, thr, dtype = _clf_curve(y01, y_score, sample_weight)
    p, r, t = _pr_from(fps, tps, thr, drop_intermediate)
    # scikit-learn returns the thresholds in the scores' dtype (exact: widened on read).
    return p, r, t.astype(dtype, copy=False)


def _pr_from(
    fps: np.ndarray, tps: np.ndarray, thr: np.ndarray, drop_intermediate: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if drop_intermediate and fps.shape[0] > 2:
        # Keep the first and last point of every run of equal tps (equal recall).
        keep = np.where(
            np.concatenate([[True], np.logical_or(np.diff(tps[:-1]), np.diff(tps[1:])), [True]])
        )[0]
        fps, tps, thr = fps[keep], tps[keep], thr[keep]
    ps = tps + fps
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(ps != 0, np.divide(tps, ps), 0.0)
    if tps[-1] == 0:
        warnings.warn(
            "No positive class found in y_true, recall is set to one for all thresholds.",
            stacklevel=3,
        )
        recall = np.full(tps.shape, 1.0)
    else:
        recall = tps / tps[-1]
    return (
        np.concatenate([precision[::-1], [1.0]]),
        np.concatenate([recall[::-1], [0.0]]),
        thr[::-1].copy(),
    )


def _binary_roc_auc(
    y01: np.ndarray, s: np.ndarray, w: Optional[np.ndarray], max_fpr: Optional[float]
) -> float:
    """scikit-learn's ``_binary_roc_auc_score`` on a checked 0/1 target."""
    check_weight_values(w)
    npos = int(np.count_nonzero(y01))
    if npos == 0 or npos == y01.shape[0]:
        warnings.warn(_ONE_CLASS, UndefinedMetricWarning, stacklevel=3)
        return float("nan")
    if w is None and (max_fpr is None or max_fpr == 1):
        # Fast path: the trapezoid sum in Rust, no curve arrays.
        return float(_core.binary_score(y01, s, None, "roc_auc"))
    fpr, tpr, _ = _roc_from(*_core.binary_clf_curve(y01, s, w), drop_intermediate=True)
    if max_fpr is None or max_fpr == 1:
        return _auc(fpr, tpr)
    # Partial AUC up to max_fpr with the McClish correction (as scikit-learn).
    stop = np.searchsorted(fpr, max_fpr, "right")
    x_interp = [fpr[stop - 1], fpr[stop]]
    y_interp = [tpr[stop - 1], tpr[stop]]
    tpr = np.append(tpr[:stop], np.interp(max_fpr, x_interp, y_interp))
    fpr = np.append(fpr[:stop], max_fpr)
    partial_auc = _auc(fpr, tpr)
    min_area = 0.5 * max_fpr**2
    max_area = max_fpr
    return float(0.5 * (1 + (partial_auc - min_area) / (max_area - min_area)))


def _binary_ap(y01: np.ndarray, s: np.ndarray, w: Optional[np.ndarray]) -> float:
    """scikit-learn's uninterpolated average precision of a checked 0/1 target."""
    check_weight_values(w)
    if w is None and not y01.any():
        warnings.warn(
            "No positive class found in y_true, recall is set to one for all thresholds.",
            stacklevel=3,
        )
        return 0.0
    if w is not None:
        # Weighted: the PR curve then scikit-learn's step sum, for its exact edge cases.
        precision, recall, _ = _pr_from(*_core.binary_clf_curve(y01, s, w), False)
        return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))
    return float(_core.binary_score(y01, s, None, "average_precision"))


def _per_column(
    metric: str,
    y_ind: np.ndarray,
    s: np.ndarray,
    w: Optional[np.ndarray],
    max_fpr: Optional[float] = None,
) -> np.ndarray:
    """Binary metric of every column of an indicator matrix, with scikit-learn's
    per-column warnings."""
    check_weight_values(w)
    pos = y_ind.sum(axis=0)
    n = y_ind.shape[0]
    # Negative weights can make the curve turn back, which scikit-learn's auc() refuses:
    # those go column by column through the checked path.
    negative = w is not None and bool((w < 0).any())
    if metric == "roc_auc" and ((max_fpr is not None and max_fpr != 1) or negative):
        return np.array(
            [
                _binary_roc_auc(np.ascontiguousarray(y_ind[:, c]), s[:, c].copy(), w, max_fpr)
                for c in range(y_ind.shape[1])
            ]
        )
    if metric == "average_precision" and w is not None:
        return np.array(
            [
                _binary_ap(np.ascontiguousarray(y_ind[:, c]), s[:, c].copy(), w)
                for c in range(y_ind.shape[1])
            ]
        )
    out = _core.per_column_score(s, None, y_ind, w, metric)
    if metric == "roc_auc":
        for c in np.flatnonzero(np.isnan(out)):
            if pos[c] == 0 or pos[c] == n:
                warnings.warn(_ONE_CLASS, UndefinedMetricWarning, stacklevel=3)
            else:
                warnings.warn(
                    "No positive samples in y_true, true positive value should be meaningless",
                    UndefinedMetricWarning,
                    stacklevel=3,
                )
    elif np.any(pos == 0):
        for _ in np.flatnonzero(pos == 0):
            warnings.warn(
                "No positive class found in y_true, recall is set to one for all thresholds.",
                stacklevel=3,
            )
    return out


def _average_binary_score(
    metric: str,
    y_ind: np.ndarray,
    s: np.ndarray,
    average: Optional[str],
    w: Optional[np.ndarray],
    max_fpr: Optional[float] = None,
) -> Union[float, np.ndarray]:
    """scikit-learn's ``_average_binary_score`` for a 2-D indicator target."""
    if average not in (None, "micro", "macro", "weighted", "samples"):
        raise ValueError(
            "average: has to be one of (None, 'micro', 'macro', 'weighted', 'samples')"
        )
    if s.ndim != 2 or s.shape != y_ind.shape:
        raise ValueError(f"y_score: shape {s.shape} does not match y_true's {y_ind.shape}")
    binary = _binary_roc_auc if metric == "roc_auc" else _binary_ap
    extra = (max_fpr,) if metric == "roc_auc" else ()
    average_weight = None
    if average == "micro":
        ww = None if w is None else np.repeat(w, y_ind.shape[1])
        return binary(np.ascontiguousarray(y_ind.ravel()), s.ravel(), ww, *extra)
    if average == "weighted":
        average_weight = (
            (y_ind * w.reshape(-1, 1)).sum(axis=0) if w is not None else y_ind.sum(axis=0)
        )
        if np.isclose(average_weight.sum(), 0):
            return 0
    if average == "samples":
        # One binary problem per row: the transposed matrices, columns = samples.
        score = _per_column(
            metric, np.ascontiguousarray(y_ind.T), np.ascontiguousarray(s.T), None, max_fpr
        )
        average_weight = w
    else:
        score = _per_column(metric, y_ind, s, w, max_fpr)
    if average is None:
        return score
    if average_weight is not None:
        score[average_weight == 0] = 0
    return float(np.average(score, weights=average_weight))


def _check_labels(labels: Any, y: np.ndarray, n_columns: int, dot: str = "") -> np.ndarray:
    labels = np.asarray(labels).ravel()
    classes = np.unique(labels)
    if len(classes) != len(labels):
        raise ValueError(f"labels: Parameter 'labels' must be unique{dot}")
    if not np.array_equal(classes, labels):
        raise ValueError(f"labels: Parameter 'labels' must be ordered{dot}")
    if len(classes) != n_columns:
        raise ValueError(
            f"labels: Number of given labels, {len(classes)}, not equal to the number of "
            f"columns in 'y_score', {n_columns}"
        )
    if len(np.setdiff1d(y, classes)):
        raise ValueError(f"y_true: 'y_true' contains labels not in parameter 'labels'{dot}")
    return classes


def roc_auc_score(
    y_true: Any,
    y_score: Any,
    *,
    average: Optional[str] = "macro",
    sample_weight: Any = None,
    max_fpr: Optional[float] = None,
    multi_class: str = "raise",
    labels: Any = None,
) -> Union[float, np.ndarray]:
    """Area under the ROC curve, as ``sklearn.metrics.roc_auc_score``.

    Binary (1-D scores for the greater label), multilabel indicators (per column), and
    multiclass with ``multi_class="ovr"`` (one-vs-rest; ``average`` "macro", "weighted",
    "micro" or None) or ``"ovo"`` (one-vs-one, Hand & Till 2001, "macro" or
    "weighted"). ``max_fpr`` gives the McClish-standardised partial AUC (binary only).
    With one class in ``y_true`` it warns ``UndefinedMetricWarning`` and returns NaN, like
    scikit-learn >= 1.9.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_classes)
        True labels, or a multilabel indicator matrix.
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        Scores of the greater label (binary) or per-class scores / probabilities.
    average : {"macro", "weighted", "micro", "samples"} or None, default "macro"
        How per-class AUCs are combined; None returns them all.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    max_fpr : float in (0, 1], optional
        Standardised partial AUC up to this false positive rate (binary only).
    multi_class : {"raise", "ovr", "ovo"}, default "raise"
        Multiclass strategy; "raise" rejects multiclass targets.
    labels : array-like of shape (n_classes,), optional
        Class labels indexing the columns of ``y_score`` (multiclass only).

    Returns
    -------
    float or ndarray of shape (n_classes,)
        The AUC, or one per class with ``average=None``.

    Raises
    ------
    ValueError
        If a parameter is invalid (an ``InvalidParameterError``, also a ``TypeError``), the
        target type is unsupported, multiclass scores do not sum to 1, ``labels`` are not
        unique, ordered or do not cover ``y_true``, or the shapes disagree.
    NotImplementedError
        For ``average=None`` with ``multi_class="ovo"``.

    References
    ----------
    Hand, D. J. and Till, R. J. (2001). A simple generalisation of the area under the ROC
    curve for multiple class classification problems. Machine Learning 45, 171-186.

    Examples
    --------
    >>> roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> probs = [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3]]
    >>> roc_auc_score([0, 1, 2, 1], probs, multi_class="ovr")
    1.0
    """
    if average not in (None, "micro", "macro", "samples", "weighted"):
        raise InvalidParameterError(
            f"average: must be None, 'micro', 'macro', 'samples' or 'weighted', got {average!r}"
        )
    if multi_class not in ("raise", "ovr", "ovo"):
        raise InvalidParameterError(
            f"multi_class: must be 'raise', 'ovr' or 'ovo', got {multi_class!r}"
        )
    if max_fpr is not None and not (0 < max_fpr <= 1):
        raise InvalidParameterError(f"max_fpr: expected max_fpr in range (0, 1], got: {max_fpr!r}")
    check_weight_kind(sample_weight)
    y = labels_array(y_true, "y_true")
    y_type, classes, ind = target_with_indicator(y, 1)
    s = score_array(y_score)
    check_length(y, s, "y_score")
    w = ranking_weights(sample_weight, y.shape[0])
    if y_type == "multiclass" or (y_type == "binary" and s.ndim == 2 and s.shape[1] > 2):
        if max_fpr is not None and max_fpr != 1.0:
            raise ValueError(
                "max_fpr: Partial AUC computation not available in multiclass setting, "
                f"'max_fpr' must be set to `None`, received `max_fpr={max_fpr}` instead"
            )
        if multi_class == "raise":
            raise ValueError("multi_class: multi_class must be in ('ovo', 'ovr')")
        return _multiclass_roc_auc(y, s, labels, multi_class, average, w)
    if y_type == "binary":
        if average not in (None, "micro", "macro", "weighted", "samples"):
            raise ValueError("average: invalid option")
        assert classes is not None
        if s.ndim != 1:
            raise ValueError(f"y_score: expected a 1-D array, got shape {s.shape}")
        if classes.size < 2:
            y01 = np.zeros(y.shape[0], dtype=np.uint8)
        else:
            y01 = ind(classes[-1])
        return _binary_roc_auc(y01, s, w, max_fpr)
    if y_type == "multilabel-indicator":
        y_ind = _indicator_truth(y, average, check_pos=True)
        return _average_binary_score("roc_auc", y_ind, s, average, w, max_fpr)
    raise ValueError(f"y_true: {y_type} format is not supported")


def _multiclass_roc_auc(
    y: np.ndarray,
    s: np.ndarray,
    labels: Any,
    multi_class: str,
    average: Optional[str],
    w: Optional[np.ndarray],
) -> Union[float, np.ndarray]:
    """scikit-learn's ``_multiclass_roc_auc_score``."""
    if s.ndim != 2:
        raise ValueError(
            "y_score: needs to be of shape (n_samples, n_classes), since y_true contains "
            f"multiple classes. Got y_score.shape={s.shape}."
        )
    if not _core.rows_sum_to_one(s):
        raise ValueError(
            "y_score: Target scores need to be probabilities for multiclass roc_auc, i.e. "
            "they should sum up to 1.0 over classes"
        )
    average_options: tuple = ("macro", "weighted", None)
    if multi_class == "ovr":
        average_options = ("micro",) + average_options
    if average not in average_options:
        raise ValueError(
            f"average: average must be one of {average_options} for multiclass problems"
        )
    if average is None and multi_class == "ovo":
        raise NotImplementedError("average=None is not implemented for multi_class='ovo'.")
    if labels is not None:
        classes = _check_labels(labels, y, s.shape[1])
    else:
        classes = unique(y)
        if len(classes) != s.shape[1]:
            raise ValueError(
                "y_score: Number of classes in y_true not equal to the number of columns "
                "in 'y_score'"
            )
    enc = np.ascontiguousarray(np.searchsorted(classes, y), dtype=np.uint32)
    if multi_class == "ovo":
        if w is not None:
            raise ValueError(
                "sample_weight: sample_weight is not supported for multiclass one-vs-one "
                "ROC AUC, 'sample_weight' must be None in this case."
            )
        pairs = _core.ovo_pair_auc(enc, s)
        counts = np.bincount(enc, minlength=s.shape[1])
        present = np.flatnonzero(counts)
        a_idx, b_idx = np.triu_indices(len(present), k=1)
        a, b = present[a_idx], present[b_idx]
        pair_scores = (pairs[a, b] + pairs[b, a]) / 2
        prevalence = None
        if average == "weighted":
            prevalence = (counts[a] + counts[b]) / y.shape[0]
        return np.float64(np.average(pair_scores, weights=prevalence))  # as sklearn
    # One-vs-rest: the per-class columns of the one-hot target, without building it.
    n_classes = s.shape[1]
    if average == "micro":
        y_ind = np.zeros((y.shape[0], n_classes), dtype=np.uint8)
        y_ind[np.arange(y.shape[0]), enc] = 1
        return _average_binary_score("roc_auc", y_ind, s, "micro", w)
    if w is not None:
        # As scikit-learn's _average_binary_score: no positive weight -> 0 before any
        # curve; the weights are checked where they reach a curve.
        if average == "weighted" and np.isclose(
            np.bincount(enc, weights=w, minlength=n_classes).sum(), 0
        ):
            return 0
        check_weight_values(w)
        if (w < 0).any():
            y_ind = np.zeros((y.shape[0], n_classes), dtype=np.uint8)
            y_ind[np.arange(y.shape[0]), enc] = 1
            return _average_binary_score("roc_auc", y_ind, s, average, w)
    score = _core.per_column_score(s, enc, None, w, "roc_auc")
    counts = np.bincount(enc, minlength=n_classes)
    for c in np.flatnonzero(np.isnan(score)):
        if counts[c] == 0 or counts[c] == y.shape[0]:
            warnings.warn(_ONE_CLASS, UndefinedMetricWarning, stacklevel=3)
        else:
            warnings.warn(
                "No positive samples in y_true, true positive value should be meaningless",
                UndefinedMetricWarning,
                stacklevel=3,
            )
    if average is None:
        return score
    average_weight = None
    if average == "weighted":
        average_weight = (
            np.bincount(enc, weights=w, minlength=n_classes)
            if w is not None
            else counts.astype(np.float64)
        )
        if np.isclose(average_weight.sum(), 0):
            return 0
        score[average_weight == 0] = 0
    return float(np.average(score, weights=average_weight))


def average_precision_score(
    y_true: Any,
    y_score: Any,
    *,
    average: Optional[str] = "macro",
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> Union[float, np.ndarray]:
    """Average precision, as ``sklearn.metrics.average_precision_score``.

    AP = sum_n (R_n - R_{n-1}) P_n over the thresholds, no interpolation. Binary,
    multilabel indicators, and multiclass (one-vs-rest over the classes present).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_classes)
        True labels, or a multilabel indicator matrix.
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        Scores of the positive class, or per-class scores.
    average : {"macro", "weighted", "micro", "samples"} or None, default "macro"
        How per-class APs are combined; None returns them all.
    pos_label : int, float, bool or str, default 1
        The positive class (binary targets only).
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.

    Returns
    -------
    float or ndarray of shape (n_classes,)
        The average precision, or one per class with ``average=None``.

    Raises
    ------
    ValueError
        If a parameter is invalid (an ``InvalidParameterError``, also a ``TypeError``), the
        target type is unsupported, ``pos_label`` is not 1 for a multiclass target, or the
        shapes disagree.

    Examples
    --------
    >>> average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.8333333333333333
    """
    if average not in (None, "micro", "macro", "samples", "weighted"):
        raise InvalidParameterError(
            f"average: must be None, 'micro', 'macro', 'samples' or 'weighted', got {average!r}"
        )
    check_pos_label(pos_label, allow_none=False)
    check_weight_kind(sample_weight)
    y = labels_array(y_true, "y_true")
    y_type, present, ind = target_with_indicator(y, pos_label)
    s = score_array(y_score)
    check_length(y, s, "y_score")
    w = ranking_weights(sample_weight, y.shape[0])
    if y_type == "binary":
        assert present is not None
        if present.shape[0] == 2 and pos_label not in present.tolist():
            raise ValueError(
                f"pos_label: pos_label={pos_label} is not a valid label. It should be one "
                f"of {present}"
            )
        if s.ndim != 1:
            raise ValueError(f"y_score: expected a 1-D array, got shape {s.shape}")
        y01 = ind(pos_label)
        return _binary_ap(y01, s, w)
    if y_type == "multilabel-indicator":
        if pos_label != 1:
            raise ValueError(
                "pos_label: Parameter pos_label is fixed to 1 for multilabel-indicator "
                "y_true. Do not set pos_label or set pos_label to 1."
            )
        y_ind = _indicator_truth(y, average, check_pos=False)
        if average == "weighted" and not np.isin(unique(y.ravel()), [0, 1]).all():
            # scikit-learn weighs the columns by the sums of the raw values.
            raw = y.astype(np.float64)
            aw = (raw * w.reshape(-1, 1)).sum(axis=0) if w is not None else raw.sum(axis=0)
            if np.isclose(aw.sum(), 0):
                return 0
            score = _average_binary_score("average_precision", y_ind, s, None, w)
            score[aw == 0] = 0
            return float(np.average(score, weights=aw))
        return _average_binary_score("average_precision", y_ind, s, average, w)
    if y_type == "multiclass":
        if pos_label != 1:
            raise ValueError(
                "pos_label: Parameter pos_label is fixed to 1 for multiclass y_true. "
                "Do not set pos_label or set pos_label to 1."
            )
        assert present is not None
        if s.ndim != 2 or s.shape != (y.shape[0], present.shape[0]):
            raise ValueError(
                "y_score: needs to be of shape (n_samples, n_classes), since y_true "
                f"contains multiple classes. Got y_score.shape={s.shape}."
            )
        enc = np.ascontiguousarray(np.searchsorted(present, y), dtype=np.uint32)
        if average in ("macro", "weighted", None) and w is None:
            # Every class is present, so no column warns; skip the one-hot matrix.
            score = _core.per_column_score(s, enc, None, None, "average_precision")
            if average is None:
                return score
            weights = None
            if average == "weighted":
                weights = np.bincount(enc, minlength=s.shape[1]).astype(np.float64)
            return float(np.average(score, weights=weights))
        y_ind = np.zeros(s.shape, dtype=np.uint8)
        y_ind[np.arange(y.shape[0]), enc] = 1
        return _average_binary_score("average_precision", y_ind, s, average, w)
    raise ValueError(f"y_true: {y_type} format is not supported")
