"""Coverage-centric stratified selection inside each class (CCS)."""

from __future__ import annotations

from typing import Any

import numpy as np

from longtail import _core
from longtail._checks import as_scores, check_positive_int, dataset_labels
from longtail.select._common import check_real, check_seed, quota_spec

__all__ = ["stratified_select"]


def stratified_select(
    labels: Any,
    scores: Any,
    quotas: Any,
    *,
    n_strata: int = 50,
    prune_fraction: float = 0.0,
    prune: str = "high",
    seed: int = 0,
    label_column: str = "label",
) -> np.ndarray:
    """Coverage-centric coreset selection (Zheng et al. 2023, CCS) inside each class.

    For every class ``j`` (quota ``q_j``): drop the ``floor(prune_fraction * n_j)``
    examples with the highest (``prune="high"``) or lowest (``"low"``) scores (ties: the
    smaller index counts as more extreme); cut the class's remaining score range
    ``[lo, hi]`` into ``n_strata`` equal-width strata (score ``x`` goes to stratum
    ``min(floor((x - lo) / (hi - lo) * n_strata), n_strata - 1)`` in float64, all to
    stratum 0 when ``hi == lo``); visit the strata from the fewest members up (ties:
    lower stratum first), giving each ``min(size, remaining // strata_left)``; inside
    a stratum take the examples with the smallest seeded random keys
    (:func:`random_keys`). Unlike CCS's reference code, every class gets its own
    quota rather than the last class's size, and the random choice is seeded.

    Parameters
    ----------
    labels : array-like of int, tensor or dataset
        Class ids, read as the samplers read them.
    scores : array-like of float, shape (n,)
        Difficulty scores (e.g. EL2N, forgetting, AUM).
    quotas : int, mapping or array-like
        As :func:`select_per_class`. A quota above what is left of a class takes it all.
    n_strata : int
        Strata per class.
    prune_fraction : float
        Fraction of every class dropped before stratifying (``[0, 1]``).
    prune : {"high", "low"}
        Which end of the scores is dropped.
    seed : int
        Key of the random choice within strata.
    label_column : str
        Label column of a Hugging Face dataset.

    Returns
    -------
    numpy.ndarray of int64
        Chosen row positions, ascending.

    Raises
    ------
    TypeError
        If ``labels`` is not integer data, ``scores`` is not numeric, ``n_strata`` or
        ``seed`` is not an integer, ``prune_fraction`` is not a finite number, or
        ``quotas`` is not an int, mapping or array.
    ValueError
        If ``scores`` does not have one finite value per label, ``n_strata < 1``,
        ``prune_fraction`` is outside ``[0, 1]``, ``prune`` is not ``"high"`` or
        ``"low"``, a quota is negative or a quota array does not have one value per
        distinct class, or ``seed`` is outside ``[0, 2**64)``.

    Examples
    --------
    >>> import numpy as np
    >>> from longtail.select import stratified_select
    >>> labels = np.repeat([0, 1], [100, 10])
    >>> scores = np.concatenate([np.arange(100.0), np.arange(10.0)])
    >>> chosen = stratified_select(labels, scores, 8, n_strata=4, prune_fraction=0.1)
    >>> np.bincount(labels[chosen]).tolist()
    [8, 8]
    >>> bool(scores[chosen[labels[chosen] == 0]].max() < 90)
    True
    """
    y = dataset_labels(labels, label_column=label_column)
    s = as_scores(scores, "scores", ndim=1, finite=False)
    n_strata = check_positive_int(n_strata, "n_strata")
    prune_fraction = check_real(prune_fraction, "prune_fraction", 0.0, 1.0)
    if prune not in ("high", "low"):
        raise ValueError(f"prune: expected 'high' or 'low', got {prune!r}")
    seed = check_seed(seed)
    qc, qv, qd = quota_spec(quotas, lambda: _core.select_class_counts(y)[0])
    return _core.select_stratified(
        y, s, qc, qv, qd, n_strata, prune_fraction, prune == "high", seed
    )
