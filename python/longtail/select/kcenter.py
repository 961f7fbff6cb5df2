"""Greedy k-center (core-set) selection on feature vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from longtail import _core
from longtail._checks import as_scores
from longtail.select._common import check_count, check_seed, index_set

__all__ = ["kcenter_greedy"]


def kcenter_greedy(features: Any, budget: int, *, labeled: Any = None, seed: int = 0) -> np.ndarray:
    """Greedy k-center selection (Sener & Savarese 2018, core-set active learning).

    Starting from the ``labeled`` rows -- or, with ``labeled=None``, from the row with
    the smallest seeded random key (:func:`random_keys`), which is then the first row
    returned -- repeatedly add the row farthest (squared Euclidean) from its nearest
    chosen row, ties to the smaller index. Exact greedy: distances by the k-means GEMM
    expansion (``||x||^2 - 2 x.c + ||c||^2``, float32 stays float32), and a block of
    rows is only recomputed when the triangle inequality allows one of its rows to get
    closer to the new centre.

    Parameters
    ----------
    features : array-like or tensor, shape (n, d)
        Feature vectors; float32 stays float32.
    budget : int
        New rows to choose (at most ``n`` minus the labeled rows).
    labeled : array-like of int or bool mask, optional
        Rows already chosen.
    seed : int
        Picks the first row when nothing is labeled.

    Returns
    -------
    numpy.ndarray of int64
        The new rows, in the order chosen.

    Raises
    ------
    TypeError
        If ``features`` is not numeric, ``budget`` or ``seed`` is not an integer, or
        ``labeled`` is not integer or boolean data.
    ValueError
        If ``features`` is not a non-empty 2-D array, ``budget`` is negative or larger
        than the unlabeled rows, ``labeled`` holds an index outside ``[0, n)`` or a mask
        of the wrong length, or ``seed`` is outside ``[0, 2**64)``.

    Examples
    --------
    >>> import numpy as np
    >>> from longtail.select import kcenter_greedy
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [5.0, 5.0], [0.0, 5.1]])
    >>> kcenter_greedy(X, 3, labeled=[0]).tolist()
    [3, 4, 2]
    """
    x = as_scores(features, "features", ndim=2, finite=False)
    n = x.shape[0]
    budget = check_count(budget, "budget")
    lab = np.zeros(0, dtype=np.int64) if labeled is None else index_set(labeled, n, "labeled")
    return _core.select_kcenter(x, budget, lab, check_seed(seed))
