"""Argument checking shared by every module.

Every public function converts its array arguments here, so that lists, numpy arrays
(any dtype, any strides) and torch tensors (CPU or CUDA) are accepted the same way and
every error names the argument.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "to_numpy",
    "raw_labels",
    "dataset_labels",
    "as_1d_labels",
    "as_float_array",
    "as_scores",
    "all_finite",
    "widen_half",
    "score_min_max",
    "score_dtype",
    "storable_scores",
    "check_positive_int",
]


def to_numpy(x: Any, name: str, *, half: bool = False) -> np.ndarray:
    """Return ``x`` as a numpy array (no copy where possible); torch tensors leave the GPU.

    float16/bfloat16 tensors are widened to float32, unless ``half``: then a float16
    tensor stays float16 (no copy on the CPU) and a bfloat16 one comes back as the
    uint16 view of its memory (see :func:`as_scores`).

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
            if t.dtype == torch.bfloat16 and half:
                # numpy has no bfloat16: the raw 2-byte patterns, read by the kernels as
                # bfloat16 (CUDA: one copy to the host, still 2 bytes per element).
                return t.cpu().view(torch.int16).numpy().view(_BF16_BITS)
            if (t.dtype == torch.bfloat16 or t.dtype == torch.float16) and not half:
                t = t.float()
            return t.cpu().numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name}: cannot convert to an array ({e})") from None
    if arr.dtype == object:
        raise TypeError(f"{name}: expected a numeric array, got ragged or object data")
    return arr


def raw_labels(labels: Any, label_column: str = "label") -> Any:
    """The label container of ``labels``: itself, or a dataset's label attribute/column.

    Never iterates a dataset: labels are read from ``targets`` (torchvision), ``labels``,
    or the ``label_column`` column of a Hugging Face ``datasets.Dataset``.
    """
    if isinstance(labels, (np.ndarray, list, tuple)):
        return labels
    if type(labels).__module__.startswith("torch") and hasattr(labels, "detach"):
        return labels
    for attr in ("targets", "labels"):
        value = getattr(labels, attr, None)
        if value is not None and not callable(value):
            return value
    column_names = getattr(labels, "column_names", None)
    if column_names is not None:
        if label_column not in column_names:
            raise ValueError(
                f"labels: the dataset has no column {label_column!r} (columns: "
                f"{list(column_names)}); pass label_column=<name of the label column>"
            )
        return labels[label_column]
    if hasattr(labels, "__getitem__") and hasattr(labels, "__len__") and not hasattr(
        labels, "__array__"
    ):
        raise TypeError(
            f"labels: got a {type(labels).__name__} without a 'targets' or 'labels' "
            "attribute; pass the class ids directly (a 1-D array with one integer per "
            "example), set dataset.targets, or for a Hugging Face dataset pass "
            "label_column=<column name>"
        )
    return labels


def dataset_labels(labels: Any, *, label_column: str = "label", name: str = "labels") -> np.ndarray:
    """1-D int64 class ids from an array-like, a tensor, or a dataset carrying them.

    The one way every module reads labels (samplers, ``select``, ``noise``): a 1-D
    array/list/tensor of integer ids, a dataset with ``targets`` (torchvision) or
    ``labels``, or a Hugging Face ``datasets.Dataset`` with ``label_column``.

    >>> class DS:
    ...     targets = [0, 1, 1]
    >>> dataset_labels(DS()).tolist()
    [0, 1, 1]
    """
    return as_1d_labels(raw_labels(labels, label_column), name)


def _numeric(
    x: Any,
    name: str,
    what: str,
    ndim: int | tuple[int, ...] | None,
    allow_empty: bool,
    half: bool = False,
) -> np.ndarray:
    """``x`` as a numpy array of a numeric dtype with one of the ``ndim`` dimensions
    (any when None), non-empty unless ``allow_empty``: the checks ``as_scores`` and
    ``as_float_array`` share."""
    arr = to_numpy(x, name, half=half)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected {what}, got dtype {arr.dtype}")
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in dims:
            want = " or ".join(f"{d}-D" for d in dims)
            raise ValueError(f"{name}: expected a {want} array, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name}: must not be empty")
    return arr


def as_scores(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] = (1, 2),
    allow_empty: bool = False,
    finite: bool = True,
    half: bool = False,
) -> np.ndarray:
    """Scores/probabilities as a C-contiguous float32 or float64 array, copied at most once.

    The native input path of every metric and selection function: float32 stays float32,
    float64 stays float64, integer and bool scores become float64. A contiguous numpy
    array or CPU tensor of the right dtype is returned without a copy. Kernels take both
    widths.

    float16 / bfloat16 (numpy float16, torch float16 / bfloat16 tensors) are widened to
    float32 unless ``half=True``, for the callers whose Rust kernels read 2-byte scores
    and widen each element as they read it: then float16 comes back as float16 and a
    torch bfloat16 tensor as the **uint16 view of its memory** (numpy has no bfloat16
    dtype; a uint16 array at a kernel's score argument means bfloat16 bit patterns), both
    without a copy for a contiguous CPU input (CUDA: one copy to the host; non-contiguous:
    one copy, 2 bytes per element). :func:`widen_half`, :func:`score_min_max` and
    :func:`score_dtype` are the only other places that know about the bfloat16 view.

    >>> as_scores(np.zeros(3, dtype=np.float32), "y_score").dtype
    dtype('float32')
    >>> as_scores([1, 0], "y_score").dtype
    dtype('float64')
    >>> as_scores(np.zeros(3, dtype=np.float16), "y_score", half=True).dtype
    dtype('float16')
    """
    bf16 = half and _is_bf16_tensor(x)
    arr = _numeric(x, name, "numeric scores", ndim, allow_empty, half=half)
    if bf16:
        arr = np.ascontiguousarray(arr)
        if finite and not _bf16_all_finite(arr):
            raise ValueError(f"{name}: contains NaN or infinity")
        return arr
    if half and arr.dtype == np.float16:
        dtype: Any = np.float16
    else:
        dtype = np.float32 if arr.dtype in (np.float32, np.float16) else np.float64
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if finite and not all_finite(arr):
        raise ValueError(f"{name}: contains NaN or infinity")
    return arr


# bfloat16 scores travel as the uint16 view of their bits (numpy has no bfloat16).
_BF16_BITS = np.dtype(np.uint16)
_BLOCK = 1 << 20


def _is_bf16_tensor(x: Any) -> bool:
    if not type(x).__module__.startswith("torch"):
        return False
    import torch

    return isinstance(x, torch.Tensor) and x.dtype == torch.bfloat16


def _bf16_all_finite(bits: np.ndarray) -> bool:
    """No NaN/inf among bfloat16 bit patterns (exponent all ones), by blocks."""
    flat = bits.reshape(-1)
    for i in range(0, flat.size, _BLOCK):
        if ((flat[i : i + _BLOCK] & 0x7F80) == 0x7F80).any():
            return False
    return True


def widen_half(arr: np.ndarray) -> np.ndarray:
    """An ``as_scores(..., half=True)`` array as float32 (a new array for float16 and the
    bfloat16 view, exact); float32/float64 arrays are returned as they are.

    For O(n) vectors and per-block work; never call it on a whole (n, C) matrix.

    >>> widen_half(np.array([0.5], dtype=np.float16)).dtype
    dtype('float32')
    """
    if arr.dtype == np.float16:
        return arr.astype(np.float32)
    if arr.dtype == _BF16_BITS:
        return (arr.astype(np.uint32) << 16).view(np.float32)
    return arr


def score_min_max(arr: np.ndarray) -> tuple[float, float]:
    """``(min, max)`` of an ``as_scores`` array (NaN if any is NaN), widening at most one
    block at a time.

    >>> score_min_max(np.array([0.25, -1.0], dtype=np.float16))
    (-1.0, 0.25)
    """
    flat = arr.reshape(-1)
    lo, hi = math.inf, -math.inf
    step = _BLOCK if arr.dtype != _BF16_BITS else 1 << 16  # 256 KiB widened at a time
    for i in range(0, flat.size, step):
        block = flat[i : i + step] if arr.dtype != _BF16_BITS else widen_half(flat[i : i + step])
        b_lo, b_hi = float(block.min()), float(block.max())
        if math.isnan(b_lo) or math.isnan(b_hi):
            return math.nan, math.nan
        lo, hi = min(lo, b_lo), max(hi, b_hi)
    return lo, hi


def storable_scores(arr: np.ndarray) -> np.ndarray:
    """Scores to keep in a state that later batches are concatenated to: the bfloat16
    view is widened to float32 (a uint16 array would concatenate as integers); every
    other dtype (float16 included) is returned as it is.

    >>> storable_scores(np.zeros(2, dtype=np.float16)).dtype
    dtype('float16')
    """
    return widen_half(arr) if arr.dtype == _BF16_BITS else arr


def score_dtype(arr: np.ndarray) -> np.dtype:
    """The dtype results derived from the scores carry: float32 for the half inputs
    (as their float32 widening would), otherwise the scores' own.

    >>> score_dtype(np.zeros(1, dtype=np.float16))
    dtype('float32')
    """
    if arr.dtype in (np.float16, _BF16_BITS):
        return np.dtype(np.float32)
    return arr.dtype


def all_finite(arr: np.ndarray, block: int = 1 << 20) -> bool:
    """``np.isfinite(arr).all()`` in blocks, so the check never allocates n bytes.

    >>> all_finite(np.array([1.0, np.nan]))
    False
    """
    flat = arr.reshape(-1)
    for i in range(0, flat.size, block):
        if not np.isfinite(flat[i : i + block]).all():
            return False
    return True


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
    arr = _numeric(x, name, "a numeric array", ndim, allow_empty)
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if finite and not all_finite(arr):
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
