"""Per-class numbers people can trust: confidence intervals, paired comparisons and
group disparity.

A tail class often has 5-30 test examples, so its recall is noise unless it comes with
an interval. :func:`class_intervals` gives one per class (Wilson 1927, or a stratified
bootstrap), :func:`bootstrap_interval` one for a summary metric,
:func:`compare_predictions` says which classes changed between two models (paired
bootstrap of the delta, McNemar's exact test per class, Holm's correction), and
:func:`group_report` summarises per-class numbers by group (shot groups by default).

The stratified bootstrap resamples the examples of each true class with replacement.
Counting where resampled examples land is a multinomial draw on the class's row of the
confusion table, so the Rust kernel (``rust/core/src/metrics/bootstrap.rs``) draws
those instead: O(resamples x C^2) at most, independent of the number of examples.
Ranking metrics and the calibration error weight every example by a Poisson(1) count
over one sort of the scores.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.stats import binom, norm

from longtail import _core
from longtail._checks import as_scores, check_positive_int
from longtail.metrics._classification import _counts, _union_labels
from longtail.metrics._validation import check_length, labels_array

__all__ = [
    "class_intervals",
    "bootstrap_interval",
    "compare_predictions",
    "group_report",
    "wilson_interval",
    "mcnemar_exact",
    "holm",
]

_CLASS_METRICS = ("recall", "precision", "f1")
_SUMMARY_METRICS = ("balanced_accuracy", "macro_f1", "accuracy")
_RANK_METRICS = ("roc_auc", "average_precision")
_ALL_METRICS = _SUMMARY_METRICS + _RANK_METRICS + ("ece",)


# ----------------------------------------------------------------------------- checks


def _check_confidence(confidence: Any) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)):
        raise TypeError(f"confidence: expected a number in (0, 1), got {confidence!r}")
    if not 0 < float(confidence) < 1:
        raise ValueError(f"confidence: must lie in (0, 1), got {confidence!r}")
    return float(confidence)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an integer, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed: must lie in [0, 2**64), got {seed}")
    return int(seed)


def _check_choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def _labels_1d(y: Any, name: str) -> np.ndarray:
    arr = labels_array(y, name)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of class labels, got shape {arr.shape}")
    if arr.dtype.kind == "f" and np.any(arr != np.trunc(arr)):
        raise ValueError(f"{name}: class labels must be integers or strings, got fractions")
    return arr


def _classes(yt: np.ndarray, *preds: np.ndarray) -> np.ndarray:
    """Sorted union of the labels of ``yt`` and ``preds`` (scikit-learn's unique_labels)."""
    for p in preds:
        check_length(yt, p, "y_pred")
    classes = _union_labels(yt, preds[0]) if preds else np.unique(yt)
    for p in preds[1:]:
        classes = np.union1d(classes, _union_labels(yt, p))
    return classes


def _encode(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Positions of ``y``'s labels in the sorted ``classes`` (which contain them all)."""
    if (
        y.dtype.kind in "iu"
        and classes.dtype.kind in "iu"
        and classes[0] == 0
        and classes[-1] == classes.shape[0] - 1
    ):
        return np.ascontiguousarray(y, dtype=np.int64)
    return np.searchsorted(classes, y).astype(np.int64)


def _per_class(metric: str, tp: np.ndarray, true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-class metric from counts; NaN where the denominator is 0."""
    num, den = {
        "recall": (tp, true),
        "precision": (tp, pred),
        "f1": (2 * tp, true + pred),
    }[metric]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0, ignoring NaN resamples (NaN if all are)."""
    q = [(1 - confidence) / 2, 1 - (1 - confidence) / 2]
    if not np.isnan(values).any():
        lo, hi = np.quantile(values, q, axis=0)
        return lo, hi
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
        lo, hi = np.nanquantile(values, q, axis=0)
    return lo, hi


# ---------------------------------------------------------------------------- helpers


def wilson_interval(
    successes: Any, trials: Any, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson (1927) score interval for binomial proportions, element-wise.

    ``(p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with ``p = k/n`` and
    ``z`` the normal quantile of ``(1 + confidence) / 2``; NaN where ``n = 0``. Unlike
    the normal (Wald) interval it stays inside [0, 1] and keeps its coverage for small n
    (Brown, Cai & DasGupta 2001).

    Parameters
    ----------
    successes : array-like of int
        Successes k, in ``[0, trials]``.
    trials : array-like of int
        Trials n, broadcast against ``successes``.
    confidence : float in (0, 1), default 0.95
        Confidence level.

    Returns
    -------
    low, high : ndarray
        The interval's bounds (NaN where ``n = 0``).

    Raises
    ------
    ValueError
        If ``confidence`` is outside (0, 1) or ``successes`` is outside ``[0, trials]``.
    TypeError
        If ``confidence`` is not a number.

    References
    ----------
    Brown, L. D., Cai, T. T. and DasGupta, A. (2001). Interval estimation for a binomial
    proportion. Statistical Science 16(2).

    Examples
    --------
    >>> lo, hi = wilson_interval([8], [10])
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.4902, 0.9433)
    """
    confidence = _check_confidence(confidence)
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("successes: must lie in [0, trials]")
    z = norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return lo, hi


def mcnemar_exact(only_a: Any, only_b: Any) -> np.ndarray:
    """McNemar's exact test (McNemar 1947): two-sided p-values, element-wise.

    ``only_a`` / ``only_b`` count the discordant pairs (right by model a only / by model
    b only). Under the null each discordant pair goes either way with probability 1/2,
    so ``p = min(1, 2 P(X <= min(b, c)))`` with ``X ~ Binomial(b + c, 1/2)``; 1 without
    discordant pairs.

    Parameters
    ----------
    only_a : array-like of int
        Discordant pairs right by model a only.
    only_b : array-like of int
        Discordant pairs right by model b only (broadcast against ``only_a``).

    Returns
    -------
    ndarray
        Two-sided p-values (1 without discordant pairs).

    Raises
    ------
    ValueError
        If the counts are not numeric (numpy's conversion error).

    Examples
    --------
    >>> mcnemar_exact([0, 3], [6, 3]).round(4).tolist()
    [0.0312, 1.0]
    """
    b = np.asarray(only_a, dtype=np.float64)
    c = np.asarray(only_b, dtype=np.float64)
    n = b + c
    p = np.minimum(1.0, 2.0 * binom.cdf(np.minimum(b, c), n, 0.5))
    return np.where(n > 0, p, 1.0)


def holm(p_values: Any) -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values; NaN entries are left out (stay NaN).

    The i-th smallest of m p-values becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``,
    which controls the family-wise error rate under any dependence.

    Parameters
    ----------
    p_values : array-like of float
        Raw p-values; NaN entries are ignored.

    Returns
    -------
    ndarray
        Adjusted p-values, same shape, NaN where the input is NaN.

    Raises
    ------
    ValueError
        If the p-values are not numeric (numpy's conversion error).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(4).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


# ----------------------------------------------------------------- bootstrap on counts


def _recall_cells(
    t: np.ndarray, a_ok: np.ndarray, b_ok: np.ndarray | None, n_classes: int
) -> tuple[np.ndarray, ...]:
    """Cells (stratum offsets, true class, pred a, pred b, count) that keep only whether
    each model was right: a wrong prediction goes to the untracked column ``C``."""
    code = a_ok.astype(np.int64) * 2 + (b_ok.astype(np.int64) if b_ok is not None else 0)
    counts = np.bincount(t * 4 + code, minlength=4 * n_classes).reshape(n_classes, 4)
    return _cells_from_table(counts, n_classes, paired=b_ok is not None)


def _cells_from_table(counts: np.ndarray, n_classes: int, paired: bool) -> tuple[np.ndarray, ...]:
    rows, codes = np.nonzero(counts)
    a_ok, b_ok = codes // 2, codes % 2
    pa = np.where(a_ok == 1, rows, n_classes).astype(np.uint32)
    pb = np.where(b_ok == 1, rows, n_classes).astype(np.uint32) if paired else None
    return _strata(rows, n_classes), rows.astype(np.uint32), pa, pb, counts[rows, codes]


def _strata(rows: np.ndarray, n_strata: int) -> np.ndarray:
    """Offsets of each stratum's cells (``rows`` is sorted)."""
    edges = np.searchsorted(rows, np.arange(n_strata + 1))
    return np.ascontiguousarray(edges, dtype=np.uint64)


def _run_cells(
    cells: tuple[np.ndarray, ...],
    n_classes: int,
    metric: str,
    n_resamples: int,
    seed: int,
    stratify: bool = True,
) -> tuple[Any, Any, Any, Any]:
    strata, t, pa, pb, count = cells
    if not stratify:
        strata = np.array([0, t.shape[0]], dtype=np.uint64)
    return _core.confusion_bootstrap(
        strata,
        np.ascontiguousarray(t, dtype=np.uint32),
        np.ascontiguousarray(pa, dtype=np.uint32),
        None if pb is None else np.ascontiguousarray(pb, dtype=np.uint32),
        np.ascontiguousarray(count, dtype=np.uint64),
        n_classes,
        metric,
        n_resamples,
        seed,
    )


def _confusion_cells(cm: np.ndarray) -> tuple[np.ndarray, ...]:
    rows, cols = np.nonzero(cm)
    return _strata(rows, cm.shape[0]), rows, cols, None, cm[rows, cols]


def _confusion(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    yt = _labels_1d(y_true, "y_true")
    yp = _labels_1d(y_pred, "y_pred")
    classes = _classes(yt, yp)
    cm = np.asarray(_counts(yt, yp, classes, None), dtype=np.int64)
    return classes, cm


# ------------------------------------------------------------------------- public API


def class_intervals(
    y_true: Any,
    y_pred: Any,
    *,
    metric: str = "recall",
    confidence: float = 0.95,
    method: str = "wilson",
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per-class recall, precision or F1 with a confidence interval.

    ``method="wilson"``: the Wilson (1927) score interval of the class's recall (tp out
    of its test examples) or precision (tp out of its predictions). ``"bootstrap"``: the
    percentile interval of ``n_resamples`` stratified bootstrap resamples (examples
    resampled within each true class, Efron & Tibshirani 1993), drawn as multinomials
    on the rows of the confusion matrix, so the cost does not grow with the number of
    examples; needed for F1. Classes are the sorted labels of ``y_true`` and ``y_pred``;
    a class whose metric is undefined (no examples, no predictions) gets NaN.

    Returns a dict of arrays: ``classes``, ``value``, ``low``, ``high``.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True class labels (integers or strings).
    y_pred : array-like of shape (n,)
        Predicted class labels.
    metric : {"recall", "precision", "f1"}, default "recall"
        Per-class metric.
    confidence : float in (0, 1), default 0.95
        Confidence level of the interval.
    method : {"wilson", "bootstrap"}, default "wilson"
        Interval method; F1 needs "bootstrap".
    n_resamples : int, default 2000
        Bootstrap resamples (``method="bootstrap"`` only).
    seed : int, default 0
        Seed of the resampling, in ``[0, 2**64)``.

    Returns
    -------
    dict[str, ndarray]
        ``classes``, ``value``, ``low`` and ``high``, one entry per class.

    Raises
    ------
    ValueError
        If ``metric``, ``method``, ``confidence``, ``n_resamples`` or ``seed`` is out of
        range, ``method="wilson"`` is asked for F1, the labels are not 1-D integers or
        strings, or the lengths differ.
    TypeError
        If ``confidence``, ``n_resamples`` or ``seed`` has the wrong type.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. JASA 22(158). Efron, B. and Tibshirani, R. J. (1993). An Introduction to the
    Bootstrap. Chapman & Hall.

    Examples
    --------
    >>> r = class_intervals([0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0])
    >>> r["value"].tolist(), r["low"].round(3).tolist()
    ([0.75, 0.5], [0.301, 0.095])
    >>> r = class_intervals([0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0], method="bootstrap")
    >>> r["low"].tolist(), r["high"].tolist()
    ([0.25, 0.0], [1.0, 1.0])
    """
    _check_choice(metric, "metric", _CLASS_METRICS)
    _check_choice(method, "method", ("wilson", "bootstrap"))
    confidence = _check_confidence(confidence)
    n_resamples = check_positive_int(n_resamples, "n_resamples")
    seed = _check_seed(seed)
    if method == "wilson" and metric == "f1":
        raise ValueError(
            "metric: the Wilson interval is for proportions (recall, precision); use "
            "method='bootstrap' for f1"
        )
    classes, cm = _confusion(y_true, y_pred)
    tp, true, pred = np.diag(cm), cm.sum(1), cm.sum(0)
    value = _per_class(metric, tp, true, pred)
    if method == "wilson":
        low, high = wilson_interval(tp, true if metric == "recall" else pred, confidence=confidence)
    else:
        c = classes.shape[0]
        if metric == "recall":
            table = np.zeros((c, 4), dtype=np.int64)
            table[:, 2] = tp  # right (code 2 = a right)
            table[:, 0] = true - tp
            cells = _cells_from_table(table, c, paired=False)
        else:
            cells = _confusion_cells(cm)
        res, _, _, _ = _run_cells(cells, c, metric, n_resamples, seed)
        low, high = _percentile_interval(res, confidence)
        undefined = np.isnan(value)
        low[undefined] = high[undefined] = np.nan
    return {"classes": classes, "value": value, "low": low, "high": high}


def _summary_value(metric: str, cm: np.ndarray) -> float:
    tp, true, pred = np.diag(cm), cm.sum(1), cm.sum(0)
    if metric == "accuracy":
        return float(tp.sum() / cm.sum())
    if metric == "balanced_accuracy":
        return float(np.mean(tp[true > 0] / true[true > 0]))
    keep = true + pred > 0
    return float(np.mean(2 * tp[keep] / (true + pred)[keep]))


def bootstrap_interval(
    y_true: Any,
    y_pred_or_score: Any,
    *,
    metric: str,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    stratify: bool = True,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(value, low, high)``: a metric with its bootstrap percentile interval.

    ``metric`` is one of ``balanced_accuracy``, ``macro_f1``, ``accuracy`` (predicted
    labels; resampled as multinomial draws on confusion cells, within true classes when
    ``stratify``, else over all examples), ``roc_auc``, ``average_precision`` (binary
    labels and 1-D scores of the positive class, the larger label) or ``ece`` ((n, C)
    probabilities, 15 bins as :func:`expected_calibration_error`). The last three use
    the Poisson bootstrap (each example weighted by an independent Poisson(1) count,
    Hanley & MacGibbon 2006) over one sort, for which ``stratify`` does not apply.
    Macro F1 is taken over the classes present in y_true or y_pred (0 where tp = 0).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels (binary for ``roc_auc`` and ``average_precision``).
    y_pred_or_score : array-like of shape (n,) or (n, C)
        Predicted labels, positive-class scores, or (n, C) probabilities for ``ece``.
    metric : {"balanced_accuracy", "macro_f1", "accuracy", "roc_auc", "average_precision", "ece"}
        The metric to resample.
    n_resamples : int, default 2000
        Number of bootstrap resamples.
    confidence : float in (0, 1), default 0.95
        Confidence level of the interval.
    stratify : bool, default True
        Resample within true classes (label metrics only).
    seed : int, default 0
        Seed of the resampling, in ``[0, 2**64)``.

    Returns
    -------
    value : float
        The metric on the full data.
    low, high : float
        The percentile interval's bounds.

    Raises
    ------
    ValueError
        If ``metric``, ``confidence``, ``n_resamples`` or ``seed`` is out of range, the
        lengths differ, or a ranking metric gets non-binary labels or 2-D scores.
    TypeError
        If ``stratify``, ``confidence``, ``n_resamples`` or ``seed`` has the wrong type.

    References
    ----------
    Hanley, J. A. and MacGibbon, B. (2006). Creating non-parametric bootstrap samples using
    Poisson frequencies. Computer Methods and Programs in Biomedicine 83(1).

    Examples
    --------
    >>> v, lo, hi = bootstrap_interval([0, 0, 1, 1, 1, 1], [0, 1, 1, 1, 1, 0],
    ...                                metric="balanced_accuracy", n_resamples=500)
    >>> v, lo <= v <= hi
    (0.625, True)
    """
    _check_choice(metric, "metric", _ALL_METRICS)
    n_resamples = check_positive_int(n_resamples, "n_resamples")
    confidence = _check_confidence(confidence)
    seed = _check_seed(seed)
    if not isinstance(stratify, (bool, np.bool_)):
        raise TypeError(f"stratify: expected a bool, got {stratify!r}")
    if metric in _SUMMARY_METRICS:
        classes, cm = _confusion(y_true, y_pred_or_score)
        c = classes.shape[0]
        if metric == "macro_f1":
            cells = _confusion_cells(cm)
        else:
            table = np.zeros((c, 4), dtype=np.int64)
            table[:, 2] = np.diag(cm)
            table[:, 0] = cm.sum(1) - np.diag(cm)
            cells = _cells_from_table(table, c, paired=False)
        _, _, summary, _ = _run_cells(cells, c, "recall", n_resamples, seed, stratify)
        values = summary[:, _SUMMARY_METRICS.index(metric)]
        value = _summary_value(metric, cm)
    elif metric in _RANK_METRICS:
        values, value = _ranking_resamples(y_true, y_pred_or_score, metric, n_resamples, seed)
    else:
        values, value = _ece_resamples(y_true, y_pred_or_score, n_resamples, seed)
    lo, hi = _percentile_interval(values[:, None], confidence)
    return float(value), float(lo[0]), float(hi[0])


def _ranking_resamples(
    y_true: Any, y_score: Any, metric: str, n_resamples: int, seed: int
) -> tuple[np.ndarray, float]:
    from longtail.metrics._ranking import average_precision_score, roc_auc_score

    yt = _labels_1d(y_true, "y_true")
    s = as_scores(y_score, "y_score", ndim=(1, 2))
    if s.ndim == 2:
        if s.shape[1] != 2:
            raise ValueError(
                f"y_score: {metric} intervals are for binary problems: give the positive "
                f"class's scores (1-D), got shape {s.shape}"
            )
        s = s[:, 1]
    check_length(yt, s, "y_score")
    classes = np.unique(yt)
    if classes.shape[0] != 2:
        raise ValueError(
            f"y_true: {metric} intervals need binary labels (two classes), got "
            f"{classes.shape[0]}"
        )
    positive = (yt == classes[1]).astype(np.uint8)
    scorer = roc_auc_score if metric == "roc_auc" else average_precision_score
    value = float(scorer(positive, s))
    order = np.argsort(-s.astype(np.float64), kind="stable")
    s_sorted = s[order]
    ends = np.flatnonzero(np.diff(s_sorted)) + 1
    ends = np.append(ends, s_sorted.shape[0]).astype(np.uint64)
    y_sorted = np.ascontiguousarray(positive[order])
    values = _core.poisson_ranking(y_sorted, ends, metric, n_resamples, seed)
    return values, value


def _ece_resamples(
    y_true: Any, probs: Any, n_resamples: int, seed: int, n_bins: int = 15
) -> tuple[np.ndarray, float]:
    from longtail.metrics.longtail_metrics import (
        _bin_ids,
        _calibration_inputs,
        expected_calibration_error,
    )

    t, p = _calibration_inputs(y_true, probs)
    value = expected_calibration_error(t, p, n_bins=n_bins)
    conf = np.ascontiguousarray(p.max(axis=1), dtype=np.float64)
    correct = np.ascontiguousarray(p.argmax(axis=1) == t, dtype=np.uint8)
    bins = np.ascontiguousarray(_bin_ids(conf, n_bins), dtype=np.uint32)
    values = _core.poisson_ece(bins, conf, correct, n_bins, n_resamples, seed)
    return values, value


def compare_predictions(
    y_true: Any,
    pred_a: Any,
    pred_b: Any,
    *,
    metric: str = "recall",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Which classes changed between two models evaluated on the same test set?

    Per class: the metric of model a and of model b, ``delta = b - a`` with a paired
    stratified bootstrap interval (the same resampled examples score both models), and
    McNemar's exact two-sided test on the class's discordant examples (right by one
    model only), with Holm's correction across classes in ``p_adjusted``. Also
    ``balanced_accuracy_delta`` (b - a) and its interval (``balanced_accuracy_low``,
    ``balanced_accuracy_high``). Classes are the sorted labels of all three arrays;
    ``support`` counts each class's test examples (p-values are NaN without any).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True class labels.
    pred_a, pred_b : array-like of shape (n,)
        Predicted labels of models a and b on the same examples.
    metric : {"recall", "precision", "f1"}, default "recall"
        Per-class metric compared.
    n_resamples : int, default 2000
        Paired bootstrap resamples.
    confidence : float in (0, 1), default 0.95
        Confidence level of the intervals.
    seed : int, default 0
        Seed of the resampling, in ``[0, 2**64)``.

    Returns
    -------
    dict[str, Any]
        Per-class arrays ``classes``, ``support``, ``a``, ``b``, ``delta``, ``low``,
        ``high``, ``p_value``, ``p_adjusted``; floats ``balanced_accuracy_delta``,
        ``balanced_accuracy_low``, ``balanced_accuracy_high``.

    Raises
    ------
    ValueError
        If ``metric``, ``confidence``, ``n_resamples`` or ``seed`` is out of range, the
        labels are not 1-D integers or strings, or the lengths differ.
    TypeError
        If ``confidence``, ``n_resamples`` or ``seed`` has the wrong type.

    References
    ----------
    McNemar, Q. (1947). Note on the sampling error of the difference between correlated
    proportions or percentages. Psychometrika 12(2). Holm, S. (1979). A simple sequentially
    rejective multiple test procedure. Scandinavian Journal of Statistics 6(2).

    Examples
    --------
    >>> y = [0] * 10 + [1] * 10
    >>> a = [0] * 10 + [1] * 2 + [0] * 8
    >>> b = [0] * 10 + [1] * 9 + [0]
    >>> r = compare_predictions(y, a, b, n_resamples=500)
    >>> r["delta"].tolist(), round(float(r["p_value"][1]), 4)
    ([0.0, 0.7], 0.0156)
    >>> bool(r["low"][1] > 0), bool(r["p_adjusted"][1] < 0.05)
    (True, True)
    """
    _check_choice(metric, "metric", _CLASS_METRICS)
    n_resamples = check_positive_int(n_resamples, "n_resamples")
    confidence = _check_confidence(confidence)
    seed = _check_seed(seed)
    yt = _labels_1d(y_true, "y_true")
    ya = _labels_1d(pred_a, "pred_a")
    yb = _labels_1d(pred_b, "pred_b")
    check_length(yt, ya, "pred_a")
    check_length(yt, yb, "pred_b")
    classes = _classes(yt, ya, yb)
    c = classes.shape[0]
    t, a, b = (_encode(y, classes) for y in (yt, ya, yb))
    a_ok, b_ok = a == t, b == t
    if metric == "recall":
        cells = _recall_cells(t, a_ok, b_ok, c)
    else:
        key = (t * c + a) * c + b
        uniq, count = np.unique(key, return_counts=True)
        rows = uniq // (c * c)
        cells = (
            _strata(rows, c),
            rows,
            (uniq // c) % c,
            uniq % c,
            count,
        )
    res_a, res_b, sum_a, sum_b = _run_cells(cells, c, metric, n_resamples, seed)
    support = np.bincount(t, minlength=c)

    def counts(p: np.ndarray, ok: np.ndarray) -> np.ndarray:
        tp = np.bincount(t[ok], minlength=c)
        return _per_class(metric, tp, support, np.bincount(p, minlength=c))

    va, vb = counts(a, a_ok), counts(b, b_ok)
    delta = vb - va
    low, high = _percentile_interval(res_b - res_a, confidence)
    undefined = np.isnan(delta)
    low[undefined] = high[undefined] = np.nan
    only_a = np.bincount(t[a_ok & ~b_ok], minlength=c)
    only_b = np.bincount(t[b_ok & ~a_ok], minlength=c)
    p = np.where(support > 0, mcnemar_exact(only_a, only_b), np.nan)
    present = support > 0
    rec_a = np.bincount(t[a_ok], minlength=c)[present] / support[present]
    rec_b = np.bincount(t[b_ok], minlength=c)[present] / support[present]
    ba_lo, ba_hi = _percentile_interval((sum_b[:, 0] - sum_a[:, 0])[:, None], confidence)
    return {
        "classes": classes,
        "support": support,
        "a": va,
        "b": vb,
        "delta": delta,
        "low": low,
        "high": high,
        "p_value": p,
        "p_adjusted": holm(p),
        "balanced_accuracy_delta": float(rec_b.mean() - rec_a.mean()),
        "balanced_accuracy_low": float(ba_lo[0]),
        "balanced_accuracy_high": float(ba_hi[0]),
    }


def group_report(
    y_true: Any,
    y_pred: Any,
    *,
    groups: Mapping[Any, str] | None = None,
    train_counts: Any = None,
    metric: str = "recall",
    many: int = 100,
    few: int = 20,
) -> dict[str, Any]:
    """Disparity of a per-class metric across groups of classes.

    ``groups`` maps each class id to a group name; by default the classes
    ``0..len(train_counts)-1`` are grouped into many-, medium- and few-shot by their
    training counts as :func:`shot_accuracy` does (many: n > ``many``, few: n <
    ``few``). Each group's value is the mean per-class metric of its classes (classes
    where it is undefined are left out; a group without any is NaN). ``worst`` and
    ``best`` name the groups with the lowest and highest value, ``gap`` is their
    difference and ``std`` the standard deviation (ddof 0) over groups (fairness gaps
    across groups, e.g. Hooker et al. 2019 on compression's effect on the tail).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True class labels.
    y_pred : array-like of shape (n,)
        Predicted class labels.
    groups : mapping of class id to group name, optional
        The groups; required unless ``train_counts`` is given.
    train_counts : array-like of int, optional
        Training examples per class, for the default many/medium/few-shot groups.
    metric : {"recall", "precision", "f1"}, default "recall"
        Per-class metric.
    many : int, default 100
        Classes with more training examples are many-shot.
    few : int, default 20
        Classes with fewer training examples are few-shot.

    Returns
    -------
    dict[str, Any]
        ``values`` (group name to mean metric), ``worst`` and ``best`` (group names, None
        if no group is defined), ``gap``, ``std`` and ``per_class`` (class to metric).

    Raises
    ------
    ValueError
        If ``metric`` is invalid, neither ``groups`` nor ``train_counts`` is given, the
        lengths differ, ``few > many`` or a count is negative.
    TypeError
        If ``groups`` is not a non-empty mapping or ``many``/``few`` is not an integer.

    References
    ----------
    Hooker, S. et al. (2019). What do compressed deep neural networks forget?
    arXiv:1911.05248.

    Examples
    --------
    >>> r = group_report([0, 0, 1, 1, 2, 2], [0, 0, 1, 0, 0, 0], train_counts=[500, 50, 5])
    >>> r["values"], r["worst"], r["best"], r["gap"]
    ({'many': 1.0, 'medium': 0.5, 'few': 0.0}, 'few', 'many', 1.0)
    """
    _check_choice(metric, "metric", _CLASS_METRICS)
    yt = _labels_1d(y_true, "y_true")
    yp = _labels_1d(y_pred, "y_pred")
    check_length(yt, yp, "y_pred")
    if groups is None:
        if train_counts is None:
            raise ValueError("groups: give groups ({class id: group name}) or train_counts")
        from longtail.metrics.longtail_metrics import _shot_groups

        many = check_positive_int(many, "many", minimum=0)
        few = check_positive_int(few, "few", minimum=0)
        _, shot = _shot_groups(train_counts, many, few)
        names = np.array(["many", "medium", "few"])[shot]
        classes = np.arange(shot.shape[0])
        order = ["many", "medium", "few"]
    else:
        if not isinstance(groups, Mapping) or not groups:
            raise TypeError("groups: expected a non-empty mapping {class id: group name}")
        classes = np.array(list(groups.keys()))
        names = np.array([str(v) for v in groups.values()])
        order = list(dict.fromkeys(names.tolist()))
    cm = np.asarray(_counts(yt, yp, classes, None), dtype=np.int64)
    tp, true = np.diag(cm), cm.sum(1)
    # Predictions of a class by examples of unlisted classes still count against its
    # precision, so predicted counts come from y_pred itself.
    uniq, cnt = np.unique(yp, return_counts=True)
    seen = dict(zip(uniq.tolist(), cnt.tolist()))
    pred_all = np.array([seen.get(k, 0) for k in classes.tolist()], dtype=np.int64)
    per_class = _per_class(metric, tp, true, pred_all)
    values: dict[str, float] = {}
    for g in order:
        v = per_class[(names == g) & ~np.isnan(per_class)]
        values[g] = float(v.mean()) if v.size else math.nan
    defined = {g: v for g, v in values.items() if not math.isnan(v)}
    if defined:
        worst = min(defined, key=defined.__getitem__)
        best = max(defined, key=defined.__getitem__)
        gap = defined[best] - defined[worst]
        std = float(np.std(list(defined.values())))
    else:
        worst = best = None
        gap = std = math.nan
    return {
        "values": values,
        "worst": worst,
        "best": best,
        "gap": float(gap),
        "std": std,
        "per_class": dict(zip(classes.tolist(), per_class.tolist())),
    }
