"""Input checks shared by the functional metrics, mirroring scikit-learn's.

scikit-learn finds the type of a target and its classes with ``np.unique`` (a sort);
for integer labels we use two O(n) passes in Rust instead (range, then a bitmap of the
labels present), which keeps validation from dominating the run time on large inputs.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from longtail import _core
from longtail._checks import as_scores, to_numpy

__all__ = [
    "labels_array",
    "unique",
    "target_type",
    "target_with_indicator",
    "indicator",
    "score_array",
    "weight_array",
]

_BITMAP_RANGE = 1 << 26
_EMPTY = np.empty(0, dtype=np.int64)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def labels_array(y: Any, name: str) -> np.ndarray:
    """``y`` as a numpy array (1-D, or 2-D for indicator matrices); a column is raveled.

    >>> labels_array([[1], [0]], "y_true").tolist()
    [1, 0]
    """
    arr = to_numpy(y, name) if not isinstance(y, (list, tuple)) else np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name}: expected a 1-D or 2-D array, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: must not be empty")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinity")
    return arr


def unique(y: np.ndarray) -> np.ndarray:
    """Sorted distinct values of ``y`` (``np.unique``, in O(n) for integer labels).

    >>> unique(np.array([3, 1, 3])).tolist()
    [1, 3]
    """
    if y.dtype.kind in "iub" and y.ndim == 1:
        a = np.ascontiguousarray(y, dtype=np.int64)
        return _unique_in_range(y, a, _core.label_range(a, _EMPTY))
    return np.unique(y)


def _unique_in_range(
    y: np.ndarray, a: np.ndarray, lo_hi: Optional[tuple[int, int]]
) -> np.ndarray:
    """``unique(y)`` given ``a`` (``y`` as int64) and its ``(min, max)``."""
    if lo_hi is not None and lo_hi[1] - lo_hi[0] <= 1:
        # The minimum and the maximum are present: nothing lies between them.
        return np.unique(np.array(lo_hi, dtype=y.dtype))
    if lo_hi is not None and lo_hi[1] - lo_hi[0] < _BITMAP_RANGE:
        return _core.present_labels(a, _EMPTY, *lo_hi).astype(y.dtype, copy=False)
    return np.unique(y)


def target_type(y: np.ndarray) -> tuple[str, Optional[np.ndarray]]:
    """scikit-learn's ``type_of_target`` for a checked array, with the classes of a 1-D
    target (None for 2-D ones).

    >>> target_type(np.array([0, 2, 1]))[0]
    'multiclass'
    """
    if y.ndim == 2:
        if y.dtype.kind in "iubf":
            vals = unique(y.ravel()) if y.dtype.kind != "f" else np.unique(y)
            if y.dtype.kind == "f" and np.any(vals != vals.astype(np.int64)):
                return "continuous-multioutput", None
            if vals.size <= 2 and np.all(np.isin(vals, [0, 1])):
                return "multilabel-indicator", None
        return "multiclass-multioutput", None
    if y.dtype.kind == "f" and np.any(y != np.trunc(y)):
        return "continuous", None
    classes = unique(y)
    return _type_of_classes(classes), classes


def _type_of_classes(classes: np.ndarray) -> str:
    return "multiclass" if classes.size > 2 else "binary"


def indicator(y: np.ndarray, value: Any) -> np.ndarray:
    """``y == value`` as a contiguous uint8 array (a view of the boolean result: no copy).

    >>> indicator(np.array([2, 1, 2]), 2).tolist()
    [1, 0, 1]
    """
    eq = y == value
    if isinstance(eq, np.ndarray) and eq.dtype == np.bool_ and eq.shape == y.shape:
        return np.ascontiguousarray(eq).view(np.uint8)
    return np.ascontiguousarray(eq, dtype=np.uint8)


def target_with_indicator(
    y: np.ndarray, guess: Any
) -> tuple[str, Optional[np.ndarray], Callable[[Any], np.ndarray]]:
    """``target_type(y)`` and a function ``value -> indicator(y, value)``.

    For 1-D integer labels one pass finds the label range and ``y == guess`` together;
    the function returns that mask when asked for ``guess`` and computes any other
    value afresh, so a wrong guess costs one more pass, never a wrong answer.

    >>> kind, classes, ind = target_with_indicator(np.array([0, 1, 1]), 1)
    >>> kind, classes.tolist(), ind(1).tolist()
    ('binary', [0, 1], [0, 1, 1])
    """
    if not (
        y.ndim == 1
        and (y.dtype.kind in "ib" or (y.dtype.kind == "u" and y.dtype.itemsize < 8))
        and isinstance(guess, (int, np.integer))
        and _INT64_MIN <= guess <= _INT64_MAX
    ):
        kind, classes = target_type(y)
        return kind, classes, lambda value: indicator(y, value)
    a = np.ascontiguousarray(y, dtype=np.int64)
    lo_hi, mask = _core.label_range_eq(a, int(guess))
    classes = _unique_in_range(y, a, lo_hi)

    def ind(value: Any) -> np.ndarray:
        same = isinstance(value, (int, np.integer)) and value == guess
        return mask if same else indicator(y, value)

    return _type_of_classes(classes), classes, ind


def score_array(y_score: Any, name: str = "y_score") -> np.ndarray:
    """Scores as a C-contiguous float32 or float64 array (1-D or 2-D); a column is raveled.

    The native input path (``longtail._checks.as_scores``): float32 stays float32 and a
    contiguous array or CPU tensor is not copied. The kernels take both widths and
    compare float32 scores exactly as scikit-learn does on the same input (widening a
    float32 to float64 keeps its order and its ties). Finiteness is checked by the
    kernels in their own pass over the scores.

    >>> score_array([[0.5], [1]]).tolist()
    [0.5, 1.0]
    >>> score_array(np.ones((2, 3), dtype=np.float32)).dtype
    dtype('float32')
    """
    arr = as_scores(y_score, name, ndim=(1, 2), finite=False)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.reshape(-1)
    return arr


def weight_array(sample_weight: Any, n: int, *, nonzero: bool = True) -> Optional[np.ndarray]:
    """``sample_weight`` as a contiguous float64 vector of length ``n`` (or None).

    Like scikit-learn's ``_check_sample_weight``, all-zero weights are an error unless
    ``nonzero=False``.

    >>> weight_array([1, 2], 2).tolist()
    [1.0, 2.0]
    """
    if sample_weight is None:
        return None
    w = to_numpy(sample_weight, "sample_weight")
    if w.ndim == 2 and w.shape[1] == 1:
        w = w.ravel()
    if w.ndim != 1:
        raise ValueError(f"sample_weight: expected a 1-D array, got shape {w.shape}")
    if w.shape[0] != n:
        raise ValueError(f"sample_weight: length {w.shape[0]} does not match y_true's length {n}")
    w = np.ascontiguousarray(w, dtype=np.float64)
    if not np.isfinite(w).all():
        raise ValueError("sample_weight: contains NaN or infinity")
    if nonzero and w.size and not np.any(w):
        raise ValueError("sample_weight: Sample weights must contain at least one non-zero number.")
    return w


def check_length(y_true: np.ndarray, other: np.ndarray, name: str) -> None:
    """ValueError naming ``name`` unless it has as many rows as ``y_true``.

    >>> check_length(np.zeros(2), np.zeros(2), "y_score")
    """
    if other.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"{name}: found {other.shape[0]} samples, but y_true has {y_true.shape[0]}"
        )
