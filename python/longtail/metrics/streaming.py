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

**Logits.** ``AUROC``, ``AveragePrecision`` and ``CalibrationError`` treat preds as
torchmetrics does: when any value of a batch lies outside [0, 1], that batch holds logits
and gets a sigmoid (binary, multilabel, 1-D calibration preds) or a softmax over the
classes (multiclass) first; the rule is applied to every ``update`` on its own. A binned
AUROC / AP with a custom ``score_range`` bins the scores as given (no rule applied).

**Devices.** float32 batches stay float32 (no float64 copy). The counting accumulators
(``ConfusionMatrix``, ``ShotAccuracy``, ``CalibrationError``, binned ``AUROC`` /
``AveragePrecision``, ``ClassFeatureStats``) fed a CUDA tensor (or moved with
``.to(device)``) keep their state as torch tensors on that device and reduce each batch
there with torch ops (``index_add_``, ``searchsorted``; fixed shapes): ``update`` never
copies a batch to the host and never synchronises. Bad rows (a class id out of range,
NaN scores) can then not raise in ``update``: they are left out and counted on the
device, and ``compute()`` / ``state_dict()`` / ``sync()`` / ``merge()`` raise the
ValueError. ``indexes=`` given on the host (a list, numpy array or CPU tensor, as a
DataLoader yields them) keeps ``update`` sync-free: the seen-id bitmap stays on the host
and the batch's keep mask goes to the device as row weights (a pinned, non-blocking
copy), so no boolean indexing (a data-dependent shape) happens on the device. Indexes
given as a device tensor are copied to the host first, which costs one synchronisation.
``compute()``, ``state_dict()``, ``merge()`` and ``sync()`` may synchronise (they read
the state back). The exact ``AUROC`` / ``AveragePrecision`` keep their rows on the host.

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
from longtail._checks import (
    all_finite,
    as_1d_labels,
    as_float_array,
    as_scores,
    check_positive_int,
    score_min_max,
    storable_scores,
    to_numpy,
    widen_half,
)
from longtail.distributed import all_gather_objects, all_reduce_arrays, world_size
from longtail.metrics.longtail_metrics import (
    _calibration_checked,
    _calibration_compute,
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
    return as_scores(x, name, ndim=ndim, allow_empty=True, finite=False, half=True)


def _normalize_logits(p: np.ndarray, how: str) -> np.ndarray:
    """torchmetrics' rule for one batch: any value outside [0, 1] makes it logits, which
    get a sigmoid (``how="sigmoid"``) or a softmax over axis 1 (``"softmax"``), in the
    batch's own dtype (torch's kernels where torch is installed, so the values equal
    torchmetrics' bit for bit). NaN also triggers it (torchmetrics' ``all(0 <= p <= 1)``
    is False) and stays NaN, which the kernels then reject.

    >>> _normalize_logits(np.array([0.2, 0.7]), "sigmoid").tolist()
    [0.2, 0.7]
    >>> _normalize_logits(np.array([0.0, 2.0]), "sigmoid").round(4).tolist()
    [0.5, 0.8808]
    """
    if p.size == 0:
        return p
    lo, hi = score_min_max(p)  # float16 / the bfloat16 view: no widened copy
    if lo >= 0 and hi <= 1:
        return p
    p = widen_half(p)  # logits: the float32 values the transform reads
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        if how == "sigmoid":
            return 1.0 / (1.0 + np.exp(-p))
        e = np.exp(p - p.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    t = torch.from_numpy(p)
    out = torch.sigmoid(t) if how == "sigmoid" else torch.softmax(t, dim=1)
    return out.numpy()


# --------------------------------------------------------------------------------------
# the torch (device) path of the counting accumulators


def _torch() -> Any:
    import torch

    return torch


def _is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach") and hasattr(
        x, "device"
    )


def _h2d(t: Any, device: Any) -> Any:
    """A host tensor on ``device`` without a synchronisation (pinned, non-blocking copy
    for CUDA; the caching host allocator keeps the pinned buffer until the copy is done)."""
    if t.device == device:
        return t
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def _on_device(x: Any, device: Any, name: str) -> Any:
    """``x`` (tensor, numpy array or list) as a detached tensor on ``device``."""
    torch = _torch()
    if _is_tensor(x):
        t = x.detach()
        if t.device == device:
            return t
        return _h2d(t, device) if t.device.type == "cpu" else t.to(device)
    arr = to_numpy(x, name)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    return _h2d(torch.from_numpy(np.ascontiguousarray(arr)), device)


def _may_alias(arr: np.ndarray, given: Any) -> bool:
    """Whether ``arr`` may be a view of the caller's ``given`` (numpy or CPU tensor)."""
    if isinstance(given, np.ndarray):
        return bool(np.may_share_memory(arr, given))
    return _is_tensor(given) and given.device.type == "cpu"


def _to_host(v: Any) -> np.ndarray:
    return v.detach().cpu().numpy() if _is_tensor(v) else v


def _state_like(state: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    """``state`` in the representation of ``ref`` (numpy, or torch on ref's device)."""
    first = next(iter(ref.values()), None)
    if _is_tensor(first):
        torch = _torch()
        return {
            k: v.to(first.device)
            if _is_tensor(v)
            else _h2d(torch.from_numpy(np.array(v)), first.device)
            for k, v in state.items()
        }
    return {k: _to_host(v) for k, v in state.items()}


def _class_ids_t(x: Any, num_classes: int) -> tuple[Any, Any]:
    """(valid mask, int64 ids with invalid entries set to 0) of class ids on a device;
    floats must hold whole numbers, like ``as_1d_labels``. No synchronisation."""
    torch = _torch()
    if x.dtype == torch.bool:
        x = x.long()
    if x.is_floating_point():
        whole = x == torch.round(x)  # False for NaN; +-inf become -1 below (invalid)
        x = torch.where(whole, torch.nan_to_num(x, nan=-1.0, posinf=-1.0, neginf=-1.0), -1.0)
        valid = whole & (x >= 0) & (x < num_classes)
        ids = torch.where(valid, x, 0.0).long()
    else:
        valid = (x >= 0) & (x < num_classes)
        ids = torch.where(valid, x.long(), 0)
    return valid, ids


def _normalize_logits_t(p: Any, how: str) -> Any:
    """:func:`_normalize_logits` on a tensor, as torchmetrics does it: on the CPU with a
    check, elsewhere with ``torch.where`` on the device (no synchronisation)."""
    torch = _torch()
    if p.numel() == 0:
        return p

    def f(z: Any) -> Any:
        return torch.sigmoid(z) if how == "sigmoid" else torch.softmax(z, dim=1)

    if p.device.type == "cpu":
        return p if bool(((p >= 0) & (p <= 1)).all()) else f(p)
    return torch.where(((p < 0) | (p > 1)).any(), f(p), p)


def _check_rows_t(*pairs: tuple[Any, str]) -> None:
    n = pairs[0][0].shape[0]
    for t, name in pairs[1:]:
        if t.shape[0] != n:
            raise ValueError(f"{name}: has {t.shape[0]} rows but {pairs[0][1]} has {n}")


#: Elements per block of the device path's (rows x classes) temporaries.
_DEVICE_BLOCK = 1 << 22


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
    #: Whether batches may be reduced on a torch device (counting accumulators).
    _device_ok = False
    #: Names of the (target, preds) arguments in the errors of the device path.
    _bad_names = ("target", "preds")

    def __init__(self) -> None:
        self._device: Any = None
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

    def _rows_device(self, preds: Any, target: Any, device: Any) -> tuple[Any, ...]:
        """Per-row tensors of one batch on ``device``, the last one the boolean mask of
        the rows to count; shape errors raise, bad values go to ``self._count_bad``."""
        raise NotImplementedError

    def _accumulate_device(self, state: dict[str, Any], rows: tuple[Any, ...]) -> None:
        """Add the ``rows`` (torch) whose mask is set to the torch ``state`` in place."""
        raise NotImplementedError

    def _flush(self) -> None:
        """Fold rows buffered by ``update`` into ``self._state`` (exact states only)."""

    # --- public protocol --------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything seen so far (the state stays on its device)."""
        self._state = self._placed(self._empty())
        self._local: dict[str, Any] | None = None  # kept aside by sync()
        self._seen = _SeenIds()
        self._uses_ids = False
        # (kept ids, rows, positions of the kept rows or None when rows are filtered)
        self._tail: tuple[np.ndarray, tuple[Any, ...], Any] | None = None
        self._pending: list[tuple[np.ndarray, ...]] = []
        self._bad: Any = None  # device path: [bad target rows, bad preds rows]

    def to(self, device: Any) -> "_Accumulator":
        """Keep the state as torch tensors on ``device`` and reduce batches there.

        A CUDA batch moves the state to its device by itself; ``to("cpu")`` runs the
        same torch path on the CPU. The exact AUROC / AveragePrecision keep their rows
        on the host (this is then a no-op). Returns ``self``.

        >>> cm = ConfusionMatrix(2).to("cpu")
        >>> cm.update([0, 1, 1], [0, 1, 0])
        >>> cm.compute().tolist()
        [[1, 1], [0, 1]]
        """
        if not self._device_ok:
            return self
        self._device = _torch().device(device)
        self._state = self._placed(self._state)
        if self._local is not None:
            self._local = self._placed(self._local)
        if self._bad is not None:
            self._bad = self._bad.to(self._device)
        return self

    def update(self, preds: Any, target: Any, *, indexes: Any = None) -> None:
        """Add a batch. ``indexes``: the batch's sample ids; an id seen before is skipped."""
        self._unsync()
        device = self._device_for(preds)
        if device is not None:
            self._update_device(device, preds, target, indexes)
            return
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
            self._tail = (ids[keep], rows, None)
            return
        self._accumulate(self._state, rows)

    # --- device path ------------------------------------------------------------------

    def _device_for(self, preds: Any) -> Any:
        """The torch device this batch is reduced on, or None for the host path."""
        if not self._device_ok:
            return None
        if self._device is None and _is_tensor(preds) and preds.device.type != "cpu":
            self.to(preds.device)
        return self._device

    def _placed(self, state: dict[str, Any]) -> dict[str, Any]:
        """``state`` on this accumulator's device (torch), or as numpy arrays."""
        if self._device is None:
            return {k: _to_host(v) for k, v in state.items()}
        torch = _torch()
        return {
            k: v.to(self._device)
            if _is_tensor(v)
            else _h2d(torch.from_numpy(np.array(v)), self._device)
            for k, v in state.items()
        }

    def _count_bad(self, bad_target: Any, bad_preds: Any) -> None:
        """Add the numbers of bad rows to the device counter (no synchronisation)."""
        torch = _torch()
        counts = torch.stack([bad_target.sum(), bad_preds.sum()]).long()
        self._bad = counts if self._bad is None else self._bad + counts

    def _raise_bad(self) -> None:
        """The ValueError the device path could not raise in ``update`` (synchronises)."""
        if self._bad is None:
            return
        bad_t, bad_p = (int(v) for v in _to_host(self._bad))
        if bad_t or bad_p:
            target, preds = self._bad_names
            name, n = (target, bad_t) if bad_t else (preds, bad_p)
            what = "class ids out of range" if bad_t else "NaN or infinity"
            raise ValueError(
                f"{name}: {n} row(s) given to update() on the device had {what}; they were "
                "left out (the device path does not synchronise to raise); reset() to "
                "start again"
            )

    def _update_device(self, device: Any, preds: Any, target: Any, indexes: Any) -> None:
        rows = self._rows_device(preds, target, device)
        if indexes is not None:
            torch = _torch()
            # Host ids (the DataLoader's) cost no synchronisation; device ids are copied.
            ids = as_1d_labels(indexes, "indexes", allow_empty=True)
            n = rows[0].shape[0]
            if ids.shape[0] != n:
                raise ValueError(f"indexes: has {ids.shape[0]} items but the batch has {n} rows")
            if ids.size and ids.min() < 0:
                raise ValueError("indexes: sample ids must be >= 0")
            keep = self._seen.first_seen(ids)
            rows = rows[:-1] + (rows[-1] & _h2d(torch.from_numpy(keep), device),)
            self._uses_ids = True
            self._tail = (ids[keep], rows, np.flatnonzero(keep))
        self._accumulate_device(self._state, rows)

    def _tail_rows(self, tail: tuple, mask: np.ndarray) -> tuple[Any, ...]:
        """The rows of ``tail`` whose kept ids are selected by ``mask``."""
        _, rows, pos = tail
        if pos is None:
            return tuple(r[mask] for r in rows)
        # Device rows: clear the mask of the others (fixed shapes, no boolean indexing).
        torch = _torch()
        full = np.zeros(rows[0].shape[0], dtype=bool)
        full[pos[mask]] = True
        return rows[:-1] + (rows[-1] & _h2d(torch.from_numpy(full), rows[-1].device),)

    def _host_state(self) -> dict[str, np.ndarray]:
        """The state as numpy arrays (after raising the device path's deferred error)."""
        self._raise_bad()
        return {k: _to_host(v) for k, v in self._state.items()}

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
        self._raise_bad()
        other._raise_bad()
        state = other._local if other._local is not None else other._state
        theirs = self._drop_seen(other, state)
        self._state = self._combine(self._state, _state_like(theirs, self._state))
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
        self._raise_bad()
        if world_size(group) == 1:
            return self
        local = self._state
        state = self._dedupe_across_ranks(group) if self._uses_ids else local
        state = {k: _to_host(v) for k, v in state.items()}
        if self._kind == "additive":
            keys = sorted(state)
            reduced = all_reduce_arrays([state[k] for k in keys], group=group)
            merged = dict(zip(keys, reduced))
        else:
            merged = self._empty()
            for other in all_gather_objects(state, group=group):
                merged = self._combine(merged, other)
        self._local, self._state = local, self._placed(merged)
        return self

    def state_dict(self) -> dict[str, Any]:
        """The state (global after ``sync()``) as numpy arrays plus the configuration."""
        self._flush()
        host = self._host_state()
        out: dict[str, Any] = {k: np.array(v, copy=True) for k, v in host.items()}
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
            # Exact scores keep their float width (float32 stays float32).
            keep_dtype = k == "preds" and arr.dtype in (np.float32, np.float64)
            new[k] = np.array(arr, dtype=arr.dtype if keep_dtype else v.dtype, copy=True)
        self.reset()
        self._state = self._placed(new)
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

    def _delta(self, rows: tuple[Any, ...]) -> dict[str, Any]:
        if rows and _is_tensor(rows[0]):
            torch = _torch()
            dev = rows[0].device
            state = {k: _h2d(torch.from_numpy(v), dev) for k, v in self._empty().items()}
            self._accumulate_device(state, rows)
            return state
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
        drop = np.isin(other._tail[0], dup)
        delta = self._delta(other._tail_rows(other._tail, drop))
        return self._combine(state, _state_like(delta, state), -1)

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
        delta = self._delta(self._tail_rows(self._tail, drop_mine))
        return self._combine(self._state, _state_like(delta, self._state), -1)


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

    Parameters
    ----------
    num_classes : int
        Number of classes; class ids lie in ``[0, num_classes)``.

    Raises
    ------
    ValueError
        If ``num_classes`` < 1; from ``update``, if a class id is outside ``[0, num_classes)``,
        ``preds`` does not have ``num_classes`` score columns, the row counts differ or
        ``indexes`` is malformed; ``merge`` / ``load_state_dict`` raise ``ValueError`` for
        another configuration or a missing or misshapen state key.
    TypeError
        If ``num_classes`` is not an integer or a batch is not numeric.

    Notes
    -----
    Methods: ``update(preds, target, *, indexes=None)`` adds a batch and returns None
    (``indexes``: sample ids, an id seen before is skipped); ``compute()`` returns the
    (num_classes, num_classes) int64 count matrix; ``merge(other)``, ``sync(group=None)`` and
    ``to(device)`` return the accumulator itself; ``reset()`` returns None; ``state_dict()``
    returns a dict of numpy arrays and the configuration, which ``load_state_dict(state)``
    restores.

    Examples
    --------
    >>> cm = ConfusionMatrix(num_classes=3)
    >>> cm.update([0, 2, 1], [0, 1, 1])
    >>> cm.update([[0.1, 0.2, 0.7]], [2])
    >>> cm.compute()
    array([[1, 0, 0],
           [0, 1, 1],
           [0, 0, 1]])
    """

    _device_ok = True

    def __init__(self, num_classes: int) -> None:
        self.num_classes = check_positive_int(num_classes, "num_classes")
        super().__init__()

    def _config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes}

    def _rows_device(self, preds: Any, target: Any, device: Any) -> tuple[Any, ...]:
        c = self.num_classes
        p = _on_device(preds, device, "preds")
        t = _on_device(target, device, "target")
        if p.ndim == 2:
            if p.shape[1] != c:
                raise ValueError(f"preds: expected {c} score columns, got shape {tuple(p.shape)}")
            p = p.argmax(dim=1)
        elif p.ndim != 1:
            raise ValueError(
                f"preds: expected class ids (n,) or scores (n, {c}), got {tuple(p.shape)}"
            )
        if t.ndim != 1:
            raise ValueError(f"target: expected a 1-D array of class ids, got {tuple(t.shape)}")
        _check_rows_t((t, "target"), (p, "preds"))
        tv, t = _class_ids_t(t, c)
        pv, p = _class_ids_t(p, c)
        self._count_bad(~tv, ~pv)
        return t, p, tv & pv

    def _accumulate_device(self, state: dict[str, Any], rows: tuple[Any, ...]) -> None:
        t, p, ok = rows
        state["confmat"].index_add_(0, t * self.num_classes + p, ok.long())

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
        cm = self._host_state()["confmat"]
        return cm.reshape(self.num_classes, self.num_classes).copy()


class ShotAccuracy(ConfusionMatrix):
    """Streaming many/medium/few-shot accuracy (Liu et al. 2019, OLTR).

    Keeps the confusion counts and applies
    :func:`longtail.metrics.shot_accuracy`'s grouping (many: ``n > many``, few:
    ``n < few`` training examples) in ``compute()``, which returns the same dict.

    Parameters
    ----------
    train_counts : array-like of int, shape (n_classes,)
        Training examples per class (also the number of classes).
    many : int, default 100
        Classes with more training examples are many-shot.
    few : int, default 20
        Classes with fewer training examples are few-shot.

    Raises
    ------
    ValueError
        If a count is negative or ``few > many``; from ``update``, as :class:`ConfusionMatrix`;
        ``merge`` / ``load_state_dict`` raise ``ValueError`` for another configuration or a
        missing or misshapen state key.
    TypeError
        If ``many`` or ``few`` is not an integer.

    Notes
    -----
    Methods: ``update(preds, target, *, indexes=None)`` adds a batch and returns None
    (``indexes``: sample ids, an id seen before is skipped); ``compute()`` returns a dict with
    keys ``many``, ``medium``, ``few``, ``overall``; ``merge(other)``, ``sync(group=None)`` and
    ``to(device)`` return the accumulator itself; ``reset()`` returns None; ``state_dict()``
    returns a dict of numpy arrays and the configuration, which ``load_state_dict(state)``
    restores.

    Examples
    --------
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

    Parameters
    ----------
    n_bins : int, default 15
        Number of equal-width confidence bins.
    norm : {"l1", "l2", "max"}, default "l1"
        ECE, the root of the weighted mean squared gap, or the maximum gap (MCE).
    classwise : bool, default False
        Bin every class's probability (classwise ECE).
    num_classes : int, optional
        Number of classes; required with ``classwise=True`` (the state size).

    Raises
    ------
    ValueError
        If ``n_bins`` < 1, ``norm`` is invalid or ``num_classes`` is missing with
        ``classwise=True``; from ``update``, if probabilities leave [0, 1], shapes or row counts
        disagree, or a class id has no probability column; ``merge`` / ``load_state_dict`` raise
        ``ValueError`` for another configuration or a missing or misshapen state key.
    TypeError
        If ``n_bins`` or ``num_classes`` is not an integer.

    Notes
    -----
    Methods: ``update(preds, target, *, indexes=None)`` adds a batch and returns None
    (``indexes``: sample ids, an id seen before is skipped); ``compute()`` returns the
    calibration error (float); ``merge(other)``, ``sync(group=None)`` and ``to(device)`` return
    the accumulator itself; ``reset()`` returns None; ``state_dict()`` returns a dict of numpy
    arrays and the configuration, which ``load_state_dict(state)`` restores.

    Examples
    --------
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

    _device_ok = True

    def _rows(self, preds: Any, target: Any) -> tuple[np.ndarray, ...]:
        p = as_scores(preds, "probs", ndim=(1, 2), half=True)  # float16/bfloat16: 2 bytes
        p = _normalize_logits(p, "sigmoid" if p.ndim == 1 else "softmax")
        t, p = _calibration_checked(target, p)
        if self.num_classes is not None and p.shape[1] != self.num_classes:
            raise ValueError(
                f"preds: expected {self.num_classes} probability columns, got {p.shape[1]}"
            )
        return t, p

    def _accumulate(self, state: dict[str, np.ndarray], rows: tuple[np.ndarray, ...]) -> None:
        t, p = rows
        if t.size:
            state["bins"] += _calibration_update(t, p, self.n_bins, self.classwise)

    def _edges(self, device: Any) -> Any:
        """numpy's bin edges (``_bin_ids``) on ``device``, copied there once."""
        cached = getattr(self, "_edges_t", None)
        if cached is None or cached.device != device:
            edges = np.linspace(0.0, 1.0, self.n_bins + 1)
            cached = _h2d(_torch().from_numpy(edges), device)
            self._edges_t = cached
        return cached

    def _rows_device(self, preds: Any, target: Any, device: Any) -> tuple[Any, ...]:
        torch = _torch()
        p = _on_device(preds, device, "probs")
        t = _on_device(target, device, "y_true")
        if p.ndim not in (1, 2):
            raise ValueError(f"probs: expected a 1-D or 2-D array, got shape {tuple(p.shape)}")
        if t.ndim != 1:
            raise ValueError(f"y_true: expected a 1-D array of class ids, got {tuple(t.shape)}")
        _check_rows_t((p, "probs"), (t, "y_true"))
        if not p.is_floating_point():
            p = p.double()
        p = _normalize_logits_t(p, "sigmoid" if p.ndim == 1 else "softmax")
        if p.ndim == 1:
            p = torch.stack([1 - p, p], dim=1)
        c = p.shape[1]
        if self.num_classes is not None and c != self.num_classes:
            raise ValueError(f"preds: expected {self.num_classes} probability columns, got {c}")
        tv, t = _class_ids_t(t, c)
        pv = torch.isfinite(p).all(dim=1)
        self._count_bad(~tv, ~pv)
        return t, p, tv & pv

    def _accumulate_device(self, state: dict[str, Any], rows: tuple[Any, ...]) -> None:
        torch = _torch()
        t, p, ok = rows
        nb = self.n_bins
        edges = self._edges(p.device)
        if not self.classwise:
            bins = state["bins"]
            pred = p.argmax(dim=1)
            conf = torch.where(ok, p.gather(1, pred[:, None])[:, 0].double(), 0.0)
            ids = (torch.searchsorted(edges, conf, right=True) - 1).clamp(0, nb - 1)
            bins[0].index_add_(0, ids, ok.double())
            bins[1].index_add_(0, ids, conf)
            bins[2].index_add_(0, ids, ((pred == t) & ok).double())
            return
        n, c = p.shape
        flat = state["bins"].view(3, c * nb)
        offset = torch.arange(c, device=p.device) * nb
        classes = torch.arange(c, device=p.device)
        step = max(1, _DEVICE_BLOCK // c)
        for r0 in range(0, n, step):
            okb = ok[r0 : r0 + step, None].expand(-1, c)
            pb = torch.where(okb, p[r0 : r0 + step].double(), 0.0)
            ids = ((torch.searchsorted(edges, pb, right=True) - 1).clamp(0, nb - 1) + offset)
            ids = ids.reshape(-1)
            hit = (t[r0 : r0 + step, None] == classes) & okb
            flat[0].index_add_(0, ids, okb.reshape(-1).double())
            flat[1].index_add_(0, ids, pb.reshape(-1))
            flat[2].index_add_(0, ids, hit.reshape(-1).double())

    def compute(self) -> float:
        """The calibration error (NaN before any update)."""
        return _calibration_compute(self._host_state()["bins"], self.norm)


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
        logits: bool | None = None,
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
        # Counting (binned) states may live on a device; exact ones keep rows on the host.
        self._device_ok = self.bins is not None
        # torchmetrics' logits rule, unless the scores are binned over a range of their own.
        if logits is not None and not isinstance(logits, bool):
            raise TypeError(f"logits: expected None, True or False, got {logits!r}")
        self._logits = self.score_range == (0.0, 1.0) if logits is None else logits
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

    def _how(self) -> str:
        return "softmax" if self.task == "multiclass" else "sigmoid"

    def _rows(self, preds: Any, target: Any) -> tuple[np.ndarray, ...]:
        c = self.num_classes
        raw = preds
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
        given = p
        if self._logits:
            p = _normalize_logits(p, self._how())
        if self.bins is None:
            p = storable_scores(p)  # the state is a copy: bfloat16 kept as float32
            if not all_finite(p):  # by blocks: no (n, C) boolean temporary
                raise ValueError("preds: contains NaN or infinity")
            if p is given and _may_alias(p, raw):
                # The exact state keeps the rows: never a view of the caller's buffer.
                p = p.copy()
        return p, t

    def _accumulate(self, state: dict[str, np.ndarray], rows: tuple[np.ndarray, ...]) -> None:
        p, t = rows[:2]
        if self.bins is None:
            # Buffer the batch; concatenating on every update would copy O(n^2) bytes.
            ids = rows[2] if len(rows) > 2 else np.full(p.shape[0], -1, dtype=np.int64)
            self._pending.append((p, t, ids))  # in its own dtype: float32 stays float32
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

    def _rows_device(self, preds: Any, target: Any, device: Any) -> tuple[Any, ...]:
        torch = _torch()
        c = self.num_classes
        p = _on_device(preds, device, "preds")
        t = _on_device(target, device, "target")
        want_p = 1 if self.task == "binary" else 2
        want_t = 2 if self.task == "multilabel" else 1
        if p.ndim != want_p:
            raise ValueError(f"preds: expected a {want_p}-D array, got shape {tuple(p.shape)}")
        if p.ndim == 2 and p.shape[1] != c:
            raise ValueError(f"preds: expected {c} score columns, got shape {tuple(p.shape)}")
        if t.ndim != want_t or (want_t == 2 and t.shape[1] != c):
            shape = f"(n, {c})" if want_t == 2 else "(n,)"
            raise ValueError(f"target: expected shape {shape}, got {tuple(t.shape)}")
        _check_rows_t((p, "preds"), (t, "target"))
        if not p.is_floating_point():
            p = p.double()
        if self._logits:
            p = _normalize_logits_t(p, self._how())
        pv = ~torch.isnan(p) if p.ndim == 1 else ~torch.isnan(p).any(dim=1)
        if self.task == "multiclass":
            tv, t = _class_ids_t(t, c)
        else:
            tv, t = _class_ids_t(t, 2)
            if tv.ndim == 2:
                tv = tv.all(dim=1)
        self._count_bad(~tv, ~pv)
        return p, t, tv & pv

    def _accumulate_device(self, state: dict[str, Any], rows: tuple[Any, ...]) -> None:
        # The Rust kernels' bin of a score, in float64 on the device:
        # trunc(clamp((s - lo) * bins / (hi - lo), 0, bins - 1)).
        torch = _torch()
        p, t, ok = rows
        nb, c = self.bins, self.num_classes
        lo, hi = self.score_range
        scale = nb / (hi - lo)
        hist = state["hist"]

        def bin_of(x: Any) -> Any:
            b = ((x.double() - lo) * scale).clamp(0, nb - 1)
            return torch.nan_to_num(b, nan=0.0).long()

        if p.ndim == 1:  # binary: hist[k * bins + b]
            hist.index_add_(0, t * nb + bin_of(p), ok.long())
            return
        classes = torch.arange(c, device=p.device)
        step = max(1, _DEVICE_BLOCK // c)
        for r0 in range(0, p.shape[0], step):
            tb = t[r0 : r0 + step]
            k = (tb[:, None] == classes).long() if tb.ndim == 1 else tb
            idx = ((k * c + classes) * nb + bin_of(p[r0 : r0 + step])).reshape(-1)
            w = ok[r0 : r0 + step, None].expand(-1, c).reshape(-1).long()
            hist.index_add_(0, idx, w)

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
        parts = []
        if self._state["ids"].size:
            parts.append((self._state["preds"], self._state["target"], self._state["ids"]))
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
            hist = self._host_state()["hist"]
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
            h = self._host_state()["hist"].reshape(2, self.num_classes, self.bins).sum(1)
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

    ``logits``: a batch with a value outside [0, 1] is taken as logits and gets a
    sigmoid (binary, multilabel) or softmax (multiclass) first, as torchmetrics does
    (``None``, the default: so with the default ``score_range``; a custom range bins the
    scores as given; ``True``: always; ``False``: never).

    Parameters
    ----------
    task : {"binary", "multiclass", "multilabel"}
        The kind of target.
    num_classes : int, optional
        Number of classes (>= 2); required for "multiclass" and "multilabel".
    bins : int, optional
        Number of equal-width score bins (>= 2); None keeps every score (exact).
    average : {"macro", "weighted", "micro"} or None, default "macro"
        How per-class values are combined; None returns them all.
    score_range : tuple of float, default (0.0, 1.0)
        Finite ``(low, high)`` range of the bins (binned mode).
    logits : bool, optional
        Apply a sigmoid / softmax first: None when a batch leaves [0, 1] (with the default
        ``score_range``), True always, False never.

    Raises
    ------
    ValueError
        If ``task`` or ``average`` is invalid, ``num_classes`` is missing or < 2, ``bins`` < 2
        or ``score_range`` is not finite with low < high; from ``update``, if targets are not
        0/1 or in ``[0, num_classes)``, shapes disagree or scores are not finite; ``merge`` /
        ``load_state_dict`` raise ``ValueError`` for another configuration or a missing or
        misshapen state key.
    TypeError
        If ``logits`` is not None/True/False, or ``num_classes`` or ``bins`` is not an integer.

    Notes
    -----
    Methods: ``update(preds, target, *, indexes=None)`` adds a batch and returns None
    (``indexes``: sample ids, an id seen before is skipped); ``compute()`` returns the AUC
    (float), or the per-class array with ``average=None``; ``merge(other)``,
    ``sync(group=None)`` and ``to(device)`` return the accumulator itself; ``reset()`` returns
    None; ``state_dict()`` returns a dict of numpy arrays and the configuration, which
    ``load_state_dict(state)`` restores.

    Examples
    --------
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

    Parameters
    ----------
    task : {"binary", "multiclass", "multilabel"}
        The kind of target.
    num_classes : int, optional
        Number of classes (>= 2); required for "multiclass" and "multilabel".
    bins : int, optional
        Number of equal-width score bins (>= 2); None keeps every score (exact).
    average : {"macro", "weighted", "micro"} or None, default "macro"
        How per-class values are combined; None returns them all.
    score_range : tuple of float, default (0.0, 1.0)
        Finite ``(low, high)`` range of the bins (binned mode).
    logits : bool, optional
        Apply a sigmoid / softmax first: None when a batch leaves [0, 1] (with the default
        ``score_range``), True always, False never.

    Raises
    ------
    ValueError
        If ``task`` or ``average`` is invalid, ``num_classes`` is missing or < 2, ``bins`` < 2
        or ``score_range`` is not finite with low < high; from ``update``, if targets are not
        0/1 or in ``[0, num_classes)``, shapes disagree or scores are not finite; ``merge`` /
        ``load_state_dict`` raise ``ValueError`` for another configuration or a missing or
        misshapen state key.
    TypeError
        If ``logits`` is not None/True/False, or ``num_classes`` or ``bins`` is not an integer.

    Notes
    -----
    Methods: ``update(preds, target, *, indexes=None)`` adds a batch and returns None
    (``indexes``: sample ids, an id seen before is skipped); ``compute()`` returns the AP
    (float; NaN for a class without positives), or the per-class array with ``average=None``;
    ``merge(other)``, ``sync(group=None)`` and ``to(device)`` return the accumulator itself;
    ``reset()`` returns None; ``state_dict()`` returns a dict of numpy arrays and the
    configuration, which ``load_state_dict(state)`` restores.

    Examples
    --------
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
    takes ``b``'s rows back out of ``a`` (the same identity solved for the other part).
    numpy or torch states (the torch form uses ``where`` instead of masked writes)."""
    if _is_tensor(a["count"]):
        return _chan_t(a, b, sign)
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


def _chan_t(a: dict[str, Any], b: dict[str, Any], sign: int = 1) -> dict[str, Any]:
    """:func:`_chan` on torch tensors, without a synchronisation."""
    torch = _torch()
    na, nb = a["count"].double(), b["count"].double()
    if sign == 1:
        n = na + nb
        safe = n.clamp(min=1)
        delta = b["mean"] - a["mean"]
        mean = a["mean"] + delta * (nb / safe)[:, None]
        weight = (na * nb / safe)[:, None, None]
        m2 = a["m2"] + b["m2"] + torch.einsum("ci,cj->cij", delta, delta) * weight
        count = a["count"] + b["count"]
    else:
        n = na - nb
        safe = n.clamp(min=1)
        mean = (a["mean"] * na[:, None] - b["mean"] * nb[:, None]) / safe[:, None]
        delta = b["mean"] - mean
        weight = (n * nb / na.clamp(min=1))[:, None, None]
        m2 = a["m2"] - b["m2"] - torch.einsum("ci,cj->cij", delta, delta) * weight
        count = a["count"] - b["count"]
    empty = count == 0
    mean = torch.where(empty[:, None], 0.0, mean)
    m2 = torch.where(empty[:, None, None], 0.0, m2)
    return {"count": count, "mean": mean, "m2": m2}


class ClassFeatureStats(_Accumulator):
    """Streaming per-class count, mean and covariance of features.

    Batches are folded in with Chan et al.'s pairwise form of Welford's update
    (``M2 = M2_a + M2_b + delta delta^T n_a n_b / n``), which stays accurate where the
    naive sum-of-squares loses digits; ``sync()`` all-gathers the per-class moments and
    merges them the same way. Uses: representation calibration, Frechet distance between
    classes, neural-collapse measures (Papyan et al. 2020).

    Parameters
    ----------
    num_classes : int
        Number of classes; class ids lie in ``[0, num_classes)``.
    dim : int
        Feature dimension.

    Raises
    ------
    ValueError
        If ``num_classes`` or ``dim`` < 1; from ``update``, if features do not have ``dim``
        columns, a class id is out of range or the row counts differ; from
        ``within_class_variability`` / ``neural_collapse``, with fewer than 2 classes seen; from
        ``frechet_distance``, if a class has fewer than 2 examples; ``merge`` /
        ``load_state_dict`` raise ``ValueError`` for another configuration or a missing or
        misshapen state key.
    TypeError
        If ``num_classes`` or ``dim`` is not an integer.

    Notes
    -----
    Methods: ``update(preds, target, *, indexes=None)`` adds a batch and returns None
    (``indexes``: sample ids, an id seen before is skipped); ``compute()`` returns a dict of
    ``count`` (C,), ``mean`` (C, dim) and ``covariance`` (C, dim, dim); ``merge(other)``,
    ``sync(group=None)`` and ``to(device)`` return the accumulator itself; ``reset()`` returns
    None; ``state_dict()`` returns a dict of numpy arrays and the configuration, which
    ``load_state_dict(state)`` restores. ``within_class_variability()`` returns NC1 (float),
    ``frechet_distance(a, b)`` a float, ``neural_collapse(classifier_weight=None)`` a dict like
    :func:`longtail.metrics.neural_collapse`'s.

    Examples
    --------
    >>> stats = ClassFeatureStats(num_classes=2, dim=2)
    >>> stats.update([[0.0, 0.0], [2.0, 2.0], [5.0, 5.0]], [0, 0, 1])
    >>> r = stats.compute()
    >>> r["count"].tolist(), r["mean"][0].tolist()
    ([2, 1], [1.0, 1.0])
    >>> r["covariance"][0].tolist()
    [[2.0, 2.0], [2.0, 2.0]]
    """

    _kind = "gathered"
    _device_ok = True
    _bad_names = ("labels", "features")

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
        return _chan(a, _state_like(b, a), sign)

    def _rows_device(self, preds: Any, target: Any, device: Any) -> tuple[Any, ...]:
        torch = _torch()
        x = _on_device(preds, device, "features")
        y = _on_device(target, device, "labels")
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"features: expected shape (n, {self.dim}), got {tuple(x.shape)}")
        if y.ndim != 1:
            raise ValueError(f"labels: expected a 1-D array of class ids, got {tuple(y.shape)}")
        _check_rows_t((x, "features"), (y, "labels"))
        yv, y = _class_ids_t(y, self.num_classes)
        xv = torch.isfinite(x).all(dim=1)
        self._count_bad(~yv, ~xv)
        return x, y, yv & xv

    def _accumulate_device(self, state: dict[str, Any], rows: tuple[Any, ...]) -> None:
        # The batch's per-class (count, mean, M2) by index_add_ (fixed shapes), then
        # Chan's merge; M2 from the centred rows, in row blocks of (rows, d, d).
        torch = _torch()
        x, y, ok = rows
        c, d = self.num_classes, self.dim
        dev = x.device
        w = ok.double()
        x = torch.where(ok[:, None], x.double(), 0.0)
        cnt = torch.zeros(c, dtype=torch.float64, device=dev).index_add_(0, y, w)
        total = torch.zeros(c, d, dtype=torch.float64, device=dev).index_add_(0, y, x)
        mean = total / cnt.clamp(min=1)[:, None]
        z = (x - mean[y]) * w[:, None]
        m2 = torch.zeros(c, d, d, dtype=torch.float64, device=dev)
        step = max(1, _DEVICE_BLOCK // (d * d))
        for r0 in range(0, x.shape[0], step):
            zb = z[r0 : r0 + step]
            m2.index_add_(0, y[r0 : r0 + step], zb[:, :, None] * zb[:, None, :])
        batch = {"count": cnt.long(), "mean": mean, "m2": m2}
        state.update(_chan_t(state, batch))

    def update(self, preds: Any, target: Any, *, indexes: Any = None) -> None:
        """Add ``features`` (n, dim) with class ids ``labels`` (n,) (torchmetrics'
        ``(preds, target)`` order); ``indexes``: sample ids counted once."""
        super().update(preds, target, indexes=indexes)

    def compute(self) -> dict[str, np.ndarray]:
        """``count`` (C,), ``mean`` (C, dim) and unbiased ``covariance`` (C, dim, dim);
        mean/covariance rows are NaN for classes with too few examples (< 1 / < 2)."""
        state = self._host_state()
        count = state["count"]
        mean = state["mean"].copy()
        mean[count == 0] = np.nan
        cov = state["m2"] / np.maximum(count - 1, 1)[:, None, None]
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
        state = self._host_state()
        count = state["count"]
        present = count > 0
        if present.sum() < 2:
            raise ValueError("state: needs examples of at least 2 classes")
        sw = state["m2"][present].sum(0) / count.sum()
        mu = state["mean"][present]
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
