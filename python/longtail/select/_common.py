"""Argument handling shared by the selection functions: seeds, quotas, index sets."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any, Callable

import numpy as np

from longtail._checks import as_1d_labels, check_positive_int, to_numpy

_EMPTY = np.zeros(0, dtype=np.int64)

QuotaSpec = "tuple[np.ndarray, np.ndarray, int]"


def check_seed(seed: Any) -> int:
    """``seed`` as an int in ``[0, 2**64)``."""
    seed = check_positive_int(seed, "seed", minimum=0)
    if seed >= 2**64:
        raise ValueError(f"seed: must be < 2**64, got {seed}")
    return seed


def check_count(value: Any, name: str) -> int:
    """A non-negative integer (budgets, quotas); bools and fractions are rejected."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return check_positive_int(value, name, minimum=0)


def check_real(value: Any, name: str, lo: float | None = None, hi: float | None = None) -> float:
    """A finite real number, optionally within ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise TypeError(f"{name}: expected a finite number, got {value!r}")
    value = float(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name}: must lie in [{lo}, {hi}], got {value}")
    return value


def quota_spec(
    quotas: Any, classes: Callable[[], np.ndarray], name: str = "quotas"
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(class ids, values, default)`` of a quota argument for the kernels.

    ``quotas`` is an int (every class), a ``{class id: int}`` mapping (classes not in
    it get 0) or an array aligned with ``classes()`` (the sorted distinct labels,
    only computed for this form).
    """
    if isinstance(quotas, (Integral, np.integer)) and not isinstance(quotas, bool):
        return _EMPTY, _EMPTY, check_count(quotas, name)
    if isinstance(quotas, Mapping):
        if not quotas:
            return _EMPTY, _EMPTY, 0
        keys = []
        for k in quotas:
            if isinstance(k, bool) or not isinstance(k, (Integral, np.integer)):
                raise TypeError(f"{name}: mapping keys must be integer class ids, got {k!r}")
            keys.append(int(k))
        vals = [check_count(quotas[k], f"{name}[{k!r}]") for k in quotas]
        order = np.argsort(keys, kind="stable")
        cls = np.asarray(keys, dtype=np.int64)[order]
        if np.any(np.diff(cls) == 0):
            raise ValueError(f"{name}: duplicate class ids in the mapping")
        return cls, np.asarray(vals, dtype=np.int64)[order], 0
    if isinstance(quotas, bool) or quotas is None:
        raise TypeError(f"{name}: expected an int, a mapping or an array, got {quotas!r}")
    arr = to_numpy(quotas, name)
    if arr.ndim == 0:
        raise TypeError(f"{name}: expected an int, a mapping or an array, got {quotas!r}")
    if arr.ndim != 1:
        raise ValueError(
            f"{name}: expected a 1-D array aligned with the classes, got shape {arr.shape}"
        )
    vals = as_1d_labels(arr, name, allow_empty=True)
    if np.any(vals < 0):
        raise ValueError(f"{name}: quotas must be >= 0")
    cls = np.asarray(classes(), dtype=np.int64)
    if vals.size != cls.size:
        raise ValueError(
            f"{name}: expected {cls.size} values (one per distinct class, in sorted order), "
            f"got {vals.size}"
        )
    return cls, vals, 0


def index_set(x: Any, n: int, name: str) -> np.ndarray:
    """Sorted unique row indices from an index array or a boolean mask of length ``n``."""
    arr = to_numpy(x, name)
    if arr.ndim != 1:
        raise ValueError(
            f"{name}: expected a 1-D index array or boolean mask, got shape {arr.shape}"
        )
    if arr.dtype == np.bool_:
        if arr.size != n:
            raise ValueError(f"{name}: a boolean mask must have {n} entries, got {arr.size}")
        return np.flatnonzero(arr).astype(np.int64)
    idx = as_1d_labels(arr, name, allow_empty=True)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"{name}: indices must lie in [0, {n})")
    return np.unique(idx)
