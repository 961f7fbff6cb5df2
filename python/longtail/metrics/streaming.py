"""Streaming metric accumulators that merge and sync over ``torch.distributed``.

Every accumulator has torchmetrics' protocol: ``update(preds, target)``, ``compute()``,
``reset()``, plus ``merge(other)``, ``state_dict()`` / ``load_state_dict()`` and
``sync(group=None)``. Inputs may be lists, numpy arrays or torch tensors (CPU or CUDA).

Two kinds of state:

* **additive** (``ConfusionMatrix``, ``ShotAccuracy``, ``CalibrationError`` and the
  binned ``AUROC`` / ``AveragePrecision`` with ``bins=``): fixed-size count arrays whose
  size does not depend on the number of rows (a binned AUROC holds ``2 x classes x bins``
  int64 counters). They merge by addition and ``sync()`` reduces *all* of them with a
  single ``all_reduce``.
* **exact** (``AUROC`` / ``AveragePrecision`` with ``bins=None``) keeps every score, like
  scikit-learn on the concatenated data, and ``sync()`` all-gathers it.
  ``ClassFeatureStats`` keeps per-class (count, mean, M2) and merges them with Chan et
  al.'s pairwise update after an all-gather.

``sync()`` leaves the global state on every rank (and keeps the local one aside): a
later ``update()`` or ``sync()`` starts again from the local state, so syncing twice
never counts a rank twice.

**Padded duplicates.** ``DistributedSampler`` pads the last ranks with copies of the
first samples so that every rank gets the same number of batches, which changes every
score a little. Pass ``indexes=`` (the dataset indices of the batch) to ``update`` and a
sample id seen before is counted once: within a rank by a bitmap of seen ids, across
ranks in ``sync()``. Exact states keep the ids and drop repeats after the gather.
Additive states can only take a row *out* again while they still have it, so each rank
keeps the rows of its last ``update`` call: the copies ``DistributedSampler`` pads in
are always the last items of a rank, so they are there. Use ``indexes=`` on all ranks or
on none (the extra collectives of the cross-rank check must run everywhere).

**Rare classes.** A class with no positives (or no negatives for AUROC) has no score:
it is reported as NaN and left out of macro/weighted averages with an
``UndefinedMetricWarning`` (scikit-learn's warning class) instead of raising.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

from longtail import _core
from longtail._checks import as_1d_labels, as_float_array, check_positive_int, to_numpy
from longtail.distributed import all_gather_objects, all_reduce_arrays, world_size
from longtail.metrics.longtail_metrics import (
    _calibration_compute,
    _calibration_inputs,
    _calibration_update,
    _check_norm,
    _frechet_from_moments,
    _shot_compute,
    _shot_groups,
)

__all__ = [
    "ConfusionMatrix",
    "AUROC",
    "AveragePrecision",
    "ShotAccuracy",
    "CalibrationError",
    "ClassFeatureStats",
]

_TASKS = ("binary", "multiclass", "multilabel")
_AVERAGES = ("macro", "weighted", "micro", None)
# The seen-id bitmap takes one byte per id up to the largest one: dataset indices only.
_MAX_ID = 1 << 32


# --------------------------------------------------------------------------------------
# helpers


class _SeenIds:
    """A growable bitmap of the sample ids this accumulator has counted."""

    def __init__(self) -> None:
        self.bits = np.zeros(0, dtype=bool)

    def first_seen(self, ids: np.ndarray) -> np.ndarray:
        """Mask of the ids not seen before (first occurrence within ``ids`` too); marks them."""
        if ids.size == 0:
            return np.zeros(0, dtype=bool)
        top = int(ids.max()) + 1
        if top > _MAX_ID:
            raise ValueError(
                f"indexes: sample id {top - 1} is too large; pass dataset indices "
                f"(0 .. len(dataset) - 1, below {_MAX_ID})"
            )
        if top > self.bits.size:
            # Amortised doubling: a stream of growing ids costs O(total) copies.
            grown = np.zeros(max(top, 2 * self.bits.size), dtype=bool)
            grown[: self.bits.size] = self.bits
            self.bits = grown
        mask = np.zeros(ids.size, dtype=bool)
        mask[np.unique(ids, return_index=True)[1]] = True
        mask &= ~self.bits[ids]
        self.bits[ids[mask]] = True
        return mask

    def forget(self, ids: np.ndarray) -> None:
        """Unmark ``ids`` (returned by ``first_seen`` for a batch that was then rejected)."""
        self.bits[ids] = False

    def contains(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        inside = ids < self.bits.size
        out = np.zeros(ids.size, dtype=bool)
        out[inside] = self.bits[ids[inside]]
        return out

    def ids(self) -> np.ndarray:
        return np.flatnonzero(self.bits).astype(np.int64)

    def union(self, other: "_SeenIds") -> None:
        if other.bits.size > self.bits.size:
            grown = np.zeros(other.bits.size, dtype=bool)
            grown[: self.bits.size] = self.bits
            self.bits = grown
        self.bits[: other.bits.size] |= other.bits


_NO_LABELS = np.empty(0, dtype=np.int64)


def _as_scores(x: Any, name: str, ndim: tuple[int, ...]) -> np.ndarray:
    """Scores as contiguous float32 or float64 (kept as given: no copy of big float32
    batches); NaN is reported by the kernels or the exact path."""
    arr = to_numpy(x, name)
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    return as_float_array(arr, name, ndim=ndim, dtype=dtype, allow_empty=True, finite=False)


def _class_preds(preds: Any, num_classes: int) -> np.ndarray:
    """Predicted class ids from ids (n,) or scores (n, C) (argmax)."""
    arr = to_numpy(preds, "preds")
    if arr.ndim == 2:
        if arr.shape[1] != num_classes:
            raise ValueError(
                f"preds: expected {num_classes} score columns, got shape {arr.shape}"
            )
        return np.ascontiguousarray(arr.argmax(axis=1), dtype=np.int64)
    return as_1d_labels(arr, "preds", allow_empty=True)


def _check_range(labels: np.ndarray, num_classes: int, name: str) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise ValueError(f"{name}: class id {bad} is outside [0, {num_classes})")


def _same_length(*arrays: np.ndarray, names: tuple[str, ...]) -> None:
    n = arrays[0].shape[0]
    for a, name in zip(arrays[1:], names[1:]):
        if a.shape[0] != n:
            raise ValueError(f"{name}: has {a.shape[0]} rows but {names[0]} has {n}")


def _average(
    scores: np.ndarray, support: np.ndarray, average: str | None, what: str
) -> float | np.ndarray:
    """Macro / weighted mean over the classes that have a score; NaN ones are reported."""
    if average is None:
        return scores
    missing = np.flatnonzero(np.isnan(scores))
    if missing.size:
        warnings.warn(
            f"{what} is undefined for class(es) {missing.tolist()} (no positives or no "
            "negatives): reported as NaN and left out of the average",
            UndefinedMetricWarning,
            stacklevel=3,
        )
    ok = ~np.isnan(scores)
    if not ok.any():
        return math.nan
    if average == "weighted":
        w = support[ok].astype(np.float64)
        return float(np.sum(scores[ok] * w) / w.sum()) if w.sum() > 0 else math.nan
    return float(scores[ok].mean())


# --------------------------------------------------------------------------------------
# base class


class _Accumulator:
    """update / compute / reset / merge / state_dict / sync plumbing shared by all."""

    #: "additive" states are all-reduced; "gathered" states are all-gathered and merged.
    _kind = "additive"

    def __init__(self) -> None:
        self.reset()

    # --- what a subclass provides -----------------------------------------------------

    def _empty(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _rows(self, preds: Any, target: Any) -> tuple[np.ndarray, ...]:
        """Checked per-row arrays (first axis: rows) of one batch."""
        raise NotImplementedError

    def _accumulate(self, state: dict[str, np.ndarray], rows: tuple[np.ndarray, ...]) -> None:
        """Add ``rows`` to ``state`` in place."""
        raise NotImplementedError

    def _combine(
        self, a: dict[str, np.ndarray], b: dict[str, np.ndarray], sign: int = 1
    ) -> dict[str, np.ndarray]:
        """State of the union (sign=1) or the difference (sign=-1) of two row sets."""
        return {k: a[k] + sign * b[k] for k in a}

    def _config(self) -> dict[str, Any]:
        raise NotImplementedError

    def _flush(self) -> None:
        """Fold rows buffered by ``update`` into ``self._state`` (exact states only)."""

    # --- public protocol --------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything seen so far."""
        self._state = self._empty()
        self._local: dict[str, np.ndarray] | None = None  # kept aside by sync()
        self._seen = _SeenIds()
        self._uses_ids = False
        self._tail: tuple[np.ndarray, tuple[np.ndarray, ...]] | None = None
        self._pending: list[tuple[np.ndarray, ...]] = []

    def update(self, preds: Any, target: Any, *, indexes: Any = None) -> None:
        """Add a batch. ``indexes``: the batch's sample ids; an id seen before is skipped."""
        self._unsync()
        rows = self._rows(preds, target)
        if indexes is not None:
            ids = as_1d_labels(indexes, "indexes", allow_empty=True)
            if ids.shape[0] != rows[0].shape[0]:
                raise ValueError(
                    f"indexes: has {ids.shape[0]} items but the batch has {rows[0].shape[0]} rows"
                )
            if ids.size and ids.min() < 0:
                raise ValueError("indexes: sample ids must be >= 0")
            keep = self._seen.first_seen(ids)
            rows = tuple(r[keep] for r in rows)
            try:
                self._accumulate(self._state, rows)
            except Exception:
                # A kernel rejected the batch (NaN scores, bad targets): nothing of it
                # may stay behind, its ids included.
                self._seen.forget(ids[keep])
                raise
            self._uses_ids = True
            self._tail = (ids[keep], rows)
            return
        self._accumulate(self._state, rows)

    def merge(self, other: "_Accumulator") -> "_Accumulator":
        """Add ``other``'s data to this accumulator (rows with ids seen here are skipped)."""
        if type(other) is not type(self) or other._config() != self._config():
            raise ValueError(
                f"other: cannot merge a {type(other).__name__}{other._config()} into a "
                f"{type(self).__name__}{self._config()}"
            )
        self._unsync()
        self._flush()
        other._flush()
        state = other._local if other._local is not None else other._state
        theirs = self._drop_seen(other, state)
        self._state = self._combine(self._state, theirs)
        self._seen.union(other._seen)
        self._uses_ids = self._uses_ids or other._uses_ids
        return self

    def sync(self, group: Any = None) -> "_Accumulator":
        """Make this rank hold the state of all ranks of ``group`` (torch.distributed).

        Additive states: one ``all_reduce`` of all state arrays flattened together.
        Exact states: one ``all_gather_object``. With ``indexes=`` used, two small
        ``all_gather_object`` calls first find the padded duplicates. No-op without an
        initialised process group. Returns ``self``.
        """
        self._unsync()
        self._flush()
        if world_size(group) == 1:
            return self
        local = self._state
        state = self._dedupe_across_ranks(group) if self._uses_ids else local
        if self._kind == "additive":
            keys = sorted(state)
            reduced = all_reduce_arrays([state[k] for k in keys], group=group)
            merged = dict(zip(keys, reduced))
        else:
            merged = self._empty()
            for other in all_gather_objects(state, group=group):
                merged = self._combine(merged, other)
        self._local, self._state = local, merged
        return self

    def state_dict(self) -> dict[str, Any]:
        """The state (global after ``sync()``) as numpy arrays plus the configuration."""
        self._flush()
        out: dict[str, Any] = {k: np.array(v, copy=True) for k, v in self._state.items()}
        out["seen_ids"] = self._seen.ids()
        out["config"] = self._config()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()`` of an accumulator with the same configuration."""
        if state.get("config") != self._config():
            raise ValueError(
                f"state: was saved with {state.get('config')}, this accumulator has "
                f"{self._config()}"
            )
        empty = self._empty()
        new = {}
        for k, v in empty.items():
            if k not in state:
                raise ValueError(f"state: missing {k!r}")
            arr = np.asarray(state[k])
            if self._kind == "additive" and arr.shape != v.shape:
                raise ValueError(f"state: {k!r} has shape {arr.shape}, expected {v.shape}")
            new[k] = np.array(arr, dtype=v.dtype, copy=True)
        self.reset()
        self._state = new
        ids = np.asarray(state.get("seen_ids", np.zeros(0, np.int64)), dtype=np.int64)
        if ids.size:
            self._seen.first_seen(ids)
            self._uses_ids = True

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
        return f"{type(self).__name__}({args})"

    # --- internals --------------------------------------------------------------------

    def _unsync(self) -> None:
        if self._local is not None:
            self._state, self._local = self._local, None

    def _delta(self, rows: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
        state = self._empty()
        self._accumulate(state, rows)
        return state

    def _drop_seen(self, other: "_Accumulator", state: dict[str, np.ndarray]) -> dict:
        """``other``'s state without the rows whose ids this accumulator already has."""
        if not (self._uses_ids and other._uses_ids):
            return state
        overlap = self._seen.contains(other._seen.ids())
        if not overlap.any():
            return state
        dup = other._seen.ids()[overlap]
        if other._tail is None or not np.all(np.isin(dup, other._tail[0])):
            raise ValueError(
                "other: shares sample ids with this accumulator outside its last update; "
                "they cannot be taken out again"
            )
        ids, rows = other._tail
        drop = np.isin(ids, dup)
        return self._combine(state, self._delta(tuple(r[drop] for r in rows)), -1)

    def _dedupe_across_ranks(self, group: Any) -> dict[str, np.ndarray]:
        """Local state minus the rows another rank also has (each id is kept on one rank).

        A rank may only give up a row it still has (its last update); the keeper of an
        id is the lowest rank that holds it *outside* its last update, else the lowest
        holder. Every rank computes the same plan from the same gathered data, so all of
        them agree (and all raise together when a duplicate cannot be taken out).
        """
        me = _rank(group)
        tail_ids = self._tail[0] if self._tail is not None else np.zeros(0, np.int64)
        tails = all_gather_objects(tail_ids, group=group)
        hits = [self._seen.contains(t) for t in tails]  # which of each rank's tail I have
        all_hits = all_gather_objects(hits, group=group)  # all_hits[r][s]: r has tails[s]
        world = len(tails)
        drop_mine = np.zeros(tails[me].size, dtype=bool)
        for s in range(world):
            ids = tails[s]
            if ids.size == 0:
                continue
            holders = np.stack([all_hits[r][s] for r in range(world)])  # (world, len)
            in_tail = np.stack([np.isin(ids, tails[r]) for r in range(world)])
            for j in np.flatnonzero(holders.sum(0) > 1):
                h = np.flatnonzero(holders[:, j])
                fixed = h[~in_tail[h, j]]  # holders that can no longer give the row up
                if fixed.size > 1:
                    raise ValueError(
                        f"indexes: sample id {ids[j]} was counted on ranks "
                        f"{fixed.tolist()} before their last update; it cannot be "
                        "counted once (pass indexes on every update, ranks disjoint but "
                        "for DistributedSampler's padding)"
                    )
                keeper = fixed[0] if fixed.size else h[0]
                if s == me and keeper != me:
                    drop_mine[j] = True
        if not drop_mine.any():
            return self._state
        assert self._tail is not None
        rows = tuple(r[drop_mine] for r in self._tail[1])
        return self._combine(self._state, self._delta(rows), -1)


def _rank(group: Any) -> int:
    import torch.distributed as dist

    return dist.get_rank(group)


# --------------------------------------------------------------------------------------
# confusion matrix, shot accuracy, calibration


class ConfusionMatrix(_Accumulator):
    """Streaming confusion matrix (rows: true class, columns: predicted class).

    ``preds`` are class ids (n,) or scores (n, num_classes) (argmax is taken). The state
    is the ``num_classes x num_classes`` int64 count matrix, filled by a parallel Rust
    kernel with per-thread local matrices; it merges by addition and syncs with one
    all-reduce. ``compute()`` equals scikit-learn's ``confusion_matrix(target, preds,
    labels=range(num_classes))`` on the concatenated data.

    >>> cm = ConfusionMatrix(num_classes=3)
    >>> cm.update([0, 2, 1], [0, 1, 1])
    >>> cm.update([[0.1, 0.2, 0.7]], [2])
    >>> cm.compute()
    array([[1, 0, 0],
           [0, 1, 1],
           [0, 0, 1]])
    """

    def __init__(self, num_classes: int) -> None:
        self.num_classes = check_positive_int(num_classes, "num_classes")
        super().__init__()

    def _config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes}

    def _empty(self) -> dict[str, np.ndarray]:
        return {"confmat": np.zeros(self.num_classes**2, dtype=np.int64)}

    def _rows(self, preds: Any, target: Any) -> tuple[np.ndarray, ...]:
        p = _class_preds(preds, self.num_classes)
        t = as_1d_labels(target, "target", allow_empty=True)
        _same_length(t, p, names=("target", "preds"))
        _check_range(t, self.num_classes, "target")
        _check_range(p, self.num_classes, "preds")
        return t, p

    def _accumulate(self, state: dict[str, np.ndarray], rows: tuple[np.ndarray, ...]) -> None:
        t, p = rows
        _core.confusion_counts(
            np.ascontiguousarray(t), np.ascontiguousarray(p), state["confmat"], self.num_classes
        )

    def compute(self) -> np.ndarray:
        """The ``num_classes x num_classes`` int64 count matrix."""
        return self._state["confmat"].reshape(self.num_classes, self.num_classes).copy()


class ShotAccuracy(ConfusionMatrix):
    """Streaming many/medium/few-shot accuracy (Liu et al. 2019, OLTR).

    Keeps the confusion counts and applies
    :func:`longtail.metrics.shot_accuracy`'s grouping (many: ``n > many``, few:
    ``n < few`` training examples) in ``compute()``, which returns the same dict.

    >>> acc = ShotAccuracy(train_counts=[500, 50, 5])
    >>> acc.update([0, 1, 1, 0], [0, 0, 1, 2])
    >>> acc.compute()
    {'many': 0.5, 'medium': 1.0, 'few': 0.0, 'overall': 0.5}
    """

    def __init__(self, train_counts: Any, *, many: int = 100, few: int = 20) -> None:
        self.many = check_positive_int(many, "many", minimum=0)
        self.few = check_positive_int(few, "few", minimum=0)
        self.train_counts, self._groups = _shot_groups(train_counts, self.many, self.few)
        super().__init__(num_classes=self.train_counts.shape[0])

    def _config(self) -> dict[str, Any]:
        return {"train_counts": self.train_counts.tolist(), "many": self.many, "few": self.few}

    def compute(self) -> dict[str, float]:  # type: ignore[override]
        """Dict with ``many``, ``medium``, ``few`` and ``overall`` mean per-class recall."""
        cm = super().compute()
        return _shot_compute(
            np.diag(cm).astype(np.float64), cm.sum(1).astype(np.float64), self._groups
        )


class CalibrationError(_Accumulator):
    """Streaming expected calibration error (Guo et al. 2017; classwise: Kumar et al. 2019).

    Keeps per-bin counts, confidence sums and accuracy sums (``3 x n_bins``, or
    ``3 x num_classes x n_bins`` when ``classwise``), so memory does not grow with the
    data; ``compute()`` equals :func:`longtail.metrics.expected_calibration_error` on
    the concatenated data. ``preds`` are probabilities (n, C), or P(y = 1) (n,).

    >>> ece = CalibrationError(n_bins=10)
    >>> ece.update([[0.9, 0.1]], [0])
    >>> ece.update([[0.6, 0.4]], [1])
    >>> round(ece.compute(), 6)
    0.35
    """

    def __init__(
        self,
        n_bins: int = 15,
        *,
        norm: str = "l1",
        classwise: bool = False,
        num_classes: int | None = None,
    ) -> None:
        self.n_bins = check_positive_int(n_bins, "n_bins")
        self.norm = _check_norm(norm)
        self.classwise = bool(classwise)
        if self.classwise and num_classes is None:
            raise ValueError("num_classes: required with classwise=True (the state size)")
        self.num_classes = None if num_classes is None else check_positive_int(
            num_classes, "num_classes", minimum=2
        )
        super().__init__()

    def _config(self) -> dict[str, Any]:
        return {
            "n_bins": self.n_bins,
            "norm": self.norm,
            "classwise": self.classwise,
            "num_classes": self.num_classes,
        }

    def _empty(self) -> dict[str, np.ndarray]:
        shape = (3, self.num_classes, self.n_bins) if self.classwise else (3, self.n_bins)
        return {"bins": np.zeros(shape, dtype=np.float64)}

    def _rows(self, preds: Any, target: Any) -> tuple[np.ndarray, ...]:
        t, p = _calibration_inputs(target, preds)
        if self.num_classes is not None and p.shape[1] != self.num_classes:
            raise ValueError(
                f"preds: expected {self.num_classes} probability columns, got {p.shape[1]}"
            )
        return t, p

    def _accumulate(self, state: dict[str, np.ndarray], rows: tuple[np.ndarray, ...]) -> None:
        t, p = rows
        if t.size:
            state["bins"] += _calibration_update(t, p, self.n_bins, self.classwise)

    def compute(self) -> float:
        """The calibration error (NaN before any update)."""
        return _calibration_compute(self._state["bins"], self.norm)


# --------------------------------------------------------------------------------------
# AUROC / average precision


def _functional(name: str) -> Callable[..., Any]:
    """longtail's scikit-learn compatible ``roc_auc_score`` / ``average_precision_score``:
    the exact accumulators return exactly the functional result on the same rows."""
    from longtail.metrics import _ranking  # imported late: longtail.metrics imports us

    return getattr(_ranking, name)


class _Ranking(_Accumulator):
    _ap = False
    _what = "ROC AUC"

    def __init__(
        self,
        task: str,
        num_classes: int | None = None,
        bins: int | None = None,
        average: str | None = "macro",
        *,
        score_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        if task not in _TASKS:
            raise ValueError(f"task: must be one of {_TASKS}, got {task!r}")
        if average not in _AVERAGES:
            raise ValueError(f"average: must be one of {_AVERAGES}, got {average!r}")
        self.task = task
        if task == "binary":
            self.num_classes = 1
        elif num_classes is None:
            raise ValueError(f"num_classes: required for task={task!r}")
        else:
            self.num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
        self.bins = None if bins is None else check_positive_int(bins, "bins", minimum=2)
        self.average = average
        lo, hi = (float(v) for v in score_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"score_range: must be finite with low < high, got {score_range}")
        self.score_range = (lo, hi)
        self._kind = "additive" if self.bins is not None else "gathered"
        super().__init__()

    def _config(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "num_classes": None if self.task == "binary" else self.num_classes,
            "bins": self.bins,
            "average": self.average,
            "score_range": self.score_range,
        }

    def _empty(self) -> dict[str, np.ndarray]:
        if self.bins is not None:
            return {"hist": np.zeros(2 * self.num_classes * self.bins, dtype=np.int64)}
        c = self.num_classes
        tshape = (0, c) if self.task == "multilabel" else (0,)
        return {
            "preds": np.zeros((0, c) if self.task != "binary" else (0,), dtype=np.float64),
            "target": np.zeros(tshape, dtype=np.int64),
            "ids": np.zeros(0, dtype=np.int64),
        }

    def _rows(self, preds: Any, target: Any) -> tuple[np.ndarray, ...]:
        c = self.num_classes
        if self.task == "binary":
            p = _as_scores(preds, "preds", (1,))
            t = as_1d_labels(target, "target", allow_empty=True)
            # Binned: the kernel checks the targets in its own pass and leaves the state
            # unchanged on an error (update() then unmarks the batch's ids).
            lo_hi = _core.label_range(t, _NO_LABELS) if self.bins is None else None
            if lo_hi is not None and (lo_hi[0] < 0 or lo_hi[1] > 1):
                raise ValueError("target: binary targets must be 0 or 1")
        elif self.task == "multiclass":
            p = _as_scores(preds, "preds", (2,))
            t = as_1d_labels(target, "target", allow_empty=True)
            _check_range(t, c, "target")
        else:
            p = _as_scores(preds, "preds", (2,))
            t = to_numpy(target, "target")
            if t.ndim != 2 or t.shape[1] != c:
                raise ValueError(f"target: expected shape (n, {c}), got {t.shape}")
            if t.size and not np.isin(t, (0, 1)).all():
                raise ValueError("target: multilabel targets must be 0 or 1")
            t = np.ascontiguousarray(t, dtype=np.int64)
        if p.ndim == 2 and p.shape[1] != c:
            raise ValueError(f"preds: expected {c} score columns, got shape {p.shape}")
        _same_length(p, t, names=("preds", "target"))
        if self.bins is None and not np.isfinite(p).all():
            raise ValueError("preds: contains NaN or infinity")
        return p, t

    def _accumulate(self, state: dict[str, np.ndarray], rows: tuple[np.ndarray, ...]) -> None:
        p, t = rows[:2]
        if self.bins is None:
            # Buffer the batch; concatenating on every update would copy O(n^2) bytes.
            ids = rows[2] if len(rows) > 2 else np.full(p.shape[0], -1, dtype=np.int64)
            self._pending.append((p.astype(np.float64), t, ids))
            return
        if p.shape[0] == 0:
            return
        lo, hi = self.score_range
        if self.task == "binary":
            _core.binned_hist_binary(p, t, state["hist"], self.bins, lo, hi)
        elif self.task == "multiclass":
            _core.binned_hist_multiclass(
                np.ascontiguousarray(p), t, state["hist"], self.bins, lo, hi
            )
        else:
            scores = np.ascontiguousarray(p.reshape(p.shape[0], -1))
            target = np.ascontiguousarray(t.reshape(t.shape[0], -1), dtype=np.uint8)
            _core.binned_hist_multilabel(scores, target, state["hist"], self.bins, lo, hi)

    def update(self, preds: Any, target: Any, *, indexes: Any = None) -> None:
        """Add a batch of scores and targets.

        binary: ``preds`` (n,) scores, ``target`` (n,) 0/1; multiclass: ``preds``
        (n, C), ``target`` (n,) class ids; multilabel: ``preds`` and ``target`` (n, C).
        ``indexes`` (n,): sample ids; an id seen before is not counted again.
        """
        if self.bins is not None or indexes is None:
            super().update(preds, target, indexes=indexes)
            return
        # Exact state keeps the ids with the rows so that sync() can drop the copies
        # another rank also has; within this rank repeats are dropped now.
        self._unsync()
        p, t = self._rows(preds, target)
        ids = as_1d_labels(indexes, "indexes", allow_empty=True)
        if ids.shape[0] != p.shape[0]:
            raise ValueError(
                f"indexes: has {ids.shape[0]} items but the batch has {p.shape[0]} rows"
            )
        if ids.size and ids.min() < 0:
            raise ValueError("indexes: sample ids must be >= 0")
        keep = self._seen.first_seen(ids)
        self._uses_ids = True
        self._accumulate(self._state, (p[keep], t[keep], ids[keep]))

    def _flush(self) -> None:
        if not self._pending:
            return
        parts = [(self._state["preds"], self._state["target"], self._state["ids"])]
        parts += self._pending
        self._pending = []
        self._state = {
            k: np.concatenate([part[j] for part in parts])
            for j, k in enumerate(("preds", "target", "ids"))
        }

    def _combine(self, a: dict, b: dict, sign: int = 1) -> dict:
        if self.bins is not None:
            return super()._combine(a, b, sign)
        # Concatenate, then keep the first copy of every id (ids < 0: rows without ids).
        out = {k: np.concatenate([a[k], b[k]]) for k in a}
        ids = out["ids"]
        has = ids >= 0
        if has.any():
            keep = ~has
            keep[np.flatnonzero(has)[np.unique(ids[has], return_index=True)[1]]] = True
            out = {k: v[keep] for k, v in out.items()}
        return out

    def _drop_seen(self, other: "_Accumulator", state: dict) -> dict:
        if self.bins is None:
            return state  # _combine drops repeated ids
        return super()._drop_seen(other, state)

    def _dedupe_across_ranks(self, group: Any) -> dict:
        if self.bins is None:
            return self._state  # the gather keeps the ids; _combine drops repeats
        return super()._dedupe_across_ranks(group)

    def _per_class(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-class scores (NaN where undefined) and positives per class."""
        c = self.num_classes
        if self.bins is not None:
            hist = self._state["hist"]
            scores = np.asarray(_core.binned_scores(hist, c, self.bins, self._ap))
            support = hist.reshape(2, c, self.bins)[1].sum(1)
            return scores, support
        p, t = self._state["preds"], self._state["target"]
        onehot = self._onehot(t)
        scores = np.full(c, np.nan)
        fn = _functional("average_precision_score" if self._ap else "roc_auc_score")
        pcol = p.reshape(p.shape[0], -1)
        for k in range(c):
            y = onehot[:, k]
            pos = int(y.sum())
            if pos > 0 and (self._ap or pos < y.size):
                scores[k] = fn(y, pcol[:, k])
        return scores, onehot.sum(0)

    def _onehot(self, t: np.ndarray) -> np.ndarray:
        if self.task == "multiclass":
            return (t[:, None] == np.arange(self.num_classes)).astype(np.int64)
        return t.reshape(t.shape[0], -1)

    def _micro(self) -> float:
        if self.bins is not None:
            h = self._state["hist"].reshape(2, self.num_classes, self.bins).sum(1)
            score = _core.binned_scores(np.ascontiguousarray(h.ravel()), 1, self.bins, self._ap)
            out = score[0]
        else:
            y = self._onehot(self._state["target"]).ravel()
            p = self._state["preds"].ravel()
            pos = int(y.sum())
            fn = _functional("average_precision_score" if self._ap else "roc_auc_score")
            out = fn(y, p) if pos > 0 and (self._ap or pos < y.size) else math.nan
        if math.isnan(out):
            warnings.warn(
                f"{self._what} is undefined: no positives or no negatives",
                UndefinedMetricWarning,
                stacklevel=3,
            )
        return float(out)

    def compute(self) -> float | np.ndarray:
        """The score: a float (binary task, or macro / weighted / micro average) or the
        per-class array (``average=None``); undefined classes are NaN (see the module
        docstring)."""
        self._flush()
        if self.task == "binary" or self.average == "micro":
            return self._micro()
        scores, support = self._per_class()
        return _average(scores, support, self.average, self._what)


class AUROC(_Ranking):
    """Streaming area under the ROC curve: exact (``bins=None``) or binned.

    Exact: keeps every score and returns scikit-learn's ``roc_auc_score`` (one-vs-rest
    for multiclass) on the concatenated data. Binned (``bins=B``): a Rust kernel counts
    positives and negatives per class in ``B`` equal-width bins over ``score_range``
    (default [0, 1]; scores outside go to the end bins), so the state is
    ``2 x classes x B`` int64 whatever the number of rows, merges by addition and syncs
    with one all-reduce; the AUC is the trapezoid over the binned ROC curve (scores in
    one bin count as ties). With 4096 bins it is within about 1e-3 of exact for scores
    spread over [0, 1].

    ``average``: "macro" (default), "weighted" (by positives), "micro" (pooled
    one-vs-rest) or None (per-class array).

    >>> auroc = AUROC("binary", bins=1000)
    >>> auroc.update([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> auroc.compute()
    0.75
    >>> exact = AUROC("multiclass", num_classes=3, average=None)
    >>> exact.update([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]], [0, 1, 2])
    >>> exact.compute()
    array([1., 1., 1.])
    """

    _ap = False
    _what = "ROC AUC"


class AveragePrecision(_Ranking):
    """Streaming average precision: exact (``bins=None``) or binned.

    Exact: scikit-learn's ``average_precision_score`` on the concatenated data
    (per class, one-vs-rest). Binned: the same fixed histogram as :class:`AUROC`, AP
    from the binned precision-recall curve (sum of precision times recall increments,
    scores in one bin acting as ties). A class without positives is NaN.

    >>> ap = AveragePrecision("binary")
    >>> ap.update([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> round(ap.compute(), 6)
    0.833333
    """

    _ap = True
    _what = "average precision"


# --------------------------------------------------------------------------------------
# per-class feature statistics


def _chan(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray], sign: int = 1
) -> dict[str, np.ndarray]:
    """Chan et al. (1979) pairwise update of per-class (count, mean, M2); ``sign=-1``
    takes ``b``'s rows back out of ``a`` (the same identity solved for the other part)."""
    na, nb = a["count"].astype(np.float64), b["count"].astype(np.float64)
    if sign == 1:
        n = na + nb
        safe = np.maximum(n, 1)
        delta = b["mean"] - a["mean"]
        mean = a["mean"] + delta * (nb / safe)[:, None]
        weight = (na * nb / safe)[:, None, None]
        m2 = a["m2"] + b["m2"] + np.einsum("ci,cj->cij", delta, delta) * weight
        count = a["count"] + b["count"]
    else:
        n = na - nb
        safe = np.maximum(n, 1)
        mean = (a["mean"] * na[:, None] - b["mean"] * nb[:, None]) / safe[:, None]
        delta = b["mean"] - mean
        weight = (n * nb / np.maximum(na, 1))[:, None, None]
        m2 = a["m2"] - b["m2"] - np.einsum("ci,cj->cij", delta, delta) * weight
        count = a["count"] - b["count"]
    empty = count == 0
    mean[empty] = 0.0
    m2[empty] = 0.0
    return {"count": count, "mean": mean, "m2": m2}


class ClassFeatureStats(_Accumulator):
    """Streaming per-class count, mean and covariance of features.

    Batches are folded in with Chan et al.'s pairwise form of Welford's update
    (``M2 = M2_a + M2_b + delta delta^T n_a n_b / n``), which stays accurate where the
    naive sum-of-squares loses digits; ``sync()`` all-gathers the per-class moments and
    merges them the same way. Uses: representation calibration, Frechet distance between
    classes, neural-collapse measures (Papyan et al. 2020).

    >>> stats = ClassFeatureStats(num_classes=2, dim=2)
    >>> stats.update([[0.0, 0.0], [2.0, 2.0], [5.0, 5.0]], [0, 0, 1])
    >>> r = stats.compute()
    >>> r["count"].tolist(), r["mean"][0].tolist()
    ([2, 1], [1.0, 1.0])
    >>> r["covariance"][0].tolist()
    [[2.0, 2.0], [2.0, 2.0]]
    """

    _kind = "gathered"

    def __init__(self, num_classes: int, dim: int) -> None:
        self.num_classes = check_positive_int(num_classes, "num_classes")
        self.dim = check_positive_int(dim, "dim")
        super().__init__()

    def _config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "dim": self.dim}

    def _empty(self) -> dict[str, np.ndarray]:
        c, d = self.num_classes, self.dim
        return {
            "count": np.zeros(c, dtype=np.int64),
            "mean": np.zeros((c, d)),
            "m2": np.zeros((c, d, d)),
        }

    def _rows(self, preds: Any, target: Any) -> tuple[np.ndarray, ...]:
        x = as_float_array(preds, "features", ndim=2, allow_empty=True)
        if x.shape[1] != self.dim:
            raise ValueError(f"features: expected {self.dim} columns, got shape {x.shape}")
        y = as_1d_labels(target, "labels", allow_empty=True)
        _same_length(x, y, names=("features", "labels"))
        _check_range(y, self.num_classes, "labels")
        return x, y

    def _accumulate(self, state: dict[str, np.ndarray], rows: tuple[np.ndarray, ...]) -> None:
        x, y = rows
        if y.size == 0:
            return
        batch = self._empty()
        order = np.argsort(y, kind="stable")
        classes, starts, counts = np.unique(y[order], return_index=True, return_counts=True)
        for k, s, n in zip(classes, starts, counts):
            xs = x[order[s : s + n]]
            mu = xs.mean(0)
            centred = xs - mu
            batch["count"][k] = n
            batch["mean"][k] = mu
            batch["m2"][k] = centred.T @ centred
        merged = _chan(state, batch)
        state.update(merged)

    def _combine(self, a: dict, b: dict, sign: int = 1) -> dict:
        return _chan(a, b, sign)

    def update(self, preds: Any, target: Any, *, indexes: Any = None) -> None:
        """Add ``features`` (n, dim) with class ids ``labels`` (n,) (torchmetrics'
        ``(preds, target)`` order); ``indexes``: sample ids counted once."""
        super().update(preds, target, indexes=indexes)

    def compute(self) -> dict[str, np.ndarray]:
        """``count`` (C,), ``mean`` (C, dim) and unbiased ``covariance`` (C, dim, dim);
        mean/covariance rows are NaN for classes with too few examples (< 1 / < 2)."""
        count = self._state["count"]
        mean = self._state["mean"].copy()
        mean[count == 0] = np.nan
        cov = self._state["m2"] / np.maximum(count - 1, 1)[:, None, None]
        cov[count < 2] = np.nan
        return {"count": count.copy(), "mean": mean, "covariance": cov}

    def within_class_variability(self) -> float:
        """Neural-collapse NC1 (Papyan et al. 2020): ``Tr(Sw Sb^+) / C``.

        ``Sw = sum_c M2_c / N`` is the within-class covariance of all examples and
        ``Sb = mean_c (mu_c - mu_G)(mu_c - mu_G)^T`` the between-class covariance of the
        class means around their mean ``mu_G`` (classes weighted equally, as on the
        balanced data of the paper); only classes with examples take part. It goes to 0
        as features collapse onto their class means.

        >>> s = ClassFeatureStats(2, 1)
        >>> s.update([[0.0], [2.0], [10.0], [12.0]], [0, 0, 1, 1])
        >>> s.within_class_variability()
        0.02
        """
        self._flush()
        count = self._state["count"]
        present = count > 0
        if present.sum() < 2:
            raise ValueError("state: needs examples of at least 2 classes")
        sw = self._state["m2"][present].sum(0) / count.sum()
        mu = self._state["mean"][present]
        centred = mu - mu.mean(0)
        sb = centred.T @ centred / present.sum()
        return float(np.trace(sw @ np.linalg.pinv(sb)) / present.sum())

    def frechet_distance(self, a: int, b: int) -> float:
        """Frechet distance (Heusel et al. 2017) between the Gaussians of classes a and b.

        >>> s = ClassFeatureStats(2, 1)
        >>> s.update([[0.0], [2.0], [3.0], [5.0]], [0, 0, 1, 1])
        >>> round(s.frechet_distance(0, 1), 6)
        9.0
        """
        r = self.compute()
        for k in (a, b):
            if not 0 <= k < self.num_classes or r["count"][k] < 2:
                raise ValueError(f"class {k}: needs at least 2 examples")
        mean, cov = r["mean"], r["covariance"]
        return _frechet_from_moments(mean[a], cov[a], mean[b], cov[b])


    # --- issue 16: neural collapse from the streamed moments (self-contained block) ---
    def neural_collapse(self, classifier_weight: Any = None) -> dict[str, float]:
        """Neural-collapse NC1-NC3 from the streamed per-class count/mean/covariance,
        as :func:`longtail.metrics.neural_collapse` computes them from all the features
        (Papyan et al. 2020); ``nc4`` needs the features themselves and is NaN here.

        >>> s = ClassFeatureStats(2, 2)
        >>> s.update([[1.1, 0.1], [0.9, -0.1], [-1.1, 0.1], [-0.9, -0.1]], [0, 0, 1, 1])
        >>> round(s.neural_collapse()["nc1"], 6)
        0.005
        """
        from longtail.metrics.collapse import _check_weight, _collapse_from_moments

        r = self.compute()
        count = r["count"]
        present = np.flatnonzero(count > 0)
        # compute() gives unbiased covariances (NaN for one example); NC1 uses 1/n_c.
        n = count[present].astype(np.float64)
        cov = np.nan_to_num(r["covariance"][present]) * ((n - 1) / n)[:, None, None]
        w = None
        if classifier_weight is not None:
            w = _check_weight(classifier_weight, self.dim)
            if w.shape[0] != self.num_classes:
                raise ValueError(
                    f"classifier_weight: expected {self.num_classes} rows (num_classes), "
                    f"got {w.shape[0]}"
                )
        return _collapse_from_moments(present, r["mean"][present], cov.mean(axis=0), w)
