"""Class-balanced pseudo-labels from predicted probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np

from longtail import _core
from longtail._checks import as_1d_labels, as_scores
from longtail.distributed import all_reduce_arrays, is_distributed, world_size
from longtail.select._common import check_real, check_seed, quota_spec
from longtail.select.per_class import _select

__all__ = ["class_balanced_pseudo_labels"]


def class_balanced_pseudo_labels(
    probs: Any,
    *,
    quotas: Any = None,
    threshold: float = 0.0,
    indexes: Any = None,
    seed: int = 0,
    group: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-label the most confident unlabeled rows, the same number per class.

    Candidates are rows whose largest probability is ``>= threshold``; their pseudo
    label is the argmax (ties to the smaller class). Per predicted class the ``quotas``
    most confident candidates are kept (ties to the smaller index), as in class-balanced
    self-training (Zou et al. 2018, CBST; Wei et al. 2021, CReST picks per-class rates
    from the class sizes). ``quotas=None`` keeps the same number in every predicted
    class: the smallest candidate count over the classes that have candidates.

    Parameters
    ----------
    probs : array-like or tensor, shape (n, C)
        Predicted probabilities (numpy or torch; float32 stays float32).
    quotas : None, int, mapping or array-like of length C
        Per predicted class (an array is indexed by class id ``0..C-1``).
    threshold : float
        Minimum confidence of a candidate.
    indexes : array-like of int, optional
        Global ids of the rows: the result holds global ids, ties go to the smaller
        one, and under torch.distributed every rank returns the same selection as one
        process holding all rows (counts are summed for ``quotas=None``; candidates are
        exchanged as in :func:`select_per_class`).
    seed : int
        Accepted for symmetry with the other functions; the choice has no random part.
    group : torch.distributed group, optional
        Process group of the exchange (default group when None).

    Returns
    -------
    (indices, pseudo_labels) : two int64 arrays
        Chosen rows (or global ids), ascending, and their predicted classes.

    Raises
    ------
    TypeError
        If ``probs`` is not numeric, ``threshold`` is not a finite number, ``indexes``
        is not integer data, ``quotas`` is not an int, mapping or array (or a mapping
        key is not an integer), or ``seed`` is not an integer.
    ValueError
        If ``probs`` is not a non-empty 2-D array or holds NaN or infinity, ``indexes``
        does not have one value per row, a quota is negative or a quota array does not
        have ``C`` values, or ``seed`` is outside ``[0, 2**64)``.

    Examples
    --------
    >>> import numpy as np
    >>> from longtail.select import class_balanced_pseudo_labels
    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55]])
    >>> idx, lab = class_balanced_pseudo_labels(p, threshold=0.5)
    >>> idx.tolist(), lab.tolist()
    ([0, 1, 3, 4], [0, 0, 1, 1])
    >>> class_balanced_pseudo_labels(p, threshold=0.6)[0].tolist()
    [0, 3]
    """
    p = as_scores(probs, "probs", ndim=2, finite=False)
    threshold = check_real(threshold, "threshold")
    check_seed(seed)
    n, c = p.shape
    ix = None
    if indexes is not None:
        ix = as_1d_labels(indexes, "indexes")
        if ix.size != n:
            raise ValueError(f"indexes: expected {n} values (one per row of probs), got {ix.size}")
    distributed = ix is not None and is_distributed() and world_size(group) > 1
    conf, pred = _core.select_row_scan(p, "max")
    cand = np.flatnonzero(conf >= threshold)
    y = np.ascontiguousarray(pred[cand])
    if quotas is None:
        counts = np.bincount(y, minlength=c)
        if distributed:
            counts = all_reduce_arrays([counts], group)[0]
        present = counts[counts > 0]
        spec = quota_spec(int(present.min()) if present.size else 0, lambda: None)
    else:
        spec = quota_spec(quotas, lambda: np.arange(c))
    sub_ix = None if ix is None else np.ascontiguousarray(ix[cand])
    conf_c = np.ascontiguousarray(conf[cand])
    ids, labs = _select(y, spec, conf_c, True, 0, sub_ix, distributed, group)
    if ix is None:
        return cand[ids], labs
    return ids, labs
