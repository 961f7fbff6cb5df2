"""Per-class top-k selection by scores or by seeded random keys, on one process or many."""

from __future__ import annotations

from typing import Any

import numpy as np

from longtail import _core
from longtail._checks import as_1d_labels, as_scores, dataset_labels
from longtail.distributed import all_gather_objects, is_distributed, world_size
from longtail.select._common import check_seed, quota_spec

__all__ = ["select_per_class", "random_keys"]


def random_keys(indexes: Any, seed: int = 0) -> np.ndarray:
    """The uint64 random key of every global index for ``seed``.

    ``key(seed, i) = splitmix64(splitmix64(seed ^ 0x5E1EC7ED5E1EC7ED) ^ i)``, where
    ``splitmix64(z)`` adds ``0x9E3779B97F4A7C15`` and applies the SplitMix64 finaliser
    (Steele et al. 2014). Every random choice of :mod:`longtail.select` takes the rows
    with the smallest keys, so it depends only on which rows are present, never on
    their order, on how they are sharded or on the thread count.

    Parameters
    ----------
    indexes : array-like of int, shape (n,)
        Global row ids (any int64 values; may be empty).
    seed : int
        Key in ``[0, 2**64)``.

    Returns
    -------
    numpy.ndarray of uint64, shape (n,)
        ``key(seed, indexes[i])`` for every ``i``.

    Raises
    ------
    TypeError
        If ``indexes`` is not integer data, or ``seed`` is not an integer.
    ValueError
        If ``indexes`` is not 1-D or holds fractional or non-finite values, or ``seed``
        is negative or ``>= 2**64``.

    Examples
    --------
    >>> from longtail.select import random_keys
    >>> k = random_keys([0, 1, 2], seed=0)
    >>> k.dtype.name, bool((random_keys([2, 0, 1], seed=0) == k[[2, 0, 1]]).all())
    ('uint64', True)
    """
    ix = as_1d_labels(indexes, "indexes", allow_empty=True)
    return _core.select_random_keys(ix, check_seed(seed))


def _classes_of(y: np.ndarray, group: Any, distributed: bool) -> np.ndarray:
    classes = _core.select_class_counts(y)[0]
    if distributed:
        classes = np.unique(np.concatenate(all_gather_objects(classes, group)))
    return classes


def _select(
    y: np.ndarray,
    spec: tuple[np.ndarray, np.ndarray, int],
    scores: np.ndarray | None,
    largest: bool,
    seed: int,
    ix: np.ndarray | None,
    distributed: bool,
    group: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """(chosen ids, their labels): local rows, or ascending global ids with ``ix``.

    With ``distributed``, each rank first keeps its own top-quota_j rows of every class
    (a superset of its share of the global choice, since the order is total and global),
    the ranks all-gather those candidates -- (global id, label, score) for at most
    quota_j rows per class per rank, never all scores -- drop duplicated global ids
    (a DistributedSampler pads with repeats) and rank the union once more.
    """
    qc, qv, qd = spec
    if y.size:
        rows = _core.select_topk(y, qc, qv, qd, scores, largest, seed, ix)
    else:  # a rank without rows still takes part in the exchange
        rows = np.zeros(0, dtype=np.int64)
    if ix is None:
        return rows, y[rows]
    if not distributed:
        gid = ix[rows]
        order = np.argsort(gid, kind="stable")
        return gid[order], y[rows][order]
    cand = (ix[rows], y[rows], None if scores is None else scores[rows])
    parts = all_gather_objects(cand, group)
    gid = np.concatenate([p[0] for p in parts]).astype(np.int64, copy=False)
    lab = np.concatenate([p[1] for p in parts]).astype(np.int64, copy=False)
    sc = None if scores is None else np.ascontiguousarray(np.concatenate([p[2] for p in parts]))
    if gid.size == 0:
        return gid, lab
    gid, first = np.unique(gid, return_index=True)
    lab = np.ascontiguousarray(lab[first])
    if sc is not None:
        sc = np.ascontiguousarray(sc[first])
    rows = _core.select_topk(lab, qc, qv, qd, sc, largest, seed, gid)
    return gid[rows], lab[rows]


def select_per_class(
    labels: Any,
    quotas: Any,
    *,
    scores: Any = None,
    largest: bool = True,
    seed: int = 0,
    indexes: Any = None,
    group: Any = None,
    label_column: str = "label",
) -> np.ndarray:
    """The ``quotas[j]`` examples of every class ``j`` with the best scores, or random ones.

    Per class, examples are ranked by score (largest first, or smallest with
    ``largest=False``), ties to the smaller index; with ``scores=None`` by a seeded
    random key of the index (:func:`random_keys`), so a random choice does not depend on
    the order or sharding of the rows. A quota above the class size takes the whole
    class. This is the per-class pruning of data-pruning papers with scores such as
    EL2N (Paul et al. 2021) or forgetting (Toneva et al. 2019), done per class so tail
    classes keep their share.

    The kernel groups rows by class in one counting pass and partitions each class
    with a selection algorithm (``select_nth_unstable``), classes in parallel, with 8
    bytes of extra memory per row for float32 scores or random keys.

    Parameters
    ----------
    labels : array-like of int, tensor or dataset
        Class ids (any integers), read as the samplers read them.
    quotas : int, mapping or array-like
        An int for every class, a ``{class id: int}`` mapping (unlisted classes get 0),
        or an array aligned with the sorted distinct labels (under DDP: of all ranks).
    scores : array-like of float, shape (n,), optional
        float32 stays float32. None: random choice.
    largest : bool
        Keep the largest scores (else the smallest).
    seed : int
        Key of the random choice.
    indexes : array-like of int, optional
        Global ids of these rows: ties go to the smaller global id and the result is
        global ids. When torch.distributed is initialised, every rank returns the same
        global selection as one process fed all rows: each rank sends only its own
        top ``quota_j`` candidates per class (id, label, score) in one all-gather.
    group : torch.distributed group, optional
        Process group of the exchange (default group when None).
    label_column : str
        Label column of a Hugging Face dataset.

    Returns
    -------
    numpy.ndarray of int64
        Row positions (or global ids with ``indexes``), ascending.

    Raises
    ------
    TypeError
        If ``labels`` or ``indexes`` are not integer data, ``scores`` is not numeric,
        ``quotas`` is not an int, mapping or array (or a mapping key is not an integer),
        or ``seed`` is not an integer.
    ValueError
        If ``labels``, ``scores`` or ``indexes`` have the wrong shape or disagree in
        length, ``scores`` holds NaN or infinity, a quota is negative or a quota array
        does not have one value per distinct class, a mapping repeats a class id, or
        ``seed`` is outside ``[0, 2**64)``.

    Examples
    --------
    >>> import numpy as np
    >>> from longtail.select import select_per_class
    >>> labels = np.array([0, 0, 0, 1, 1, 2])
    >>> scores = np.array([0.3, 0.9, 0.5, 0.1, 0.7, 0.2])
    >>> select_per_class(labels, 2, scores=scores).tolist()
    [1, 2, 3, 4, 5]
    >>> select_per_class(labels, {0: 1, 2: 1}, scores=scores, largest=False).tolist()
    [0, 5]
    >>> len(select_per_class(labels, [1, 1, 1], seed=3))
    3
    """
    y = dataset_labels(labels, label_column=label_column)
    s = None
    if scores is not None:
        s = as_scores(scores, "scores", ndim=1, finite=False)
    seed = check_seed(seed)
    ix = None
    if indexes is not None:
        ix = as_1d_labels(indexes, "indexes")
    distributed = ix is not None and is_distributed() and world_size(group) > 1
    spec = quota_spec(quotas, lambda: _classes_of(y, group, distributed))
    return _select(y, spec, s, bool(largest), seed, ix, distributed, group)[0]
