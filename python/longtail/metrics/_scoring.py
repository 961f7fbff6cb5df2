"""Accuracy and proper scoring rules, scikit-learn compatible: ``accuracy_score``,
``log_loss`` and ``brier_score_loss``.

The arithmetic follows scikit-learn 1.9's ``sklearn/metrics/_classification.py`` step
by step (clipping to the float type's eps, one-hot targets in sorted label order, the
binary ``pos_label`` rule, the multiclass Brier score), so that results agree to 1e-12
and errors are raised in the same places. Brier (1950) and the logarithmic score
(Good 1952) are the proper scoring rules of rare-event prediction.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from longtail._checks import to_numpy
from longtail.metrics._classification import _check_targets
from longtail.metrics._validation import check_length, labels_array, unique, weight_array

__all__ = ["accuracy_score", "log_loss", "brier_score_loss"]


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    # The shared reader: scikit-learn's _check_sample_weight, which these metrics call
    # too (a column or all-zero weights are refused, complex and scalars as there).
    return weight_array(sample_weight, n, column=False)


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: must be a bool, got {value!r}")
    return bool(value)


def accuracy_score(
    y_true: Any, y_pred: Any, *, normalize: bool = True, sample_weight: Any = None
) -> float:
    """Fraction (or number, ``normalize=False``) of correct predictions, as
    ``sklearn.metrics.accuracy_score``; subset accuracy for multilabel indicators.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_labels)
        True labels, or a multilabel indicator matrix.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_labels)
        Predicted labels, in the same format as ``y_true``.
    normalize : bool, default True
        Return the fraction; False returns the (weighted) number of correct predictions.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.

    Returns
    -------
    float
        The accuracy (or count of correct predictions).

    Raises
    ------
    ValueError
        If ``normalize`` is not a bool, the targets are of mixed or unsupported types, the
        lengths differ, or ``sample_weight`` is not 1-D or contains NaN or infinity.
    TypeError
        If ``sample_weight`` is not numeric.

    Examples
    --------
    >>> accuracy_score([0, 1, 2, 3], [0, 2, 1, 3])
    0.5
    >>> accuracy_score([0, 1, 2, 3], [0, 2, 1, 3], normalize=False)
    2.0
    """
    normalize = _check_bool(normalize, "normalize")
    kind, _, yt, yp = _check_targets(y_true, y_pred)
    w = _weights(sample_weight, yt.shape[0])
    if kind.startswith("multilabel"):
        score = np.count_nonzero(np.asarray(yt != yp), axis=1) == 0
    else:
        score = yt == yp
    if normalize:
        return float(np.average(score, weights=w))
    if w is not None:
        return float(np.dot(score, w))
    return float(np.sum(score.astype(np.float64)))


def _float_proba(y_proba: Any, name: str) -> np.ndarray:
    """scikit-learn's ``check_array(ensure_2d=False, dtype=(float64, float32))``."""
    arr = to_numpy(y_proba, name)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name}: expected numbers, got dtype {arr.dtype}")
    if arr.ndim > 2:
        raise ValueError(f"{name}: Found array with dim {arr.ndim}, expected <= 2")
    if arr.ndim == 0:
        raise ValueError(f"{name}: expected a 1-D or 2-D array, got a scalar")
    if arr.shape[0] == 0:
        raise ValueError(
            f"{name}: Found array with 0 sample(s) while a minimum of 1 is required"
        )
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    arr = np.asarray(arr, dtype=dtype)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: Input contains NaN or infinity")
    return arr


def _one_hot(y_true: np.ndarray, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``_one_hot_encoding_multiclass_target`` (LabelBinarizer order)."""
    if labels is not None:
        lab = np.asarray(labels)
        classes = np.unique(lab)
        if classes.shape != lab.shape or not np.all(classes == lab):
            warnings.warn(
                f"Labels passed were {labels}. But this function assumes labels are "
                "ordered lexicographically. Pass the ordered "
                f"labels={classes.tolist()} and ensure that the columns of y_prob "
                "correspond to this ordering.",
                UserWarning,
                stacklevel=3,
            )
        if not np.all(np.isin(y_true, lab)):
            undeclared = set(y_true.tolist()) - set(lab.tolist())
            raise ValueError(
                f"y_true: contains values {undeclared} not belonging to the passed labels "
                f"{labels}."
            )
    else:
        if y_true.dtype.kind == "f" and np.any(y_true != np.trunc(y_true)):
            raise ValueError("y_true: Unknown label type: continuous")
        classes = unique(y_true)
    if classes.shape[0] == 1:
        if labels is None:
            raise ValueError(
                f"y_true: contains only one label ({classes[0]}). Please provide the list "
                "of all expected class labels explicitly through the labels argument."
            )
        raise ValueError(
            f"labels: The labels array needs to contain at least two labels, got {classes}."
        )
    if classes.shape[0] == 0:
        raise ValueError("labels: must not be empty")
    pos = np.searchsorted(classes, y_true)
    onehot = np.zeros((y_true.shape[0], classes.shape[0]), dtype=np.int64)
    onehot[np.arange(y_true.shape[0]), np.minimum(pos, classes.shape[0] - 1)] = 1
    return onehot, classes


def _multiclass_proba(
    y_true: Any, p: np.ndarray, w: Any, labels: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """scikit-learn's ``_validate_multiclass_probabilistic_prediction``."""
    if p.max() > 1:
        raise ValueError(f"y_proba: y_prob contains values greater than 1: {p.max()}")
    if p.min() < 0:
        raise ValueError(f"y_proba: y_prob contains values lower than 0: {p.min()}")
    yt = labels_array(y_true, "y_true")
    if yt.ndim != 1:
        raise ValueError(f"y_true: expected a 1-D array of labels, got shape {yt.shape}")
    check_length(yt, p, "y_proba")
    weights = _weights(w, yt.shape[0])
    onehot, classes = _one_hot(yt, labels)
    if p.ndim == 1:
        p = p[:, None]
    if p.shape[1] == 1:
        p = np.concatenate([1 - p, p], axis=1)
    eps = np.finfo(p.dtype).eps
    if not np.allclose(p.sum(axis=1), 1, rtol=math.sqrt(eps), atol=0):
        warnings.warn(
            "The y_prob values do not sum to one. Make sure to pass probabilities.",
            UserWarning,
            stacklevel=3,
        )
    if classes.shape[0] != p.shape[1]:
        if labels is None:
            raise ValueError(
                "y_true: y_true and y_prob contain different number of classes: "
                f"{classes.shape[0]} vs {p.shape[1]}. Please provide the true labels "
                f"explicitly through the labels argument. Classes found in y_true: {classes}"
            )
        raise ValueError(
            "labels: The number of classes in labels is different from that in y_prob. "
            f"Classes found in labels: {classes}"
        )
    return onehot, p, weights


def log_loss(
    y_true: Any,
    y_proba: Any = None,
    *,
    normalize: bool = True,
    sample_weight: Any = None,
    labels: Any = None,
    y_pred: Any = "deprecated",
) -> float:
    """Cross-entropy of predicted probabilities, as ``sklearn.metrics.log_loss`` (>= 1.9).

    ``-mean_i sum_k 1[y_i = k] log p_ik`` with probabilities clipped to
    ``[eps, 1 - eps]`` (eps of their float type); a 1-D ``y_proba`` is P(positive class);
    columns are the sorted labels (of ``y_true``, or ``labels``). ``y_pred`` is the
    deprecated name of ``y_proba``. The logarithmic scoring rule (Good 1952).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities; 1-D is P(positive class).
    normalize : bool, default True
        Return the mean loss; False returns the (weighted) sum.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    labels : array-like, optional
        The labels, sorted into the columns of ``y_proba``; by default those of ``y_true``.
    y_pred : array-like, optional
        Deprecated name of ``y_proba``.

    Returns
    -------
    float
        The cross-entropy (natural log).

    Raises
    ------
    ValueError
        If probabilities leave [0, 1] or are not finite, the lengths differ, ``y_true``
        has one label without ``labels`` (or values not in ``labels``), the number of
        columns does not match the labels, or both ``y_pred`` and ``y_proba`` are given.
    TypeError
        If ``y_proba`` is missing or ``sample_weight`` is not numeric.

    References
    ----------
    Good, I. J. (1952). Rational decisions. Journal of the Royal Statistical Society B 14(1).

    Examples
    --------
    >>> y = ["spam", "ham", "ham", "spam"]
    >>> round(log_loss(y, [[.1, .9], [.9, .1], [.8, .2], [.35, .65]]), 6)
    0.216162
    """
    if not (isinstance(y_pred, str) and y_pred == "deprecated"):
        if y_proba is not None:
            raise ValueError(
                "y_pred: Cannot use both `y_pred` and `y_proba`. `y_pred` is deprecated, "
                "use `y_proba` instead."
            )
        warnings.warn(
            "`y_pred` was renamed to `y_proba` in version 1.9 and will be removed in 1.11. "
            "Use `y_proba` instead.",
            FutureWarning,
            stacklevel=2,
        )
        y_proba = y_pred
    if y_proba is None:
        raise TypeError("y_proba: missing the predicted probabilities")
    normalize = _check_bool(normalize, "normalize")
    p = _float_proba(y_proba, "y_proba")
    onehot, p, w = _multiclass_proba(y_true, p, sample_weight, labels)
    eps = np.finfo(p.dtype).eps
    p = np.clip(p, eps, 1 - eps)
    t = onehot.astype(p.dtype)
    # x log y with 0 log 0 = 0, written as scikit-learn's _xlogy (not scipy's xlogy, whose
    # float32 log differs in the last bit).
    with np.errstate(divide="ignore", invalid="ignore"):
        tmp = t * np.log(p)
    loss = -np.sum(np.where(t == 0.0, np.asarray(0.0, dtype=tmp.dtype), tmp), axis=1)
    if normalize:
        return float(np.average(loss, weights=w))
    return float(np.dot(loss, w) if w is not None else np.sum(loss))


def _binary_pos_label(yt: np.ndarray, pos_label: Any) -> Any:
    """scikit-learn's ``pos_label`` rule for binary probabilities: given, or 1 for
    {0, 1} / {-1, 1} labels, or (numbers only) the larger label."""
    if pos_label is not None:
        return pos_label
    classes = np.unique(yt)
    if classes.dtype.kind in "OUS":
        if classes.shape[0] > 2 or not all(c in (0, 1, -1) for c in classes.tolist()):
            shown = ", ".join(repr(c) for c in classes.tolist())
            raise ValueError(
                f"pos_label: y_true takes value in {{{shown}}} and pos_label is not "
                "specified: either make y_true take value in {0, 1} or {-1, 1} or pass "
                "pos_label explicitly."
            )
    allowed = ([0, 1], [-1, 1], [0], [-1], [1])
    if any(classes.tolist() == a for a in allowed):
        return 1
    return classes[-1]


def brier_score_loss(
    y_true: Any,
    y_proba: Any,
    *,
    sample_weight: Any = None,
    pos_label: Any = None,
    labels: Any = None,
    scale_by_half: Any = "auto",
) -> float:
    """Brier score (Brier 1950), as ``sklearn.metrics.brier_score_loss`` (>= 1.7).

    Mean over examples of ``sum_k (1[y = k] - p_k)**2``. A 1-D ``y_proba`` is P(y =
    ``pos_label``) of a binary target (``pos_label`` defaults to 1 for {0, 1} or {-1, 1}
    labels, else the larger label); a 2-D one has a column per sorted label (multiclass).
    ``scale_by_half="auto"`` halves the score for binary input, so that it equals the
    classic ``mean (y - p)**2``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples,) or (n_samples, n_classes)
        P(y = ``pos_label``) of a binary target, or per-class probabilities.
    sample_weight : array-like of shape (n_samples,), optional
        Per-sample weights.
    pos_label : int, float, bool or str, optional
        The positive class of a binary target (1-D ``y_proba``).
    labels : array-like, optional
        The labels, sorted into the columns of a 2-D ``y_proba``.
    scale_by_half : bool or "auto", default "auto"
        Halve the score; "auto" halves it for binary input.

    Returns
    -------
    float
        The Brier score.

    Raises
    ------
    ValueError
        If probabilities leave [0, 1] or are not finite, the lengths differ, a 1-D
        ``y_proba`` comes with a non-binary target, ``pos_label`` is ambiguous or absent,
        or ``scale_by_half`` is invalid.
    TypeError
        If ``sample_weight`` is not numeric.

    References
    ----------
    Brier, G. W. (1950). Verification of forecasts expressed in terms of probability.
    Monthly Weather Review 78(1).

    Examples
    --------
    >>> round(brier_score_loss([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3]), 6)
    0.0375
    >>> round(brier_score_loss([0, 1, 2], [[.8, .1, .1], [.2, .7, .1], [.1, .1, .8]]), 6)
    0.086667
    """
    if not (isinstance(scale_by_half, (bool, np.bool_)) or scale_by_half == "auto"):
        raise ValueError(f"scale_by_half: must be a bool or 'auto', got {scale_by_half!r}")
    p = _float_proba(y_proba, "y_proba")
    if p.ndim == 1 or p.shape[1] == 1:
        p = p.ravel()
        yt = labels_array(y_true, "y_true")
        if yt.ndim != 1:
            raise ValueError(f"y_true: expected a 1-D array of labels, got shape {yt.shape}")
        check_length(yt, p, "y_proba")
        w = _weights(sample_weight, yt.shape[0])
        if yt.dtype.kind == "f" and np.any(yt != np.trunc(yt)):
            kind = "continuous"
        else:
            kind = "binary" if unique(yt).shape[0] <= 2 else "multiclass"
        if kind != "binary":
            raise ValueError(
                f"y_true: The type of the target inferred from y_true is {kind} but should "
                "be binary according to the shape of y_prob."
            )
        if p.max() > 1:
            raise ValueError(f"y_proba: y_prob contains values greater than 1: {p.max()}")
        if p.min() < 0:
            raise ValueError(f"y_proba: y_prob contains values less than 0: {p.min()}")
        pos = _binary_pos_label(yt, pos_label)
        t = (yt == pos).astype(np.int64)
        onehot = np.stack([1 - t, t], axis=1)
        p = np.stack([1 - p, p], axis=1)
    else:
        onehot, p, w = _multiclass_proba(y_true, p, sample_weight, labels)
    score = np.average(np.sum((onehot.astype(p.dtype) - p) ** 2, axis=1), weights=w)
    if scale_by_half == "auto":
        scale_by_half = p.shape[1] < 3
    if scale_by_half:
        score *= 0.5
    return float(score)
