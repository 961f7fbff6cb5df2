"""Argument checking shared by every module.

Every public function converts its array arguments here, so that lists, numpy arrays
(any dtype, any strides) and torch tensors (CPU or CUDA) are accepted the same way and
every error names the argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["to_numpy", "as_1d_labels", "as_float_array", "check_positive_int"]


def to_numpy(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a numpy array (no copy where possible); torch tensors leave the GPU.

    >>> to_numpy([1, 2], "y").tolist()
    [1, 2]
    """
    if isinstance(x, np.ndarray):
        return x
    mod = type(x).__module__
    if mod.startswith("torch"):
        import torch

        if isinstance(x, torch.Tensor):
            t = x.detach()
            if t.dtype == torch.bfloat16 or t.dtype == torch.float16:
                t = t.float()
            return t.cpu().numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name}: cannot convert to an array ({e})") from None
    if arr.dtype == object:
        raise TypeError(f"{name}: expected a numeric array, got ragged or object data")
    return arr


def as_1d_labels(x: Any, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """Integer class ids as a contiguous 1-D int64 array.

    Floats are accepted only when they hold whole numbers.

    >>> as_1d_labels([0, 2.0, 1], "labels").tolist()
    [0, 2, 1]
    """
    arr = to_numpy(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of class ids, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name}: must not be empty")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: contains NaN or infinity")
        if np.any(arr != np.round(arr)):
            raise ValueError(f"{name}: class ids must be integers, got fractional values")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "u" and arr.dtype.itemsize == 8:
        if arr.size and arr.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{name}: class ids too large for int64")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class ids, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def as_float_array(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    dtype: Any = np.float64,
    allow_empty: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """A contiguous float array with the given number of dimensions, checked for NaN/inf.

    >>> as_float_array([[1, 2]], "X", ndim=2).dtype
    dtype('float64')
    """
    arr = to_numpy(x, name)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in dims:
            want = " or ".join(f"{d}-D" for d in dims)
            raise ValueError(f"{name}: expected a {want} array, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name}: must not be empty")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if finite and not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinity")
    return arr


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; bools and floats with fractions are rejected.

    >>> check_positive_int(3, "m")
    3
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value}")
    return value
