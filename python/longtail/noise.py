"""Label issues under class imbalance: confident learning, identical to cleanlab 2.x.

Confident learning (Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty
in Dataset Labels", JAIR 2021) counts, for every (given label, true label) pair, the
examples whose predicted probability of the true class reaches that class's average
self-confidence (the *confident joint*), and flags as label issues the examples that
make up its off-diagonal mass. The functions here return exactly what
``cleanlab.count.compute_confident_joint``, ``cleanlab.filter.find_label_issues`` and
``cleanlab.rank.get_label_quality_scores`` return, computed by Rust kernels in the
matrix's own dtype (float32 stays float32) with the GIL released:

- the per-class thresholds come from one pass that reproduces numpy's pairwise summation
  bit for bit (``np.mean`` in cleanlab), so even rows lying exactly on a threshold are
  counted the same;
- the confident joint is one pass with no ``n x C`` temporary;
- ``prune_by_noise_rate`` keeps, per (given, true) pair, the ``m`` examples with the
  largest margin ``p[true] - p[given]`` in one pass with a bounded heap per pair, instead
  of cleanlab's full argsort per pair; ``prune_by_class`` likewise per class.

**Ties.** Where cleanlab sorts (``np.argsort``, whose order of equal keys is unspecified)
we break ties by the smaller index (a stable sort). Without exact ties in the sorted
margins/probabilities the results are identical; with ties, every (given, true) pair still
selects the same number of examples, with the same multiset of margins.

:class:`LabelIssueFinder` gives the same result from data seen in batches (a memmap larger
than memory, a DataLoader, several DDP ranks), holding O(C^2 + number of issues).
"""

from __future__ import annotations

import secrets
import sys
from typing import Any, Sequence

import numpy as np

from . import _core
from ._checks import as_scores, check_positive_int, dataset_labels

__all__ = [
    "confident_joint",
    "find_label_issues",
    "label_quality_scores",
    "LabelIssueFinder",
]

# cleanlab.internal.constants
FLOATING_POINT_COMPARISON = 1e-6
CLIPPING_LOWER_BOUND = 1e-6
CONFIDENT_THRESHOLDS_LOWER_BOUND = 2 * FLOATING_POINT_COMPARISON
TINY_VALUE = 1e-100
# cleanlab refuses pred_probs with min < 0 - 1e-6 or max > 1 + 1e-6
_LO, _HI = 0 - FLOATING_POINT_COMPARISON, 1 + FLOATING_POINT_COMPARISON

FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
)
RANK_METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")


# --------------------------------------------------------------------------- inputs


def _inputs(labels: Any, pred_probs: Any) -> tuple[np.ndarray, np.ndarray]:
    y = dataset_labels(labels, name="labels")
    p = as_scores(pred_probs, "pred_probs", ndim=2, finite=False)
    if p.shape[0] != y.shape[0]:
        raise ValueError(
            f"labels: length {y.shape[0]} does not match pred_probs with {p.shape[0]} rows"
        )
    if p.shape[1] < 1:
        raise ValueError("pred_probs: must have at least one column")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= p.shape[1]:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"labels: class id {bad} is out of range for pred_probs with {p.shape[1]} columns"
        )
    return y, p


def _check_filter(filter_by: Any) -> str:
    if filter_by not in FILTERS:
        raise ValueError(f"filter_by: must be one of {FILTERS}, got {filter_by!r}")
    return filter_by


def _check_frac(frac_noise: Any) -> float:
    if isinstance(frac_noise, bool) or not isinstance(frac_noise, (int, float, np.floating)):
        raise TypeError(f"frac_noise: expected a number, got {type(frac_noise).__name__}")
    if not 0.0 <= float(frac_noise) <= 1.0:
        raise ValueError(f"frac_noise: must be in [0, 1], got {frac_noise}")
    return float(frac_noise)


def _check_remove(num_to_remove_per_class: Any, c: int, filter_by: str) -> np.ndarray | None:
    if num_to_remove_per_class is None:
        return None
    if filter_by not in ("prune_by_noise_rate", "prune_by_class", "both"):
        raise ValueError(
            "num_to_remove_per_class: only supported with filter_by 'prune_by_noise_rate', "
            f"'prune_by_class' or 'both', not {filter_by!r}"
        )
    r = np.asarray(num_to_remove_per_class)
    if r.ndim != 1 or r.shape[0] != c or r.dtype.kind not in "iu":
        raise ValueError(f"num_to_remove_per_class: expected {c} integers (one per class)")
    if (r < 0).any():
        raise ValueError("num_to_remove_per_class: must be >= 0")
    return r.astype(np.int64)


# ------------------------------------------------------- cleanlab's C x C arithmetic
# Each helper below is cleanlab's code (count.py, filter.py, internal/util.py) with the
# same numpy calls in the same order, so the floats and the rounding come out the same.


def _thresholds(counts: np.ndarray, sums: np.ndarray, dtype: type) -> np.ndarray:
    """``count.get_confident_thresholds`` from per-class numpy sums (as ``np.mean``)."""
    vals: list[Any] = []
    for n, s in zip(counts.tolist(), sums.tolist()):
        if n > 0:
            total = dtype(s)
            vals.append(total.dtype.type(total / np.intp(n)))  # np.mean's last step
        else:
            vals.append(2)  # BIG_VALUE for a class absent from labels
    return np.clip(vals, a_min=CONFIDENT_THRESHOLDS_LOWER_BOUND, a_max=None)


def _kernel_thresholds(thresholds: np.ndarray, dtype: type) -> np.ndarray:
    """``thresholds - 1e-6`` as cleanlab compares it, in the matrix's dtype.

    ``pred_probs >= t`` with float32 probabilities and float64 ``t`` (thresholds are
    float64 when a class is absent) equals ``pred_probs >= t32`` for the smallest float32
    ``t32 >= t``.
    """
    t = thresholds - FLOATING_POINT_COMPARISON
    if dtype == np.float64 or t.dtype == np.float32:
        return np.ascontiguousarray(t, dtype=dtype)
    t32 = t.astype(np.float32)
    up = t32.astype(np.float64) < t
    t32[up] = np.nextafter(t32[up], np.float32(np.inf))
    return t32


def _round_preserving_sum(iterable: np.ndarray) -> np.ndarray:
    floats = np.asarray(iterable, dtype=float)
    ints = floats.round()
    orig_sum = np.sum(floats).round()
    int_sum = np.sum(ints).round()
    while abs(int_sum - orig_sum) > FLOATING_POINT_COMPARISON:
        diff = np.round(orig_sum - int_sum)
        increment = -1 if int(diff < 0.0) else 1
        changes = min(int(abs(diff)), len(iterable))
        indices = np.argsort(floats - ints)[::-increment][:changes]
        for i in indices:
            ints[i] = ints[i] + increment
        int_sum = np.sum(ints).round()
    return ints.astype(int)


def _round_preserving_row_totals(m: np.ndarray) -> np.ndarray:
    return np.apply_along_axis(func1d=_round_preserving_sum, axis=1, arr=m).astype(int)


def _calibrate(cj: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    calibrated_cj = (cj.T / np.clip(cj.sum(axis=1), a_min=TINY_VALUE, a_max=None) * label_counts).T
    calibrated_cj = (
        calibrated_cj
        / np.clip(np.sum(calibrated_cj), a_min=TINY_VALUE, a_max=None)
        * sum(label_counts)
    )
    return _round_preserving_row_totals(calibrated_cj)


def _finish_joint(counts: np.ndarray, c: int, label_counts: np.ndarray, calibrate: bool):
    cj = np.asarray(counts, dtype=np.int64).reshape(c, c).astype(int)
    np.fill_diagonal(cj, cj.diagonal().clip(min=1))
    if calibrate:
        cj = _calibrate(cj, label_counts)
    return cj


def _reduce_prune_counts(prune_count_matrix: np.ndarray, frac_noise: float) -> np.ndarray:
    new_mat = prune_count_matrix * frac_noise
    np.fill_diagonal(new_mat, prune_count_matrix.diagonal())
    np.fill_diagonal(
        new_mat,
        prune_count_matrix.diagonal() + np.sum(prune_count_matrix - new_mat, axis=0),
    )
    return new_mat.astype(int)


def _keep_at_least_n_per_class(prune_count_matrix: np.ndarray, n: int, frac_noise: float):
    prune_count_matrix_diagonal = np.diagonal(prune_count_matrix)
    new_diagonal = np.maximum(prune_count_matrix_diagonal, n)
    diff_per_col = new_diagonal - prune_count_matrix_diagonal
    num_noise_rates_per_col = np.maximum(np.count_nonzero(prune_count_matrix, axis=0) - 1.0, 1.0)
    new_mat = prune_count_matrix - diff_per_col / num_noise_rates_per_col
    new_mat[new_mat < 0] = 0
    np.fill_diagonal(new_mat, new_diagonal)
    new_mat = _reduce_prune_counts(new_mat, frac_noise)
    return _round_preserving_row_totals(new_mat).astype(int)


def _prune_counts(cj, label_counts, min_examples_per_class, frac_noise, num_to_remove):
    """``prune_count_matrix`` of ``filter.find_label_issues`` ([true, given] counts)."""
    with np.errstate(all="ignore"):  # cleanlab's divisions by zero give nan/inf quietly
        pcm = _keep_at_least_n_per_class(cj.T, min_examples_per_class, frac_noise)
        if num_to_remove is not None:
            psy = pcm / np.sum(pcm, axis=1)
            noise_per_s = psy.sum(axis=1) - psy.diagonal()
            tmp = (psy.T * num_to_remove / noise_per_s).T
            np.fill_diagonal(tmp, label_counts - num_to_remove)
            pcm = _round_preserving_row_totals(tmp)
    return pcm


def _selection_spec(pcm, label_counts, min_examples_per_class, filter_by):
    """(pair_k, pair_j, pair_cap, class_caps) for the selection kernel.

    A class is pruned only if it has more than ``min_examples_per_class`` examples and
    more than one (cleanlab assigns a class's mask only when it is longer than 1).
    """
    c = len(label_counts)
    eligible = (label_counts > min_examples_per_class) & (label_counts > 1)
    pk: list[int] = []
    pj: list[int] = []
    pc: list[int] = []
    class_caps = np.zeros(c, dtype=np.int64)
    if filter_by in ("prune_by_noise_rate", "both"):
        m = pcm.copy()
        np.fill_diagonal(m, 0)
        m[:, ~eligible] = 0
        j, k = np.nonzero(m > 0)  # pcm is [true j, given k]
        order = np.lexsort((j, k))
        k, j = k[order], j[order]
        pk, pj = k.tolist(), j.tolist()
        pc = np.minimum(m[j, k], label_counts[k]).tolist()
    if filter_by in ("prune_by_class", "both"):
        num_issues = label_counts - np.diagonal(pcm)
        keep = eligible & (num_issues >= 1)
        class_caps[keep] = np.minimum(num_issues[keep], label_counts[keep])
    return (
        np.asarray(pk, dtype=np.int64),
        np.asarray(pj, dtype=np.int64),
        np.asarray(pc, dtype=np.int64),
        class_caps,
    )


def _trim(cands: tuple[np.ndarray, ...], caps: np.ndarray) -> tuple[np.ndarray, ...]:
    """Keep the ``caps[slot]`` best of each slot (key descending, then index ascending)."""
    slot, key, index, flag = cands
    order = np.lexsort((index, -key, slot))
    slot, key, index, flag = slot[order], key[order], index[order], flag[order]
    if slot.size:
        first = np.searchsorted(slot, slot, side="left")
        keep = (np.arange(slot.size) - first) < caps[slot]
        slot, key, index, flag = slot[keep], key[keep], index[keep], flag[keep]
    return slot, key, index, flag


def _bars(cands: tuple[np.ndarray, ...], caps: np.ndarray) -> np.ndarray:
    """Per slot, the worst kept key once the slot is full (-inf otherwise): later rows
    (larger indexes) must beat it, so the kernel can skip the others."""
    slot, key = cands[0], cands[1]
    bars = np.full(caps.shape[0], -np.inf)
    if slot.size:
        counts = np.bincount(slot, minlength=caps.shape[0])
        last = np.searchsorted(slot, np.arange(caps.shape[0]), side="right") - 1
        full = (counts >= caps) & (counts > 0)
        bars[full] = key[last[full]]
    return bars


def _issues_from_selection(cands, n_pairs: int, filter_by: str) -> np.ndarray:
    slot, _key, index, flag = cands
    ok = ~flag
    noise = np.unique(index[(slot < n_pairs) & ok])
    by_class = np.unique(index[(slot >= n_pairs) & ok])
    if filter_by == "prune_by_noise_rate":
        return noise
    if filter_by == "prune_by_class":
        return by_class
    return np.intersect1d(noise, by_class)


# ------------------------------------------------------------------------ functions


def _joint_counts(y, p, label_counts, off_diagonal=False):
    _, sums = _core.noise_class_sums(y, p)
    thr = _thresholds(label_counts, np.asarray(sums), p.dtype.type)
    return _core.noise_confident_joint(
        y, p, _kernel_thresholds(thr, p.dtype.type), FLOATING_POINT_COMPARISON, _LO, _HI,
        off_diagonal,
    )


def confident_joint(labels: Any, pred_probs: Any, *, calibrate: bool = True) -> np.ndarray:
    """The confident joint: counts of (given label, confidently predicted true label).

    Equal to ``cleanlab.count.compute_confident_joint(labels, pred_probs,
    calibrate=calibrate)`` (Northcutt et al., JAIR 2021, eq. 1-2): class j's threshold is
    the mean predicted probability of j over the examples labelled j; an example counts
    for the class whose probability reaches its threshold (the argmax if several do);
    the diagonal is at least 1; ``calibrate`` rescales rows to the label counts and the
    total to n. One pass over ``pred_probs`` (float32 or float64, no copy), no ``n x C``
    temporary.

    Parameters
    ----------
    labels : array-like of int, tensor or dataset, shape (n,)
        Given labels in ``[0, C)``, read as the samplers read them.
    pred_probs : array-like or tensor, shape (n, C)
        Out-of-sample predicted probabilities (float32 or float64).
    calibrate : bool
        Rescale the rows to the label counts and the total to ``n``.

    Returns
    -------
    numpy.ndarray of int64, shape (C, C)
        ``[given label, true label]`` counts.

    Raises
    ------
    TypeError
        If ``labels`` is not integer data or ``pred_probs`` is not numeric.
    ValueError
        If ``labels`` is empty or not 1-D, ``pred_probs`` is not 2-D with one row per
        label, a label is outside ``[0, C)``, or ``pred_probs`` holds values outside
        ``[0, 1]`` (beyond 1e-6).

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.95, 0.05], [0.2, 0.8]])
    >>> confident_joint([0, 0, 1, 1, 1], p, calibrate=False).tolist()
    [[1, 0], [1, 2]]
    >>> confident_joint([0, 0, 1, 1, 1], p).tolist()
    [[2, 0], [1, 2]]
    """
    y, p = _inputs(labels, pred_probs)
    counts, _ = _joint_counts(y, p, np.bincount(y, minlength=p.shape[1]))
    label_counts = np.bincount(y, minlength=p.shape[1])
    return _finish_joint(np.asarray(counts), p.shape[1], label_counts, bool(calibrate))


def _check_classes(n: int, label_counts: np.ndarray) -> None:
    # cleanlab: "Labels must contain at least 2 classes" (unless every label is 0)
    if np.count_nonzero(label_counts) < 2 and label_counts[0] != n:
        raise ValueError("labels: must contain at least 2 classes")


def find_label_issues(
    labels: Any,
    pred_probs: Any,
    *,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: Sequence[int] | None = None,
    min_examples_per_class: int = 1,
    return_indices_ranked_by: str | None = None,
) -> np.ndarray:
    """Boolean mask of likely label errors (or their indices, worst first).

    The same answer as ``cleanlab.filter.find_label_issues`` (confident learning,
    Northcutt et al., JAIR 2021) for ``filter_by`` in ``"prune_by_noise_rate"`` (per
    (given k, true j) pair of the calibrated confident joint, the examples of class k with
    the largest ``p[j] - p[k]``), ``"prune_by_class"`` (per class, the smallest ``p[k]``),
    ``"both"``, ``"confident_learning"`` (the joint's off-diagonal) and
    ``"predicted_neq_given"``; examples whose given label is the argmax within 1e-6 are
    never issues. ``min_examples_per_class`` protects tail classes: a class with at most
    that many examples loses none, and pruning never leaves fewer in a class.
    ``frac_noise`` keeps that fraction of the off-diagonal counts; ``num_to_remove_per_class``
    sets the count per class. ``return_indices_ranked_by`` (a ``label_quality_scores``
    method) returns the issue indices sorted by that score, lowest first (ties: smaller
    index first). Ties in the margins go to the smaller index (see the module notes).

    Parameters
    ----------
    labels : array-like of int, tensor or dataset, shape (n,)
        Given labels in ``[0, C)``, read as the samplers read them.
    pred_probs : array-like or tensor, shape (n, C)
        Out-of-sample predicted probabilities (float32 or float64).
    filter_by : str
        Confident-learning method: ``"prune_by_noise_rate"``, ``"prune_by_class"``,
        ``"both"``, ``"confident_learning"`` or ``"predicted_neq_given"``.
    frac_noise : float
        Fraction of the estimated off-diagonal counts to remove, in ``[0, 1]``.
    num_to_remove_per_class : sequence of int, optional
        Issues to find per class (``C`` non-negative integers); only with the
        ``prune_by_*`` and ``both`` methods.
    min_examples_per_class : int
        Examples every class keeps (>= 0).
    return_indices_ranked_by : str, optional
        None: return a mask; else the issue indices ranked by this
        :func:`label_quality_scores` method.

    Returns
    -------
    numpy.ndarray
        A bool mask of shape (n,), or int64 indices of the issues, worst first.

    Raises
    ------
    TypeError
        If ``labels`` is not integer data, ``pred_probs`` is not numeric,
        ``frac_noise`` is not a number or ``min_examples_per_class`` is not an integer.
    ValueError
        If ``filter_by`` or ``return_indices_ranked_by`` is unknown, ``frac_noise`` is
        outside ``[0, 1]``, ``min_examples_per_class`` is negative,
        ``num_to_remove_per_class`` is not ``C`` non-negative integers or is given with
        another method, ``labels`` is empty or not 1-D, ``pred_probs`` is not 2-D with
        one row per label, a label is outside ``[0, C)``, ``pred_probs`` holds values
        outside ``[0, 1]`` (beyond 1e-6), or the labels hold fewer than 2 classes.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8], [0.1, 0.9], [0.8, 0.2]])
    >>> find_label_issues([0, 0, 0, 1, 1, 1], p).tolist()
    [False, False, False, False, False, True]
    """
    filter_by = _check_filter(filter_by)
    frac_noise = _check_frac(frac_noise)
    if return_indices_ranked_by is not None and return_indices_ranked_by not in RANK_METHODS:
        raise ValueError(
            f"return_indices_ranked_by: must be None or one of {RANK_METHODS}, "
            f"got {return_indices_ranked_by!r}"
        )
    min_examples_per_class = check_positive_int(
        min_examples_per_class, "min_examples_per_class", minimum=0
    )
    y, p = _inputs(labels, pred_probs)
    c = p.shape[1]
    num_to_remove = _check_remove(num_to_remove_per_class, c, filter_by)
    label_counts = np.bincount(y, minlength=c)
    _check_classes(len(y), label_counts)
    eps = FLOATING_POINT_COMPARISON
    if filter_by == "predicted_neq_given":
        issues = np.asarray(_core.noise_predicted_neq_given(y, p, eps, _LO, _HI), dtype=np.int64)
    elif filter_by == "confident_learning":
        _, off = _joint_counts(y, p, label_counts, off_diagonal=True)
        issues = np.asarray(off, dtype=np.int64)
    else:
        counts, _ = _joint_counts(y, p, label_counts)
        cj = _finish_joint(np.asarray(counts), c, label_counts, True)
        pcm = _prune_counts(cj, label_counts, min_examples_per_class, frac_noise, num_to_remove)
        pk, pj, pc, cc = _selection_spec(pcm, label_counts, min_examples_per_class, filter_by)
        cands = _core.noise_select(y, p, pk, pj, pc, cc, 0, eps, _LO, _HI)
        issues = _issues_from_selection(cands, len(pk), filter_by)
    mask = np.zeros(len(y), dtype=bool)
    mask[issues] = True
    if return_indices_ranked_by is None:
        return mask
    scores = _scores(y, p, return_indices_ranked_by)
    idx = np.flatnonzero(mask)
    return idx[np.argsort(scores[mask], kind="stable")]


def _scores(y: np.ndarray, p: np.ndarray, method: str) -> np.ndarray:
    if method == "self_confidence":
        return _core.noise_quality(y, p, 0, _LO, _HI)
    if method == "normalized_margin":
        return _core.noise_quality(y, p, 1, _LO, _HI)
    # confidence_weighted_entropy: get_normalized_entropy refuses anything outside [0, 1]
    xlogx = _core.noise_quality(y, p, 2, 0.0, 1.0)
    self_confidence = _core.noise_quality(y, p, 0, 0.0, 1.0)
    self_confidence = np.clip(self_confidence, a_min=CLIPPING_LOWER_BOUND, a_max=None)
    entropy = -xlogx / np.log(p.shape[1])
    label_quality_scores = entropy / self_confidence
    clipped_scores = np.clip(label_quality_scores, a_min=CLIPPING_LOWER_BOUND, a_max=None)
    return np.log(label_quality_scores + 1) / clipped_scores


def label_quality_scores(
    labels: Any, pred_probs: Any, *, method: str = "self_confidence"
) -> np.ndarray:
    """Per-example label quality in [0, 1]; low means the label is likely wrong.

    As ``cleanlab.rank.get_label_quality_scores`` (Northcutt et al., JAIR 2021; Kuan &
    Mueller, "Model-agnostic label quality scoring", 2022): ``"self_confidence"`` is
    ``p[label]``; ``"normalized_margin"`` is ``(p[label] - max_{j != label} p[j] + 1) / 2``;
    ``"confidence_weighted_entropy"`` is ``log(s + 1) / max(s, 1e-6)`` with ``s`` the
    normalized entropy of the row divided by ``max(p[label], 1e-6)``. Returned in the dtype
    cleanlab returns (the matrix's for the first two, float64 for the third).

    Parameters
    ----------
    labels : array-like of int, tensor or dataset, shape (n,)
        Given labels in ``[0, C)``, read as the samplers read them.
    pred_probs : array-like or tensor, shape (n, C)
        Out-of-sample predicted probabilities (float32 or float64).
    method : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}
        Score.

    Returns
    -------
    numpy.ndarray of float, shape (n,)
        Quality of every label (low: likely wrong).

    Raises
    ------
    TypeError
        If ``labels`` is not integer data or ``pred_probs`` is not numeric.
    ValueError
        If ``method`` is unknown, ``labels`` is empty or not 1-D, ``pred_probs`` is not
        2-D with one row per label, a label is outside ``[0, C)``, ``pred_probs`` holds
        values outside ``[0, 1]`` (beyond 1e-6), or ``normalized_margin`` gets a single
        column.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.4, 0.6]], dtype=np.float32)
    >>> label_quality_scores([0, 0], p).tolist()
    [0.8999999761581421, 0.4000000059604645]
    >>> label_quality_scores([0, 0], p, method="normalized_margin").dtype
    dtype('float32')
    """
    if method not in RANK_METHODS:
        raise ValueError(f"method: must be one of {RANK_METHODS}, got {method!r}")
    y, p = _inputs(labels, pred_probs)
    if method == "normalized_margin" and p.shape[1] < 2:
        raise ValueError("pred_probs: normalized_margin needs at least 2 columns")
    return _scores(y, p, method)


# ------------------------------------------------------------------------ streaming

_PASSES = {
    "predicted_neq_given": ("issues",),
    "confident_learning": ("count", "sums", "joint"),
    "prune_by_noise_rate": ("count", "sums", "joint", "select"),
    "prune_by_class": ("count", "sums", "joint", "select"),
    "both": ("count", "sums", "joint", "select"),
}


class LabelIssueFinder:
    """:func:`find_label_issues` over data seen in batches, in as many passes as needed.

    Feed every batch with ``update(labels, pred_probs, indexes)``, call ``next_pass()``
    at the end of each pass, ``passes_needed`` times in all (1 for
    ``predicted_neq_given``, 3 for ``confident_learning``, 4 for the pruning methods: class
    counts, thresholds, confident joint, per-pair selection; the first pass reads only the
    labels), then ``find_label_issues()`` returns the global indices of the issues,
    ascending — exactly ``np.flatnonzero(find_label_issues(all labels, all rows))``. State
    is O(C^2 + number of issues); ``pred_probs`` batches are read in their dtype, never
    kept.

    Rows must come in increasing ``indexes`` within each process and pass (the
    thresholds are numpy's pairwise sums, whose rounding depends on the order), and
    every pass must see the same rows. Across processes, each rank holds its own block of
    indexes (rank 0 the first block, and so on: e.g. contiguous shards of a memmap);
    ``next_pass()`` and ``find_label_issues()`` ``sync()`` the ranks when
    torch.distributed is initialised. ``merge(other)`` folds in another finder's
    contributions to the current pass (idempotent: merging twice counts once).
    ``fit(labels, pred_probs, batch_size)`` runs every pass over arrays (a
    ``np.memmap`` is read batch by batch through a fresh small mapping each time, so
    resident memory stays near one batch).

    Parameters
    ----------
    num_classes : int
        Number of classes ``C`` (>= 1).
    filter_by, frac_noise, num_to_remove_per_class, min_examples_per_class
        As :func:`find_label_issues`.

    Raises
    ------
    TypeError
        If ``num_classes`` or ``min_examples_per_class`` is not an integer, or
        ``frac_noise`` is not a number.
    ValueError
        If ``num_classes < 1``, ``filter_by`` is unknown, ``frac_noise`` is outside
        ``[0, 1]``, ``min_examples_per_class`` is negative, or
        ``num_to_remove_per_class`` is not ``C`` non-negative integers or is given with
        another method.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8], [0.1, 0.9], [0.8, 0.2]])
    >>> y = np.array([0, 0, 0, 1, 1, 1])
    >>> f = LabelIssueFinder(2)
    >>> for _ in range(f.passes_needed):
    ...     for start in (0, 4):
    ...         f.update(y[start:start + 4], p[start:start + 4])
    ...     f.next_pass()
    >>> f.find_label_issues().tolist()
    [5]
    """

    def __init__(
        self,
        num_classes: int,
        *,
        filter_by: str = "prune_by_noise_rate",
        frac_noise: float = 1.0,
        num_to_remove_per_class: Sequence[int] | None = None,
        min_examples_per_class: int = 1,
    ) -> None:
        self.num_classes = check_positive_int(num_classes, "num_classes")
        self.filter_by = _check_filter(filter_by)
        self.frac_noise = _check_frac(frac_noise)
        self.num_to_remove_per_class = _check_remove(
            num_to_remove_per_class, self.num_classes, self.filter_by
        )
        self.min_examples_per_class = check_positive_int(
            min_examples_per_class, "min_examples_per_class", minimum=0
        )
        self._stages = _PASSES[self.filter_by]
        self._uid = secrets.token_hex(8)
        self._pass = 0
        self._dtype: Any = None
        self._own: dict[str, Any] | None = None  # this shard's rows (from the first pass)
        self._contrib: dict[str, Any] = {}  # shard uid -> its contribution to this pass
        self._counts: np.ndarray | None = None  # global label counts
        self._shards: list[tuple[int, int, np.ndarray]] = []
        self._thr: np.ndarray | None = None
        self._cj_counts: np.ndarray | None = None
        self._spec: tuple[np.ndarray, ...] | None = None
        self._issues: np.ndarray | None = None
        self._start_pass()

    # -- properties
    @property
    def passes_needed(self) -> int:
        """Total number of passes over the data this method needs."""
        return len(self._stages)

    @property
    def current_pass(self) -> int:
        """Index of the pass being fed (== passes_needed when all are done)."""
        return self._pass

    @property
    def stage(self) -> str:
        """Name of the current pass: count, sums, joint, select, issues, or done."""
        return self._stages[self._pass] if self._pass < len(self._stages) else "done"

    # -- per-pass local state
    def _start_pass(self) -> None:
        self._rows = 0
        self._last = -1
        self._lo = -1
        self._acc: Any = None
        self._local: Any = None
        self._contrib = {}
        self._synced = False

    def _indexes(self, indexes: Any, n: int) -> np.ndarray:
        if indexes is None:
            idx = np.arange(self._last + 1, self._last + 1 + n, dtype=np.int64)
        else:
            from ._checks import as_1d_labels

            idx = as_1d_labels(indexes, "indexes", allow_empty=True)
            if idx.shape[0] != n:
                raise ValueError(f"indexes: length {idx.shape[0]} does not match {n} rows")
        if n and (idx[0] <= self._last or (n > 1 and np.any(np.diff(idx) <= 0))):
            raise ValueError(
                "indexes: must increase within a pass (feed rows in index order; the "
                "thresholds are order-dependent sums)"
            )
        return idx

    def update(self, labels: Any, pred_probs: Any = None, indexes: Any = None) -> None:
        """Feed one batch of the current pass.

        ``pred_probs`` may be None in the first pass of the counting methods (it reads
        labels only). ``indexes``: the rows' global ids (default: consecutive, continuing
        the previous batch of this pass).

        Parameters
        ----------
        labels : array-like of int, tensor or dataset, shape (n,)
            Given labels of the batch, in ``[0, C)``.
        pred_probs : array-like or tensor, shape (n, C), optional
            Predicted probabilities of the batch, the same dtype in every batch.
        indexes : array-like of int, shape (n,), optional
            Global ids of the rows, increasing within the pass.

        Raises
        ------
        RuntimeError
            If all passes are done.
        TypeError
            If ``labels`` or ``indexes`` are not integer data, ``pred_probs`` is not
            numeric or its dtype differs from earlier batches.
        ValueError
            If a label is outside ``[0, C)``, ``pred_probs`` is not of shape (n, C) or
            is missing after the counting pass, or ``indexes`` has the wrong length or
            does not increase.
        """
        stage = self.stage
        if stage == "done":
            raise RuntimeError("update: all passes are done; call find_label_issues()")
        y = dataset_labels(labels, name="labels")
        c = self.num_classes
        if y.size and (y.min() < 0 or y.max() >= c):
            bad = int(y.min()) if y.min() < 0 else int(y.max())
            raise ValueError(f"labels: class id {bad} is out of range for {c} classes")
        p = None
        if pred_probs is not None:
            p = as_scores(pred_probs, "pred_probs", ndim=2, finite=False, allow_empty=True)
            if p.shape != (y.shape[0], c):
                raise ValueError(
                    f"pred_probs: expected shape ({y.shape[0]}, {c}), got {p.shape}"
                )
            if self._dtype is None:
                self._dtype = p.dtype.type
            elif p.dtype.type != self._dtype:
                raise TypeError(
                    f"pred_probs: dtype {p.dtype} differs from earlier batches "
                    f"({np.dtype(self._dtype)})"
                )
        elif stage != "count":
            raise ValueError(f"pred_probs: required in the {stage!r} pass")
        idx = self._indexes(indexes, y.shape[0])
        if y.size == 0:
            return
        if self._lo < 0:
            self._lo = int(idx[0])
        self._last = int(idx[-1])
        self._rows += y.shape[0]
        eps = FLOATING_POINT_COMPARISON
        if stage == "count":
            if self._local is None:
                self._local = np.zeros(c, dtype=np.int64)
            self._local += np.bincount(y, minlength=c)
        elif stage == "sums":
            if self._acc is None:
                self._acc = self._new_sums()
            self._acc.update(y, p)
        elif stage == "joint":
            counts, off = _core.noise_confident_joint(
                y, p, _kernel_thresholds(self._thr, self._dtype), eps, _LO, _HI,
                self.filter_by == "confident_learning",
            )
            if self._local is None:
                self._local = [np.zeros(c * c, dtype=np.int64), []]
            self._local[0] += np.asarray(counts, dtype=np.int64)
            self._local[1].append(idx[np.asarray(off, dtype=np.int64)])
        elif stage == "select":
            pk, pj, pc, cc = self._spec
            if self._local is None:
                self._local = [None, []]  # kept (trimmed) candidates, pending ones
            kept, pending = self._local
            bars = None if kept is None else _bars(kept, self._caps)
            slot, key, row, flag = _core.noise_select(
                y, p, pk, pj, pc, cc, 0, eps, _LO, _HI, bars
            )
            pending.append((slot, key, idx[row], flag))
            # re-trim only once the pending rows outnumber the kept ones (amortised);
            # the bars from the kept set alone are lower, which only lets more rows in
            n_kept = 0 if kept is None else kept[0].size
            if sum(c[0].size for c in pending) > max(n_kept, 4096):
                self._local = [self._selection(), []]
        elif stage == "issues":
            off = _core.noise_predicted_neq_given(y, p, eps, _LO, _HI)
            if self._local is None:
                self._local = []
            self._local.append(idx[np.asarray(off, dtype=np.int64)])

    def _new_sums(self):
        """Streaming numpy sums over this shard's positions of each class."""
        if self._own is None or self._counts is None:
            raise RuntimeError("update: the counting pass has not been completed")
        lo = self._own["lo"]
        before = np.zeros(self.num_classes, dtype=np.int64)
        for s_lo, _s_hi, counts in self._shards:
            if s_lo < lo:
                before += counts
        own = self._own["counts"]
        if self._dtype is None:
            raise RuntimeError("update: pred_probs missing")
        return _core.PairwiseSums(self._counts, before, before + own, self._dtype == np.float64)

    # -- combining
    def _own_contribution(self) -> Any:
        stage = self.stage
        if self._rows == 0:
            return None
        if stage == "count":
            return {"lo": self._lo, "hi": self._last, "rows": self._rows, "counts": self._local}
        if stage == "sums":
            if not self._acc.complete():
                raise ValueError(
                    "labels: this pass saw fewer rows of a class than the counting pass "
                    "(every pass must see the same rows)"
                )
            return tuple(np.asarray(a) for a in self._acc.pieces())
        if stage == "joint":
            off = np.concatenate(self._local[1]) if self._local[1] else np.zeros(0, np.int64)
            return (self._local[0], off)
        if stage == "select":
            return self._selection()
        return np.concatenate(self._local) if self._local else np.zeros(0, np.int64)

    def _selection(self) -> tuple[np.ndarray, ...]:
        kept, pending = self._local
        parts = ([kept] if kept is not None else []) + pending
        return _trim(tuple(np.concatenate([c[i] for c in parts]) for i in range(4)), self._caps)

    def _check_rows(self) -> None:
        if self.stage != "count" and self._own is not None and self._rows != self._own["rows"]:
            raise ValueError(
                f"labels: this pass saw {self._rows} rows, the first pass "
                f"{self._own['rows']} (every pass must see the same rows)"
            )

    def _contributions(self) -> dict[str, Any]:
        mine = self._own_contribution()
        out = dict(self._contrib)
        if mine is not None:
            out[self._uid] = mine
        return out

    def state(self) -> dict[str, Any]:
        """This finder's contributions to the current pass (picklable).

        Returns
        -------
        dict
            The pass number, ``filter_by`` and the contributions, for :meth:`merge`.
        """
        return {"pass": self._pass, "filter_by": self.filter_by, "contrib": self._contributions()}

    def merge(self, other: LabelIssueFinder | dict[str, Any]) -> LabelIssueFinder:
        """Fold another finder's (or ``state()``'s) contributions to this pass into this one.

        Parameters
        ----------
        other : LabelIssueFinder or dict
            Another finder, or the output of its :meth:`state`.

        Returns
        -------
        LabelIssueFinder
            This finder.

        Raises
        ------
        ValueError
            If ``other`` is in another pass or uses another ``filter_by``.
        """
        st = other.state() if isinstance(other, LabelIssueFinder) else other
        if st["pass"] != self._pass or st["filter_by"] != self.filter_by:
            raise ValueError(
                f"other: in pass {st['pass']} of {st['filter_by']!r}, this finder in pass "
                f"{self._pass} of {self.filter_by!r}"
            )
        for uid, contrib in st["contrib"].items():
            if uid != self._uid:
                self._contrib[uid] = contrib
        return self

    def sync(self, group: Any = None) -> None:
        """Gather every rank's contributions to this pass (one all_gather).

        Parameters
        ----------
        group : torch.distributed group, optional
            Process group of the all-gather (default group when None).
        """
        from .distributed import all_gather_objects

        self._check_rows()
        for st in all_gather_objects(self.state(), group):
            self.merge(st)
        self._synced = True

    def _auto_sync(self, sync: bool | None, group: Any) -> None:
        if sync is None:
            # without torch imported there is no process group (and no reason to import it)
            torch = sys.modules.get("torch")
            dist = getattr(torch, "distributed", None)
            sync = (
                dist is not None
                and dist.is_available()
                and dist.is_initialized()
                and not self._synced
            )
        if sync:
            self.sync(group)

    def next_pass(self, *, sync: bool | None = None, group: Any = None) -> None:
        """End the current pass: combine every shard's contributions, start the next.

        Parameters
        ----------
        sync : bool, optional
            :meth:`sync` first; None: when torch.distributed is initialised and this
            pass was not synced yet.
        group : torch.distributed group, optional
            Process group of the sync.

        Raises
        ------
        RuntimeError
            If all passes are done.
        ValueError
            If no rows were seen, the ranks' index ranges overlap, or the labels hold
            fewer than 2 classes.
        """
        stage = self.stage
        if stage == "done":
            raise RuntimeError("next_pass: all passes are done")
        self._check_rows()
        self._auto_sync(sync, group)
        contrib = self._contributions()
        c = self.num_classes
        if stage == "count":
            self._own = (
                {"lo": self._lo, "hi": self._last, "rows": self._rows, "counts": self._local}
                if self._rows
                else {"lo": -1, "hi": -1, "rows": 0, "counts": np.zeros(c, np.int64)}
            )
            shards = sorted(
                (v["lo"], v["hi"], np.asarray(v["counts"], np.int64)) for v in contrib.values()
            )
            for (_, hi0, _), (lo1, _, _) in zip(shards, shards[1:]):
                if lo1 <= hi0:
                    raise ValueError(
                        "indexes: the ranks' index ranges overlap; give each rank its own "
                        "contiguous block of rows (e.g. split the data into contiguous "
                        "shards instead of an interleaving DistributedSampler)"
                    )
            self._shards = shards
            self._counts = (
                np.sum([s[2] for s in shards], axis=0).astype(np.int64)
                if shards
                else np.zeros(c, np.int64)
            )
            if self._counts.sum() == 0:
                raise ValueError("labels: no rows were seen in the first pass")
            if self.filter_by != "predicted_neq_given":
                _check_classes(int(self._counts.sum()), self._counts)
        elif stage == "sums":
            parts = [v for v in contrib.values()]
            cat = [np.concatenate([p[i] for p in parts]) for i in range(5)] if parts else None
            if cat is None:
                raise ValueError("labels: no rows were seen in the thresholds pass")
            sums = np.asarray(
                _core.noise_pairwise_eval(self._counts, *cat, self._dtype == np.float64)
            )
            self._thr = _thresholds(self._counts, sums, self._dtype)
        elif stage == "joint":
            total = np.zeros(c * c, dtype=np.int64)
            offs = []
            for counts, off in contrib.values():
                total += counts
                offs.append(off)
            if self.filter_by == "confident_learning":
                self._issues = np.unique(np.concatenate(offs)) if offs else np.zeros(0, np.int64)
            else:
                cj = _finish_joint(total, c, self._counts, True)
                pcm = _prune_counts(
                    cj,
                    self._counts,
                    self.min_examples_per_class,
                    self.frac_noise,
                    self.num_to_remove_per_class,
                )
                self._spec = _selection_spec(
                    pcm, self._counts, self.min_examples_per_class, self.filter_by
                )
                pc, cc = self._spec[2], self._spec[3]
                self._caps = np.concatenate([pc, cc[cc > 0]]).astype(np.int64)
        elif stage == "select":
            parts = [v for v in contrib.values() if v is not None]
            if parts:
                cands = _trim(
                    tuple(np.concatenate([p[i] for p in parts]) for i in range(4)), self._caps
                )
            else:
                cands = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64),
                         np.zeros(0, bool))
            self._issues = _issues_from_selection(cands, len(self._spec[0]), self.filter_by)
        elif stage == "issues":
            parts = list(contrib.values())
            self._issues = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        self._pass += 1
        self._start_pass()

    def find_label_issues(self) -> np.ndarray:
        """Global indices of the label issues, ascending (after all passes).

        Returns
        -------
        numpy.ndarray of int64
            Issue indices, ascending.

        Raises
        ------
        RuntimeError
            If a pass is not finished.
        """
        if self.stage != "done":
            raise RuntimeError(
                f"find_label_issues: pass {self._pass + 1} of {self.passes_needed} "
                f"({self.stage!r}) is not finished; call next_pass() after each pass"
            )
        return np.asarray(self._issues, dtype=np.int64)

    def fit(self, labels: Any, pred_probs: Any, *, batch_size: int = 65536) -> LabelIssueFinder:
        """Run every remaining pass over ``labels`` and ``pred_probs`` (arrays or memmaps).

        Parameters
        ----------
        labels : array-like of int, tensor or dataset, shape (n,)
            Given labels of all rows.
        pred_probs : array-like or numpy.memmap, shape (n, C)
            Predicted probabilities of all rows, read ``batch_size`` rows at a time.
        batch_size : int
            Rows per batch (>= 1).

        Returns
        -------
        LabelIssueFinder
            This finder, with every pass done.

        Raises
        ------
        TypeError, ValueError
            If ``batch_size`` is not a positive integer, ``pred_probs`` is not of shape
            (n, C), or as :meth:`update` and :meth:`next_pass`.

        Examples
        --------
        >>> import numpy as np
        >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8], [0.1, 0.9], [0.8, 0.2]])
        >>> LabelIssueFinder(2).fit([0, 0, 0, 1, 1, 1], p, batch_size=4).find_label_issues()
        array([5])
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        y = dataset_labels(labels, name="labels")
        n = y.shape[0]
        if getattr(pred_probs, "shape", None) is None:
            pred_probs = np.asarray(pred_probs)
        if len(pred_probs.shape) != 2 or pred_probs.shape[0] != n:
            raise ValueError(
                f"pred_probs: expected shape ({n}, {self.num_classes}), "
                f"got {tuple(pred_probs.shape)}"
            )
        while self.stage != "done":
            if self.stage == "count":
                self.update(y)
            else:
                for start in range(0, n, batch_size):
                    stop = min(n, start + batch_size)
                    self.update(y[start:stop], _rows(pred_probs, start, stop))
            self.next_pass()
        return self


def _rows(x: Any, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of ``x``; a C-contiguous memmap is read through its own small
    mapping, released after use, so pages of earlier batches do not stay resident."""
    if isinstance(x, np.memmap) and x.filename is not None and x.flags.c_contiguous:
        import mmap as _mmap

        base = x.base
        if isinstance(base, _mmap.mmap) and x.offset is not None:
            row = x.strides[0]
            return np.asarray(
                np.memmap(
                    x.filename,
                    dtype=x.dtype,
                    mode="r",
                    offset=x.offset + start * row,
                    shape=(stop - start,) + x.shape[1:],
                )
            )
    return np.asarray(x[start:stop])
