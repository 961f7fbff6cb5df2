"""Active-learning queries: the most uncertain pool rows, optionally class-balanced."""

from __future__ import annotations

from typing import Any

import numpy as np

from longtail import _core
from longtail._checks import as_1d_labels, as_scores
from longtail.select._common import check_count, check_seed, index_set

__all__ = ["uncertainty_query"]

_STRATEGIES = ("entropy", "margin", "least_confidence", "random")


def _balanced_quotas(labeled: np.ndarray, pool: np.ndarray, budget: int) -> np.ndarray:
    """Quotas that make ``labeled + quota`` as even as possible.

    The greedy rule -- each unit to the class with the smallest ``labeled + quota``
    among those with pool rows left, ties to the smaller class -- in closed form: the
    highest level ``L`` with ``sum clip(L - labeled, 0, pool) <= budget``, then one more
    unit to the first classes (by id) standing at ``L``.
    """
    if budget == 0:
        return np.zeros_like(pool)

    def fill(level: int) -> np.ndarray:
        return np.clip(level - labeled, 0, pool)

    lo, hi = int(labeled.min()), int((labeled + pool).max())
    while lo < hi:  # largest level whose fill fits the budget
        mid = (lo + hi + 1) // 2
        if int(fill(mid).sum()) <= budget:
            lo = mid
        else:
            hi = mid - 1
    q = fill(lo)
    left = budget - int(q.sum())
    if left > 0:
        at = np.flatnonzero((labeled + q == lo) & (q < pool))
        q[at[:left]] += 1
    return q


def uncertainty_query(
    probs: Any,
    budget: int,
    *,
    strategy: str = "entropy",
    class_balanced: bool = False,
    labeled_counts: Any = None,
    exclude: Any = None,
    seed: int = 0,
) -> np.ndarray:
    """The ``budget`` most uncertain rows of an unlabeled pool (active learning).

    Uncertainty is the entropy ``-sum p log p`` (highest first), the margin
    ``p1 - p2`` between the two largest probabilities (smallest first; Scheffer et al.
    2001) or the least confidence ``1 - max p`` (highest first; Lewis & Gale 1994);
    ``"random"`` takes the smallest seeded random keys. Ties go to the smaller index.

    ``class_balanced=True`` splits the budget over the predicted classes so that
    ``labeled_counts + quota`` is as even as possible -- water-filling from the
    smallest class up, each class capped by the pool rows predicted as it, the surplus
    going to the others (small-text's ``ClassBalancer`` idea) -- then takes the most
    uncertain rows of each predicted class.

    Parameters
    ----------
    probs : array-like or tensor, shape (n, C)
        Predicted probabilities of the pool (float32 stays float32).
    budget : int
        Rows to query; at most the pool size after ``exclude``.
    strategy : {"entropy", "margin", "least_confidence", "random"}
        Uncertainty measure.
    class_balanced : bool
        Split the budget over the predicted classes (see above).
    labeled_counts : array-like of int, shape (C,), optional
        Labeled examples per class so far (default zeros).
    exclude : array-like of int or bool mask, optional
        Pool rows that may not be chosen.
    seed : int
        Key of ``"random"``.

    Returns
    -------
    numpy.ndarray of int64
        Chosen rows, ascending.

    Raises
    ------
    TypeError
        If ``probs`` is not numeric, ``budget`` or ``seed`` is not an integer, or
        ``labeled_counts`` or ``exclude`` are not integer (or boolean) data.
    ValueError
        If ``strategy`` is unknown, ``probs`` is not a non-empty 2-D array (or holds
        NaN or infinity), ``budget`` is negative or larger than the pool after
        ``exclude``, ``exclude`` holds an index outside ``[0, n)`` or a mask of the
        wrong length, ``labeled_counts`` does not have ``C`` non-negative values, or
        ``seed`` is outside ``[0, 2**64)``.

    Examples
    --------
    >>> import numpy as np
    >>> from longtail.select import uncertainty_query
    >>> p = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [0.2, 0.8], [0.45, 0.55]])
    >>> uncertainty_query(p, 2).tolist()
    [1, 4]
    >>> uncertainty_query(p, 2, strategy="margin", exclude=[1]).tolist()
    [2, 4]
    >>> uncertainty_query(p, 2, class_balanced=True, labeled_counts=[0, 5]).tolist()
    [1, 2]
    """
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy: expected one of {_STRATEGIES}, got {strategy!r}")
    p = as_scores(probs, "probs", ndim=2, finite=strategy == "random" and not class_balanced)
    n, c = p.shape
    budget = check_count(budget, "budget")
    seed = check_seed(seed)
    excluded = np.zeros(0, dtype=np.int64) if exclude is None else index_set(exclude, n, "exclude")
    pool_size = n - excluded.size
    if budget > pool_size:
        raise ValueError(f"budget: {budget} is larger than the pool ({pool_size} rows)")
    scores, pred = None, None
    if strategy != "random":
        scores, pred = _core.select_row_scan(p, strategy)
    elif class_balanced:
        pred = _core.select_row_scan(p, "max")[1]
    if class_balanced:
        if labeled_counts is None:
            labeled = np.zeros(c, dtype=np.int64)
        else:
            labeled = as_1d_labels(labeled_counts, "labeled_counts")
            if labeled.size != c:
                raise ValueError(
                    f"labeled_counts: expected {c} values (one per class), got {labeled.size}"
                )
            if np.any(labeled < 0):
                raise ValueError("labeled_counts: counts must be >= 0")
        groups = np.array(pred, dtype=np.int64)
        groups[excluded] = -1
        pool = np.bincount(groups[groups >= 0], minlength=c)
        qv = _balanced_quotas(labeled, pool, budget).astype(np.int64)
        qc = np.arange(c, dtype=np.int64)
    else:
        groups = np.zeros(n, dtype=np.int64)
        groups[excluded] = -1
        qc, qv = np.zeros(1, dtype=np.int64), np.array([budget], dtype=np.int64)
    largest = strategy != "margin"
    return _core.select_topk(groups, qc, qv, 0, scores, largest, seed, None)
