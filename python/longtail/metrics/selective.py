"""Selective classification: the risk-coverage curve and its area (AURC).

A classifier that may abstain answers only its most confident rows. Sorting rows by
confidence (the largest class probability), the risk at coverage k/n is the error rate
of the k most confident rows (Geifman & El-Yaniv 2017); AURC is the mean risk over the
coverages 1/n, ..., 1 (Geifman et al. 2019). Rows with tied confidence are kept
together: within a run of ties the k most confident rows are not defined, so the
curve uses the expected error count of k rows drawn from the run (its error rate
times the rows taken). The result is then independent of the order of tied rows and
equals the mean over all orders.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from longtail._checks import as_1d_labels, as_scores

__all__ = ["risk_coverage_curve", "aurc"]


def _errors_by_confidence(y_true: Any, probs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Errors (0/1) and confidences of the rows, most confident first."""
    t = as_1d_labels(y_true, "y_true")
    p = as_scores(probs, "probs", ndim=(1, 2))
    if p.shape[0] != t.shape[0]:
        raise ValueError(f"probs: has {p.shape[0]} rows but y_true has {t.shape[0]} items")
    if p.ndim == 1:
        p = np.stack([1 - p, p], axis=1)
    if t.min() < 0 or t.max() >= p.shape[1]:
        raise ValueError(
            f"y_true: class ids must lie in [0, {p.shape[1]}) for {p.shape[1]} probability "
            "columns"
        )
    conf = p.max(axis=1)
    wrong = (p.argmax(axis=1) != t).astype(np.float64)
    order = np.argsort(-conf, kind="stable")
    return wrong[order], conf[order]


def risk_coverage_curve(y_true: Any, probs: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(coverage, risk)``: both (n,) arrays, coverage k/n for k = 1..n.

    ``probs`` are (n, C) class probabilities (or (n,) for P(y = 1)); the prediction is
    the arg-max and the confidence the max. ``risk[k-1]`` is the error rate of the k
    most confident rows, with tied rows sharing their run's error rate (see the module
    docstring). Geifman & El-Yaniv 2017, "Selective classification for deep neural
    networks".

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True class ids in ``[0, C)``.
    probs : array-like of float, shape (n, C) or (n,)
        Class probabilities, or P(y = 1) of a binary task.

    Returns
    -------
    coverage : ndarray of shape (n,)
        k / n for k = 1..n.
    risk : ndarray of shape (n,)
        Error rate of the k most confident rows.

    Raises
    ------
    ValueError
        If the lengths differ or a class id has no probability column.

    Examples
    --------
    >>> cov, risk = risk_coverage_curve([0, 1, 1, 0], [[.9, .1], [.2, .8], [.4, .6], [.3, .7]])
    >>> cov.tolist(), risk.round(3).tolist()
    ([0.25, 0.5, 0.75, 1.0], [0.0, 0.0, 0.333, 0.25])
    """
    wrong, conf = _errors_by_confidence(y_true, probs)
    n = wrong.shape[0]
    # Runs of tied confidence: [start, end) with their error counts.
    ends = np.append(np.flatnonzero(np.diff(conf)) + 1, n)
    starts = np.concatenate([[0], ends[:-1]])
    cum = np.concatenate([[0.0], np.cumsum(wrong)])
    run_rate = (cum[ends] - cum[starts]) / (ends - starts)
    run = np.repeat(np.arange(ends.shape[0]), ends - starts)
    k = np.arange(1, n + 1)
    expected_errors = cum[starts[run]] + (k - starts[run]) * run_rate[run]
    return k / n, expected_errors / k


def aurc(y_true: Any, probs: Any) -> float:
    """Area under the risk-coverage curve: the mean of :func:`risk_coverage_curve`'s risk
    over the coverages 1/n, ..., 1 (Geifman et al. 2019, "Bias-reduced uncertainty
    estimation for deep neural classifiers"). Lower is better; a classifier whose
    confidence ranks all its errors last reaches the minimum for its error rate.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True class ids in ``[0, C)``.
    probs : array-like of float, shape (n, C) or (n,)
        Class probabilities, or P(y = 1) of a binary task.

    Returns
    -------
    float
        AURC, in [0, 1]; lower is better.

    Raises
    ------
    ValueError
        If the lengths differ or a class id has no probability column.

    Examples
    --------
    >>> round(aurc([0, 1, 1, 0], [[.9, .1], [.2, .8], [.4, .6], [.3, .7]]), 4)
    0.1458
    """
    return float(np.mean(risk_coverage_curve(y_true, probs)[1]))
