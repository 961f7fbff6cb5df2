"""Classification metrics, scikit-learn compatible, built on one confusion-matrix kernel.

Every metric here reduces to per-class counts; the counting is one parallel pass in Rust
(``rust/core/src/metrics/confusion.rs``) with per-thread ``k x k`` matrices and no
n-sized temporary. The O(classes) arithmetic that follows mirrors scikit-learn's
``sklearn/metrics/_classification.py`` (and imbalanced-learn's ``geometric_mean_score``)
line by line, including its warnings, so that results agree to 1e-12.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Optional, Union

import numpy as np
from sklearn.exceptions import DataConversionWarning, UndefinedMetricWarning

from longtail import _core
from longtail._checks import widen_half
from longtail.metrics._validation import (
    InvalidParameterError,
    check_length,
    check_pos_label,
    check_weight_kind,
    labels_array,
    score_array,
    target_type,
    unique,
    weight_array,
)

__all__ = [
    "confusion_matrix",
    "balanced_accuracy_score",
    "precision_recall_fscore_support",
    "f1_score",
    "fbeta_score",
    "precision_score",
    "recall_score",
    "cohen_kappa_score",
    "matthews_corrcoef",
    "top_k_accuracy_score",
    "geometric_mean_score",
]

_ABSENT = np.uint32(2**32 - 1)
_LUT_RANGE = 1 << 24
_AVERAGES = (None, "micro", "macro", "weighted", "samples")


# ----------------------------------------------------------------------------- targets


def _union_labels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """scikit-learn's ``unique_labels`` of two 1-D targets (sorted union)."""
    if a.dtype.kind in "iub" and b.dtype.kind in "iub":
        a64 = np.ascontiguousarray(a, dtype=np.int64)
        b64 = np.ascontiguousarray(b, dtype=np.int64)
        lo_hi = _core.label_range(a64, b64)
        if lo_hi is not None and lo_hi[1] - lo_hi[0] < _LUT_RANGE:
            return _core.present_labels(a64, b64, *lo_hi)
    ua, ub = unique(a), unique(b)
    if (ua.dtype.kind in "OUS") != (ub.dtype.kind in "OUS"):
        raise ValueError("y_pred: Mix of label input types (string and number)")
    return np.union1d(ua, ub)


def _check_targets(
    y_true: Any, y_pred: Any, *, sparse: bool = False
) -> tuple[str, Optional[np.ndarray], np.ndarray, np.ndarray]:
    """scikit-learn's ``_check_targets``: (type, present labels, y_true, y_pred).

    ``sparse=True`` (the precision / recall / F family) takes scipy.sparse multilabel
    indicators, returned dense."""
    yt = labels_array(y_true, "y_true", sparse=sparse)
    yp = labels_array(y_pred, "y_pred", sparse=sparse)
    check_length(yt, yp, "y_pred")
    type_true, _ = target_type(yt) if yt.ndim == 2 else (_type_1d(yt), None)
    type_pred, _ = target_type(yp) if yp.ndim == 2 else (_type_1d(yp), None)
    y_type = {type_true, type_pred}
    if y_type == {"binary", "multiclass"}:
        y_type = {"multiclass"}
    if len(y_type) > 1:
        raise ValueError(
            f"y_pred: Classification metrics can't handle a mix of {type_true} and "
            f"{type_pred} targets"
        )
    kind = y_type.pop()
    if kind not in ("binary", "multiclass", "multilabel-indicator"):
        raise ValueError(f"y_true: {kind} is not supported")
    if kind == "multilabel-indicator":
        if yt.shape != yp.shape:
            raise ValueError("y_pred: shape does not match y_true's")
        return kind, np.arange(yt.shape[1]), yt, yp
    present = _union_labels(yt, yp)
    if kind == "binary" and present.shape[0] > 2:
        kind = "multiclass"
    return kind, present, yt, yp


def _type_1d(y: np.ndarray) -> str:
    """Binary / multiclass / continuous without computing the classes twice."""
    if y.dtype.kind == "f" and np.any(y != np.trunc(y)):
        return "continuous"
    if y.dtype.kind in "iub":
        a = np.ascontiguousarray(y, dtype=np.int64)
        lo_hi = _core.label_range(a, a[:0])
        if lo_hi is not None and lo_hi[1] - lo_hi[0] <= 1:
            return "binary"
    return "multiclass" if unique(y).shape[0] > 2 else "binary"


# ---------------------------------------------------------------------------- counting


def _counts(
    yt: np.ndarray, yp: np.ndarray, labels: np.ndarray, w: Optional[np.ndarray]
) -> np.ndarray:
    """``k x k`` counts with rows / columns in the order of ``labels``; rows whose true or
    predicted label is not in ``labels`` are left out (as scikit-learn does)."""
    k = labels.shape[0]
    if (
        yt.dtype.kind in "iub"
        and yp.dtype.kind in "iub"
        and labels.dtype.kind in "iub"
        and int(labels.max()) - int(labels.min()) < _LUT_RANGE
    ):
        lo = int(labels.min())
        lut = np.full(int(labels.max()) - lo + 1, _ABSENT, dtype=np.uint32)
        lut[labels.astype(np.int64) - lo] = np.arange(k, dtype=np.uint32)
        t = np.ascontiguousarray(yt, dtype=np.int64)
        p = np.ascontiguousarray(yp, dtype=np.int64)
    else:
        # General labels (strings, floats, wide ranges): encode to positions, -1 = absent.
        order = np.argsort(labels, kind="stable")
        srt = labels[order]

        def code(y: np.ndarray) -> np.ndarray:
            pos = np.searchsorted(srt, y)
            pos_c = np.minimum(pos, k - 1)
            ok = (pos < k) & (srt[pos_c] == y)
            return np.ascontiguousarray(np.where(ok, order[pos_c], -1), dtype=np.int64)

        t, p = code(yt), code(yp)
        lo = 0
        lut = np.arange(k, dtype=np.uint32)
    return _core.confusion_matrix_lut(t, p, lo, lut, k, w)


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    sample_weight: Any = None,
    normalize: Optional[str] = None,
) -> np.ndarray:
    """Confusion matrix C with C[i, j] = samples of true class i predicted as j, as
    ``sklearn.metrics.confusion_matrix``.

    ``labels`` selects and orders the classes (samples with other labels are left out);
    ``normalize`` is "true" (rows), "pred" (columns), "all" or None. Counts are int64
    unless ``sample_weight`` has a float dtype. One parallel counting pass in Rust.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like of shape (n_classes,), optional
        Classes to index the matrix, in this order; by default the sorted union of both.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    normalize : {"true", "pred", "all"} or None, default None
        Normalise over rows, columns or the whole matrix; None keeps counts.

    Returns
    -------
    ndarray of shape (n_classes, n_classes)
        Counts (int64, or float with float weights or ``normalize``).

    Raises
    ------
    ValueError
        If ``normalize`` is invalid, the targets are not binary or multiclass or are of
        mixed types, or ``labels`` is empty or shares no label with ``y_true``.

    Examples
    --------
    >>> confusion_matrix([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2])
    array([[2, 0, 0],
           [0, 0, 1],
           [1, 0, 2]])
    """
    check_weight_kind(sample_weight)
    if normalize not in ("true", "pred", "all", None):
        raise InvalidParameterError("normalize: must be one of {'true', 'pred', 'all', None}")
    yt = labels_array(y_true, "y_true")
    yp = labels_array(y_pred, "y_pred")
    check_length(yt, yp, "y_pred")
    w = weight_array(sample_weight, yt.shape[0], column=False)
    int_weights = w is not None and _integer_weights(sample_weight)
    if (
        labels is None
        and w is None
        and yt.ndim == 1
        and yp.ndim == 1
        and yt.dtype.kind in "iu"
        and yp.dtype.kind in "iu"
    ):
        # Fast path for integer labels: range, then one counting pass, nothing else.
        got = _core.confusion_matrix_auto(
            np.ascontiguousarray(yt, dtype=np.int64), np.ascontiguousarray(yp, dtype=np.int64)
        )
        if got is not None:
            return _finish_cm(got[1], normalize)
    y_type, present, yt, yp = _check_targets(yt, yp)
    if y_type not in ("binary", "multiclass"):
        raise ValueError(f"y_true: {y_type} is not supported")
    assert present is not None
    if labels is None:
        lab = present
    else:
        lab = np.asarray(labels)
        if lab.size == 0:
            raise ValueError("labels: 'labels' should contain at least one label.")
        if len(np.intersect1d(yt, lab)) == 0:
            raise ValueError("labels: At least one label specified must be in y_true")
    cm = _counts(yt, yp, lab.ravel(), w)
    if int_weights:
        cm = np.rint(cm).astype(np.int64)
    return _finish_cm(cm, normalize)


def _integer_weights(sample_weight: Any) -> bool:
    """Whether scikit-learn counts with int64 (integer or bool weights) or float64."""
    kind = getattr(sample_weight, "dtype", None)
    if kind is not None and hasattr(kind, "is_floating_point"):  # a torch dtype
        return not (kind.is_floating_point or kind.is_complex)
    return np.asarray(sample_weight).dtype.kind in "iub"


def _finish_cm(cm: np.ndarray, normalize: Optional[str]) -> np.ndarray:
    with np.errstate(all="ignore"):
        if normalize == "true":
            cm = cm / cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            cm = cm / cm.sum(axis=0, keepdims=True)
        elif normalize == "all":
            cm = cm / cm.sum()
        cm = np.nan_to_num(cm)
    if cm.shape == (1, 1):
        warnings.warn(
            "A single label was found in 'y_true' and 'y_pred'. For the confusion matrix "
            "to have the correct shape, use the 'labels' parameter to pass all known "
            "labels.",
            UserWarning,
            stacklevel=3,
        )
    return cm


def _label_sums(
    y_type: str,
    present: np.ndarray,
    yt: np.ndarray,
    yp: np.ndarray,
    w: Optional[np.ndarray],
    labels: Any,
    samplewise: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Union[float, np.ndarray]]:
    """tp, pred and true sums per label, and the total weight (scikit-learn's
    ``multilabel_confusion_matrix`` reduced to what the metrics use)."""
    if y_type != "multilabel-indicator":
        if samplewise:
            raise ValueError(
                "average: Samplewise metrics are not available outside of multilabel "
                "classification."
            )
        if labels is None:
            lab = present
            n_labels = None
        else:
            lab = np.asarray(labels).ravel()
            n_labels = lab.shape[0]
            lab = np.concatenate([lab, np.setdiff1d(present, lab, assume_unique=True)])
        cm = _counts(yt, yp, lab, w).astype(np.float64 if w is not None else np.int64)
        if w is None and not np.trace(cm):
            # scikit-learn's bincount path: with no true positive at all its sums are
            # float zeros, and the support comes back as float64.
            cm = cm.astype(np.float64)
        tp = np.diag(cm)[:n_labels]
        pred = cm.sum(axis=0)[:n_labels]
        true = cm.sum(axis=1)[:n_labels]
        total = yt.shape[0] if w is None else w.sum()
        return tp, pred, true, total
    t = yt != 0
    p = yp != 0
    if labels is not None:
        lab = np.asarray(labels).ravel()
        if lab.max() >= t.shape[1]:
            raise ValueError(
                "labels: All labels must be in [0, n labels) for multilabel targets. "
                f"Got {lab.max()} > {t.shape[1] - 1}"
            )
        if lab.min() < 0:
            raise ValueError(
                "labels: All labels must be in [0, n labels) for multilabel targets. "
                f"Got {lab.min()} < 0"
            )
        t, p = t[:, lab], p[:, lab]
    axis = 1 if samplewise else 0
    tp_m = t & p
    if w is None or samplewise:
        tp, pred, true = tp_m.sum(axis=axis), p.sum(axis=axis), t.sum(axis=axis)
    else:
        tp, pred, true = w @ tp_m, w @ p, w @ t
    total = t.shape[1] if samplewise else (t.shape[0] if w is None else w.sum())
    return tp, pred, true, total


# ------------------------------------------------------------------------- prf family


def _check_zero_division(zero_division: Any) -> np.float64:
    if isinstance(zero_division, str) and zero_division == "warn":
        return np.float64(0.0)
    if isinstance(zero_division, (int, float)) and zero_division in [0, 1]:
        return np.float64(zero_division)
    if isinstance(zero_division, float) and np.isnan(zero_division):
        return np.float64(np.nan)
    raise InvalidParameterError(
        f"zero_division: must be 'warn', 0.0, 1.0 or np.nan, got {zero_division!r}"
    )


def _warn_prf(average: Any, modifier: str, msg_start: str, result_size: int) -> None:
    axis0, axis1 = "sample", "label"
    if average == "samples":
        axis0, axis1 = axis1, axis0
    msg = (
        f"{msg_start} ill-defined and being set to 0.0 {{0}} no {modifier} {axis0}s. "
        "Use `zero_division` parameter to control this behavior."
    )
    msg = msg.format("due to" if result_size == 1 else f"in {axis1}s with")
    warnings.warn(msg, UndefinedMetricWarning, stacklevel=4)


def _prf_divide(
    numerator: np.ndarray,
    denominator: np.ndarray,
    metric: str,
    modifier: str,
    average: Any,
    warn_for: Any,
    zero_division: Any = "warn",
) -> np.ndarray:
    numerator = np.asarray(numerator)
    denominator = np.asarray(denominator)
    mask = denominator == 0
    denominator = np.array(denominator, dtype=np.float64, copy=True)
    denominator[mask] = 1  # no inf/nan; masked entries are replaced below
    result = np.asarray(numerator, dtype=np.float64) / denominator
    if not np.any(mask):
        return result
    result[mask] = _check_zero_division(zero_division)
    if zero_division != "warn" or metric not in warn_for:
        return result
    _warn_prf(average, modifier, f"{metric.capitalize()} is", result.shape[0])
    return result


def _nanaverage(a: np.ndarray, weights: Any = None) -> float:
    """scikit-learn's ``_nanaverage``: weighted mean ignoring NaNs."""
    if a.shape[0] == 0:
        return np.nan
    mask = np.isnan(a)
    if np.all(mask):
        return np.nan
    if weights is None:
        return float(np.nanmean(a))
    weights = np.asarray(weights)
    a, weights = a[~mask], weights[~mask]
    try:
        return float(np.average(a, weights=weights))
    except ZeroDivisionError:
        return float(np.average(a))


def _set_wise_labels(
    y_type: str, present: np.ndarray, average: Any, labels: Any, pos_label: Any
) -> Any:
    """scikit-learn's ``_check_set_wise_labels`` after the targets were checked."""
    if average == "binary":
        if y_type == "binary":
            if pos_label not in present.tolist() and len(present) >= 2:
                raise ValueError(
                    f"pos_label: pos_label={pos_label} is not a valid label. It should be "
                    f"one of {present}"
                )
            return [pos_label]
        options = list(_AVERAGES)
        if y_type == "multiclass":
            options.remove("samples")
        raise ValueError(
            f"average: Target is {y_type} but average='binary'. Please choose another "
            f"average setting, one of {options!r}."
        )
    if pos_label not in (None, 1):
        warnings.warn(
            f"Note that pos_label (set to {pos_label!r}) is ignored when average != "
            f"'binary' (got {average!r}). You may use labels=[pos_label] to specify a "
            "single positive class.",
            UserWarning,
            stacklevel=4,
        )
    return labels


def precision_recall_fscore_support(
    y_true: Any,
    y_pred: Any,
    *,
    beta: float = 1.0,
    labels: Any = None,
    pos_label: Any = 1,
    average: Optional[str] = None,
    warn_for: Any = ("precision", "recall", "f-score"),
    sample_weight: Any = None,
    zero_division: Any = "warn",
) -> tuple:
    """Precision, recall, F-beta and support per class or averaged, as
    ``sklearn.metrics.precision_recall_fscore_support``.

    ``average`` is None (per class), "binary" (``pos_label`` only), "micro", "macro",
    "weighted" or "samples" (multilabel). ``zero_division`` ("warn", 0, 1 or NaN) is the
    value of an undefined ratio.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_labels)
        True labels, or a multilabel indicator matrix.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_labels)
        Predicted labels, in the same format as ``y_true``.
    beta : float, default 1.0
        Weight of recall in the F-score (F-beta).
    labels : array-like, optional
        The labels to include (and their order); by default every label present.
    pos_label : int, float, bool or str, default 1
        The class reported with ``average="binary"``.
    average : {"binary", "micro", "macro", "weighted", "samples"} or None, default None
        "binary" reports ``pos_label`` only; None returns the per-class values.
    warn_for : tuple of str, default ("precision", "recall", "f-score")
        Which undefined metrics warn.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    zero_division : {"warn", 0.0, 1.0, np.nan}, default "warn"
        Value of an undefined ratio; "warn" gives 0 and warns.

    Returns
    -------
    precision, recall, fbeta : float or ndarray of shape (n_labels,)
        Per label, or averaged when ``average`` is not None.
    support : ndarray of shape (n_labels,) or None
        True samples per label; None when averaged.

    Raises
    ------
    ValueError
        If a parameter (``beta`` < 0, ``average``) is invalid (an
        ``InvalidParameterError``, also a ``TypeError``), the targets are of mixed or
        unsupported types, ``pos_label`` is not a label with ``average="binary"``, or
        ``average="binary"`` is asked of a multiclass target.

    Examples
    --------
    >>> p, r, f, s = precision_recall_fscore_support([0, 1, 2, 2], [0, 2, 2, 2], zero_division=0)
    >>> p.tolist(), r.tolist(), s.tolist()
    ([1.0, 0.0, 0.6666666666666666], [1.0, 0.0, 1.0], [1, 1, 2])
    """
    _check_zero_division(zero_division)
    if average not in _AVERAGES and average != "binary":
        raise InvalidParameterError("average: has to be one of " + str(_AVERAGES))
    if not isinstance(beta, (int, float, np.number)) or beta < 0:
        raise InvalidParameterError(f"beta: must be a non-negative number, got {beta!r}")
    check_pos_label(pos_label)
    check_weight_kind(sample_weight)
    y_type, present, yt, yp = _check_targets(y_true, y_pred, sparse=True)
    assert present is not None
    w = weight_array(sample_weight, yt.shape[0], column=False)
    labels = _set_wise_labels(y_type, present, average, labels, pos_label)
    samplewise = average == "samples"
    tp_sum, pred_sum, true_sum, _ = _label_sums(y_type, present, yt, yp, w, labels, samplewise)
    if average == "micro":
        tp_sum = np.array([tp_sum.sum()])
        pred_sum = np.array([pred_sum.sum()])
        true_sum = np.array([true_sum.sum()])
    beta2 = beta**2
    precision = _prf_divide(
        tp_sum, pred_sum, "precision", "predicted", average, warn_for, zero_division
    )
    recall = _prf_divide(tp_sum, true_sum, "recall", "true", average, warn_for, zero_division)
    if np.isposinf(beta):
        f_score = recall
    elif beta == 0:
        f_score = precision
    else:
        denom = beta2 * true_sum.astype(np.float64) + pred_sum.astype(np.float64)
        f_score = _prf_divide(
            (1 + beta2) * tp_sum.astype(np.float64),
            denom,
            "f-score",
            "true nor predicted",
            average,
            warn_for,
            zero_division,
        )
    if average == "weighted":
        weights: Any = true_sum
    elif average == "samples":
        weights = w
    else:
        weights = None
    if average is not None:
        return (
            _nanaverage(precision, weights),
            _nanaverage(recall, weights),
            _nanaverage(f_score, weights),
            None,
        )
    return precision, recall, f_score, true_sum


def fbeta_score(
    y_true: Any,
    y_pred: Any,
    *,
    beta: float,
    labels: Any = None,
    pos_label: Any = 1,
    average: Optional[str] = "binary",
    sample_weight: Any = None,
    zero_division: Any = "warn",
) -> Union[float, np.ndarray]:
    """F-beta score, as ``sklearn.metrics.fbeta_score``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_labels)
        True labels, or a multilabel indicator matrix.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_labels)
        Predicted labels, in the same format as ``y_true``.
    beta : float
        Weight of recall relative to precision (>= 0).
    labels : array-like, optional
        The labels to include (and their order); by default every label present.
    pos_label : int, float, bool or str, default 1
        The class reported with ``average="binary"``.
    average : {"binary", "micro", "macro", "weighted", "samples"} or None, default "binary"
        "binary" reports ``pos_label`` only; None returns the per-class values.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    zero_division : {"warn", 0.0, 1.0, np.nan}, default "warn"
        Value of an undefined ratio; "warn" gives 0 and warns.

    Returns
    -------
    float or ndarray of shape (n_labels,)
        The F-beta score, or one per label with ``average=None``.

    Raises
    ------
    ValueError
        If a parameter (``beta`` < 0, ``average``) is invalid (an
        ``InvalidParameterError``, also a ``TypeError``), the targets are of mixed or
        unsupported types, ``pos_label`` is not a label with ``average="binary"``, or
        ``average="binary"`` is asked of a multiclass target.

    Examples
    --------
    >>> fbeta_score([0, 1, 1, 0], [0, 1, 0, 0], beta=1)
    0.6666666666666666
    """
    _, _, f, _ = precision_recall_fscore_support(
        y_true,
        y_pred,
        beta=beta,
        labels=labels,
        pos_label=pos_label,
        average=average,
        warn_for=("f-score",),
        sample_weight=sample_weight,
        zero_division=zero_division,
    )
    return f


def f1_score(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: Optional[str] = "binary",
    sample_weight: Any = None,
    zero_division: Any = "warn",
) -> Union[float, np.ndarray]:
    """F1 score (harmonic mean of precision and recall), as ``sklearn.metrics.f1_score``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_labels)
        True labels, or a multilabel indicator matrix.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_labels)
        Predicted labels, in the same format as ``y_true``.
    labels : array-like, optional
        The labels to include (and their order); by default every label present.
    pos_label : int, float, bool or str, default 1
        The class reported with ``average="binary"``.
    average : {"binary", "micro", "macro", "weighted", "samples"} or None, default 'binary'
        "binary" reports ``pos_label`` only; None returns the per-class values.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    zero_division : {"warn", 0.0, 1.0, np.nan}, default "warn"
        Value of an undefined ratio; "warn" gives 0 and warns.

    Returns
    -------
    float or ndarray of shape (n_labels,)
        The F1 score, or one per label with ``average=None``.

    Raises
    ------
    ValueError
        If a parameter is invalid (an ``InvalidParameterError``, also a ``TypeError``), the
        targets are of mixed or unsupported types, ``pos_label`` is not a label with
        ``average="binary"``, or ``average="binary"`` is asked of a multiclass target.

    Examples
    --------
    >>> f1_score([0, 1, 2, 2], [0, 2, 2, 2], average="macro", zero_division=0)
    0.6
    """
    return fbeta_score(
        y_true,
        y_pred,
        beta=1,
        labels=labels,
        pos_label=pos_label,
        average=average,
        sample_weight=sample_weight,
        zero_division=zero_division,
    )


def precision_score(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: Optional[str] = "binary",
    sample_weight: Any = None,
    zero_division: Any = "warn",
) -> Union[float, np.ndarray]:
    """Precision tp / (tp + fp), as ``sklearn.metrics.precision_score``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_labels)
        True labels, or a multilabel indicator matrix.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_labels)
        Predicted labels, in the same format as ``y_true``.
    labels : array-like, optional
        The labels to include (and their order); by default every label present.
    pos_label : int, float, bool or str, default 1
        The class reported with ``average="binary"``.
    average : {"binary", "micro", "macro", "weighted", "samples"} or None, default 'binary'
        "binary" reports ``pos_label`` only; None returns the per-class values.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    zero_division : {"warn", 0.0, 1.0, np.nan}, default "warn"
        Value of an undefined ratio; "warn" gives 0 and warns.

    Returns
    -------
    float or ndarray of shape (n_labels,)
        The precision, or one per label with ``average=None``.

    Raises
    ------
    ValueError
        If a parameter is invalid (an ``InvalidParameterError``, also a ``TypeError``), the
        targets are of mixed or unsupported types, ``pos_label`` is not a label with
        ``average="binary"``, or ``average="binary"`` is asked of a multiclass target.

    Examples
    --------
    >>> precision_score([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    p, _, _, _ = precision_recall_fscore_support(
        y_true,
        y_pred,
        labels=labels,
        pos_label=pos_label,
        average=average,
        warn_for=("precision",),
        sample_weight=sample_weight,
        zero_division=zero_division,
    )
    return p


def recall_score(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: Optional[str] = "binary",
    sample_weight: Any = None,
    zero_division: Any = "warn",
) -> Union[float, np.ndarray]:
    """Recall tp / (tp + fn), as ``sklearn.metrics.recall_score``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_labels)
        True labels, or a multilabel indicator matrix.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_labels)
        Predicted labels, in the same format as ``y_true``.
    labels : array-like, optional
        The labels to include (and their order); by default every label present.
    pos_label : int, float, bool or str, default 1
        The class reported with ``average="binary"``.
    average : {"binary", "micro", "macro", "weighted", "samples"} or None, default 'binary'
        "binary" reports ``pos_label`` only; None returns the per-class values.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    zero_division : {"warn", 0.0, 1.0, np.nan}, default "warn"
        Value of an undefined ratio; "warn" gives 0 and warns.

    Returns
    -------
    float or ndarray of shape (n_labels,)
        The recall, or one per label with ``average=None``.

    Raises
    ------
    ValueError
        If a parameter is invalid (an ``InvalidParameterError``, also a ``TypeError``), the
        targets are of mixed or unsupported types, ``pos_label`` is not a label with
        ``average="binary"``, or ``average="binary"`` is asked of a multiclass target.

    Examples
    --------
    >>> recall_score([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    _, r, _, _ = precision_recall_fscore_support(
        y_true,
        y_pred,
        labels=labels,
        pos_label=pos_label,
        average=average,
        warn_for=("recall",),
        sample_weight=sample_weight,
        zero_division=zero_division,
    )
    return r


# ------------------------------------------------------------------ matrix summaries


def balanced_accuracy_score(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, adjusted: bool = False
) -> float:
    """Mean per-class recall, as ``sklearn.metrics.balanced_accuracy_score``; with
    ``adjusted=True`` rescaled so that chance is 0 and perfect is 1.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    adjusted : bool, default False
        Rescale so that chance scores 0 and perfect 1.

    Returns
    -------
    float
        The balanced accuracy.

    Raises
    ------
    ValueError
        If ``adjusted`` is not a bool (an ``InvalidParameterError``, also a ``TypeError``) or
        the targets are not binary or multiclass.

    Examples
    --------
    >>> balanced_accuracy_score([0, 1, 0, 0, 1, 0], [0, 1, 0, 0, 0, 1])
    0.625
    """
    if not isinstance(adjusted, (bool, np.bool_)):
        raise InvalidParameterError(f"adjusted: must be a bool, got {adjusted!r}")
    C = confusion_matrix(y_true, y_pred, sample_weight=sample_weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.diag(C) / C.sum(axis=1)
    if np.any(np.isnan(per_class)):
        warnings.warn("y_pred contains classes not in y_true", stacklevel=2)
        per_class = per_class[~np.isnan(per_class)]
    score = np.mean(per_class)
    if adjusted:
        n_classes = per_class.shape[0]
        chance = 1 / n_classes
        score -= chance
        score /= 1 - chance
    return float(score)


def cohen_kappa_score(
    y1: Any,
    y2: Any,
    *,
    labels: Any = None,
    weights: Optional[str] = None,
    sample_weight: Any = None,
    replace_undefined_by: float = np.nan,
) -> float:
    """Cohen's kappa (Cohen 1960; weighted kappa, Cohen 1968), as
    ``sklearn.metrics.cohen_kappa_score``: ``weights`` is None, "linear" or "quadratic".

    Parameters
    ----------
    y1 : array-like of shape (n_samples,)
        Labels of the first annotator.
    y2 : array-like of shape (n_samples,)
        Labels of the second annotator.
    labels : array-like of shape (n_classes,), optional
        Labels to index the confusion matrix; by default those in ``y1`` or ``y2``.
    weights : {"linear", "quadratic"} or None, default None
        Disagreement weights of the weighted kappa; None is unweighted.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    replace_undefined_by : float, default nan
        Value returned when kappa is undefined (both raters constant).

    Returns
    -------
    float
        Kappa, between -1 and 1.

    Raises
    ------
    ValueError
        If ``weights`` is invalid (an ``InvalidParameterError``, also a ``TypeError``), no
        label of ``labels`` occurs in ``y1``, or the targets are not binary or multiclass.

    References
    ----------
    Cohen, J. (1960). A coefficient of agreement for nominal scales. Educational and
    Psychological Measurement 20(1). Cohen, J. (1968). Weighted kappa. Psychological
    Bulletin 70(4).

    Examples
    --------
    >>> round(cohen_kappa_score([0, 1, 2, 2], [0, 2, 2, 2]), 4)
    0.5556
    """
    if weights not in (None, "linear", "quadratic"):
        raise InvalidParameterError(
            f"weights: must be None, 'linear' or 'quadratic', got {weights!r}"
        )
    try:
        confusion = confusion_matrix(y1, y2, labels=labels, sample_weight=sample_weight)
    except ValueError as e:
        if "At least one label specified must be in y_true" in str(e):
            raise ValueError(
                "labels: At least one label in `labels` must be present in `y1` (even "
                "though `cohen_kappa_score` is otherwise agnostic to the order of `y1` "
                "and `y2`)."
            ) from e
        raise
    n_classes = confusion.shape[0]
    confusion = confusion.astype(np.float64, copy=False)
    sum0 = np.sum(confusion, axis=0)
    sum1 = np.sum(confusion, axis=1)
    numerator = np.outer(sum0, sum1)
    denominator = np.sum(sum0)
    if denominator == 0:
        warnings.warn(
            "`y2` contains no labels that are present in both `y1` and `labels`."
            "`cohen_kappa_score` is undefined and set to the value defined by the "
            f"`replace_undefined_by` param, which is set to {replace_undefined_by}.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return replace_undefined_by
    expected = numerator / denominator
    if weights is None:
        w_mat = np.ones([n_classes, n_classes], dtype=np.float64)
        np.fill_diagonal(w_mat, 0)
    else:
        w_mat = np.zeros([n_classes, n_classes], dtype=np.float64)
        w_mat += np.arange(n_classes)
        if weights == "linear":
            w_mat = np.abs(w_mat - w_mat.T)
        else:
            w_mat = (w_mat - w_mat.T) ** 2
    numerator = np.sum(w_mat * confusion)
    denominator = np.sum(w_mat * expected)
    if denominator == 0:
        warnings.warn(
            "`y1`, `y2` and `labels` have only one label in common. `cohen_kappa_score` "
            "is undefined and set to the value defined by the the `replace_undefined_by` "
            f"param, which is set to {replace_undefined_by}.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return replace_undefined_by
    return float(1 - numerator / denominator)


def matthews_corrcoef(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Matthews correlation coefficient (multiclass R_K of Gorodkin 2004), as
    ``sklearn.metrics.matthews_corrcoef``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.

    Returns
    -------
    float
        The coefficient, between -1 and 1 (0 when undefined).

    Raises
    ------
    ValueError
        If the targets are not binary or multiclass or are of mixed types.

    References
    ----------
    Gorodkin, J. (2004). Comparing two K-category assignments by a K-category correlation
    coefficient. Computational Biology and Chemistry 28(5-6).

    Examples
    --------
    >>> matthews_corrcoef([1, 1, 1, 0], [1, 0, 1, 1])
    -0.3333333333333333
    """
    check_weight_kind(sample_weight)
    y_type, present, yt, yp = _check_targets(y_true, y_pred)
    if y_type not in ("binary", "multiclass"):
        raise ValueError(f"y_true: {y_type} is not supported")
    assert present is not None
    w = weight_array(sample_weight, yt.shape[0], column=False)
    C = _finish_cm(_counts(yt, yp, present, w), None)  # warns on a single label, as sklearn
    t_sum = C.sum(axis=1, dtype=np.float64)
    p_sum = C.sum(axis=0, dtype=np.float64)
    n_correct = np.trace(C, dtype=np.float64)
    n_samples = p_sum.sum()
    cov_ytyp = n_correct * n_samples - np.dot(t_sum, p_sum)
    cov_ypyp = n_samples**2 - np.dot(p_sum, p_sum)
    cov_ytyt = n_samples**2 - np.dot(t_sum, t_sum)
    cov_ypyp_ytyt = cov_ypyp * cov_ytyt
    if cov_ypyp_ytyt == 0:
        return 0.0
    return float(cov_ytyp / np.sqrt(cov_ypyp_ytyt))


def top_k_accuracy_score(
    y_true: Any,
    y_score: Any,
    *,
    k: int = 2,
    normalize: bool = True,
    sample_weight: Any = None,
    labels: Any = None,
) -> float:
    """Fraction of samples whose true class is among the ``k`` highest scores, as
    ``sklearn.metrics.top_k_accuracy_score`` (same tie order). One pass in Rust.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (binary or multiclass).
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        Scores; 1-D for a binary target (score of the greater label).
    k : int, default 2
        Number of highest scores that count as a hit.
    normalize : bool, default True
        Return the fraction; False returns the (weighted) count.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    labels : array-like of shape (n_classes,), optional
        Sorted unique labels indexing the columns of ``y_score``.

    Returns
    -------
    float
        The top-k accuracy (or count of hits).

    Raises
    ------
    ValueError
        If ``k`` or ``normalize`` is invalid (an ``InvalidParameterError``, also a
        ``TypeError``), ``y_true`` is not 1-D binary or multiclass, ``y_score``'s columns do
        not match the classes, or ``labels`` is not unique, ordered or covering ``y_true``.

    Examples
    --------
    >>> y_score = [[0.5, 0.2, 0.2], [0.3, 0.4, 0.2], [0.2, 0.4, 0.3], [0.7, 0.2, 0.1]]
    >>> top_k_accuracy_score([0, 1, 2, 2], y_score, k=2)
    0.75
    """
    check_weight_kind(sample_weight)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidParameterError(f"k: must be an integer >= 1, got {k!r}")
    if not isinstance(normalize, (bool, np.bool_)):
        raise InvalidParameterError(f"normalize: must be a bool, got {normalize!r}")
    y = labels_array(y_true, "y_true")
    if y.ndim != 1:
        raise ValueError(f"y_true: expected a 1-D array, got shape {y.shape}")
    y_type, classes = target_type(y)
    if y_type == "binary" and labels is not None and len(labels) > 2:
        y_type = "multiclass"
    if y_type not in ("binary", "multiclass"):
        raise ValueError(
            f"y_true: y type must be 'binary' or 'multiclass', got '{y_type}' instead."
        )
    s = score_array(y_score)
    # One parallel pass in Rust: no n x C boolean temporary.
    _core.check_finite(s.reshape(s.shape[0], -1))
    if y_type == "binary":
        if s.ndim == 2 and s.shape[1] != 1:
            raise ValueError(
                f"y_score: `y_true` is binary while y_score is 2d with {s.shape[1]} classes. "
                "If `y_true` does not contain all the labels, `labels` must be provided."
            )
    elif s.ndim != 2:
        raise ValueError(
            "y_score: needs to be of shape (n_samples, n_classes), since y_true contains "
            f"multiple classes. Got y_score.shape={s.shape}."
        )
    check_length(y, s, "y_score")
    w = weight_array(sample_weight, y.shape[0], nonzero=False, strict=False)
    n_score_classes = s.shape[1] if s.ndim == 2 else 2
    if labels is None:
        assert classes is not None
        n_classes = len(classes)
        if n_classes != n_score_classes:
            raise ValueError(
                f"y_score: Number of classes in 'y_true' ({n_classes}) not equal to the "
                f"number of classes in 'y_score' ({n_score_classes}).You can provide a list "
                "of all known classes by assigning it to the `labels` parameter."
            )
    else:
        lab = np.asarray(labels).ravel()
        classes = np.unique(lab)
        n_classes = len(classes)
        if n_classes != len(lab):
            raise ValueError("labels: Parameter 'labels' must be unique.")
        if not np.array_equal(classes, lab):
            raise ValueError("labels: Parameter 'labels' must be ordered.")
        if n_classes != n_score_classes:
            raise ValueError(
                f"labels: Number of given labels ({n_classes}) not equal to the number of "
                f"classes in 'y_score' ({n_score_classes})."
            )
        if len(np.setdiff1d(y, classes)):
            raise ValueError("y_true: 'y_true' contains labels not in parameter 'labels'.")
    if k >= n_classes:
        warnings.warn(
            f"'k' ({k}) greater than or equal to 'n_classes' ({n_classes}) will result in a "
            "perfect score and is therefore meaningless.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
    enc = np.searchsorted(classes, y)
    if y_type == "binary":
        if k == 1:
            s = widen_half(s)  # (n,) or (n, 1): O(n), exact
            threshold = 0.5 if s.min() >= 0 and s.max() <= 1 else 0
            hits = (s > threshold).astype(np.int64) == enc
        else:
            hits = np.ones_like(s, dtype=np.bool_)
    else:
        hits = _core.top_k_hits(np.ascontiguousarray(enc, dtype=np.uint32), s, int(k)).view(
            np.bool_
        )
    if normalize:
        return float(np.average(hits, weights=w))
    if w is None:
        return float(np.sum(hits))
    return float(np.dot(hits, w))


def geometric_mean_score(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: Optional[str] = "multiclass",
    sample_weight: Any = None,
    correction: float = 0.0,
) -> Union[float, np.ndarray]:
    """Geometric mean of per-class recalls (Kubat & Matwin 1997), as
    ``imblearn.metrics.geometric_mean_score``.

    With the default ``average="multiclass"`` it is the geometric mean of the recalls of
    all classes, a recall of 0 being replaced by ``correction``; other averages give
    sqrt(sensitivity * specificity) averaged as in imbalanced-learn.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like, optional
        The labels to include (and their order); by default every label present.
    pos_label : int, float, bool or str, default 1
        The class reported with ``average="binary"``.
    average : {"multiclass", "binary", "micro", "macro", "weighted"} or None, default "multiclass"
        "multiclass" is the geometric mean of all recalls; the others average
        sqrt(sensitivity * specificity) per label; None returns them per label.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    correction : float, default 0.0
        Value replacing a recall of 0 (``average="multiclass"`` only).

    Returns
    -------
    float or ndarray of shape (n_labels,)
        The geometric mean, or one per label with ``average=None``.

    Raises
    ------
    ValueError
        If ``correction`` < 0 or ``average`` is invalid (an ``InvalidParameterError``, also
        a ``TypeError``), the target is multilabel, or ``pos_label`` is not a label.
    TypeError
        If ``sample_weight`` is not numeric.

    References
    ----------
    Kubat, M. and Matwin, S. (1997). Addressing the curse of imbalanced training sets:
    one-sided selection. ICML.

    Examples
    --------
    >>> y_true, y_pred = [0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1]
    >>> float(geometric_mean_score(y_true, y_pred))
    0.0
    >>> float(round(geometric_mean_score(y_true, y_pred, correction=0.001), 6))
    0.01
    """
    from scipy import stats

    check_pos_label(pos_label, allow_float=False)
    check_weight_kind(sample_weight)
    if not (isinstance(correction, numbers.Real) and correction >= 0):
        raise InvalidParameterError(f"correction: must be a real number >= 0, got {correction!r}")
    if average is None or average != "multiclass":
        sen, spe = _sensitivity_specificity(
            y_true,
            y_pred,
            labels=labels,
            pos_label=pos_label,
            average=average,
            sample_weight=sample_weight,
        )
        return np.sqrt(sen * spe)
    y_type, present, yt, yp = _check_targets(y_true, y_pred)
    assert present is not None
    if y_type == "multilabel-indicator":
        raise ValueError("y_true: multilabel targets are not supported (as imbalanced-learn)")
    for y in (y_true, y_pred):
        if np.ndim(y) == 2:  # imbalanced-learn's LabelEncoder.transform of a column
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change "
                "the shape of y to (n_samples, ), for example using ravel().",
                DataConversionWarning,
                stacklevel=2,
            )
    # imbalanced-learn's multiclass path only indexes with the weights (no other check)
    # and bincounts them: NaN propagates, zeros are fine, complex is a TypeError.
    w = weight_array(sample_weight, yt.shape[0], strict=False)
    if w is not None:
        if w.ndim != 1:
            raise ValueError(f"sample_weight: expected a 1-D array, got shape {w.shape}")
        if w.dtype.kind not in "iuf":
            raise TypeError(f"sample_weight: cannot count with {w.dtype} weights")
        w = np.ascontiguousarray(w, dtype=np.float64)
    if labels is None:
        lab = present
        n_labels = None
    else:
        lab = np.asarray(labels).ravel()
        n_labels = len(lab)
        lab = np.hstack([lab, np.setdiff1d(present, lab, assume_unique=True)])
    C = _counts(yt, yp, lab, w).astype(np.float64)
    tp_sum = np.diag(C)[:n_labels]
    true_sum = C.sum(axis=1)[:n_labels]
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = _prf_divide(tp_sum, true_sum, "recall", "true", None, "recall")
    recall[recall == 0] = correction
    with np.errstate(divide="ignore", invalid="ignore"):
        gmean = stats.gmean(recall)
    if isinstance(gmean, np.ma.core.MaskedConstant):
        return 0.0
    return np.float64(gmean)


def _sensitivity_specificity(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any,
    pos_label: Any,
    average: Any,
    sample_weight: Any,
) -> tuple:
    """imbalanced-learn's ``sensitivity_specificity_support`` (sensitivity, specificity)."""
    if average not in _AVERAGES and average != "binary":
        raise InvalidParameterError("average: has to be one of " + str(_AVERAGES))
    y_type, present, yt, yp = _check_targets(y_true, y_pred)
    assert present is not None
    w = weight_array(sample_weight, yt.shape[0], column=False)
    if y_type == "multilabel-indicator" and average != "binary":
        raise ValueError("y_true: multilabel targets are not supported (as imbalanced-learn)")
    if average == "binary":
        if y_type == "binary":
            if pos_label not in present.tolist():
                if len(present) < 2:
                    return 0.0, 0.0
                raise ValueError(
                    f"pos_label: pos_label={pos_label!r} is not a valid label: {present!r}"
                )
            labels = [pos_label]
        else:
            raise ValueError(
                f"average: Target is {y_type} but average='binary'. Please choose another "
                "average setting."
            )
    elif pos_label not in (None, 1):
        warnings.warn(
            f"The pos_label={pos_label!r} will be ignored when average != 'binary' (got "
            f"{average!r}). You may use labels=[pos_label] to specify a single positive "
            "class.",
            UserWarning,
            stacklevel=3,
        )
    samplewise = average == "samples"
    tp_sum, pred_sum, true_sum, _ = _label_sums(y_type, present, yt, yp, w, labels, samplewise)
    # imbalanced-learn counts the negatives as n - (pred + true - tp): the unweighted
    # number of samples even when the sums are weighted.
    tn_sum = yt.shape[0] - pred_sum - true_sum + tp_sum
    neg_sum = tn_sum + pred_sum - tp_sum
    if average == "micro":
        tp_sum = np.array([tp_sum.sum()])
        tn_sum = np.array([tn_sum.sum()])
        true_sum = np.array([true_sum.sum()])
        neg_sum = np.array([neg_sum.sum()])
    warn_for = ("specificity", "specificity")
    with np.errstate(divide="ignore", invalid="ignore"):
        specificity = _prf_divide(tn_sum, neg_sum, "specificity", "negatives", average, warn_for)
        sensitivity = _prf_divide(tp_sum, true_sum, "sensitivity", "true", average, warn_for)
    if average == "weighted":
        weights: Any = true_sum
        if weights.sum() == 0:
            return 0.0, 0.0
    elif average == "samples":
        weights = w
    else:
        weights = None
    if average is not None:
        assert average != "binary" or len(specificity) == 1
        specificity = float(np.average(specificity, weights=weights))
        sensitivity = float(np.average(sensitivity, weights=weights))
    return sensitivity, specificity
