"""Input checks shared by the functional metrics, mirroring scikit-learn's.

scikit-learn finds the type of a target and its classes with ``np.unique`` (a sort);
for integer labels we use two O(n) passes in Rust instead (range, then a bitmap of the
labels present), which keeps validation from dominating the run time on large inputs.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, Callable, Optional

import numpy as np

from longtail import _core
from longtail._checks import as_scores, to_numpy

__all__ = [
    "InvalidParameterError",
    "labels_array",
    "check_pos_label",
    "check_weight_kind",
    "check_weight_values",
    "ranking_weights",
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


class InvalidParameterError(ValueError, TypeError):
    """An argument of a kind the metric does not take (a sparse matrix where only dense
    arrays are accepted, a scalar for an array, ``bytes`` for ``pos_label``): both a
    ``ValueError`` and a ``TypeError``, like scikit-learn's ``InvalidParameterError``.
    """


def _is_sparse(y: Any) -> bool:
    mod = type(y).__module__
    if not mod.startswith("scipy"):
        return False
    import scipy.sparse

    return bool(scipy.sparse.issparse(y))


def _sparse_labels(y: Any, name: str) -> np.ndarray:
    """A scipy.sparse target as a dense array, after scikit-learn's ``is_multilabel``:
    only a multilabel indicator may be sparse (``_check_targets``)."""
    if y.ndim != 2 or y.shape[1] <= 1 or y.shape[0] == 0:
        if y.shape[0] == 0 or y.shape[1] == 0:
            raise ValueError(f"{name}: must not be empty")
        raise TypeError(
            f"{name}: Sparse input is only supported when targets are of multilabel type"
        )
    if y.dtype.kind == "c":
        raise ValueError(f"{name}: Complex data not supported")
    csr = y.tocsr()
    vals = np.unique(csr.data)
    integral = y.dtype.kind in "biu" or (
        y.dtype.kind == "f" and np.isfinite(vals).all() and np.all(vals == np.trunc(vals))
    )
    multilabel = csr.data.size == 0 or (
        integral and (vals.size == 1 or (vals.size == 2 and 0 in vals))
    )
    if not multilabel:
        if y.dtype.kind == "f" and not integral:
            if not np.isfinite(vals).all():
                raise ValueError(f"{name}: contains NaN or infinity")
            raise ValueError(f"{name}: continuous-multioutput is not supported")
        raise ValueError(f"{name}: multiclass-multioutput is not supported")
    return csr.toarray()


def labels_array(y: Any, name: str, *, sparse: bool = False) -> np.ndarray:
    """``y`` as a numpy array (1-D, or 2-D for indicator matrices); a column is raveled.

    The one reader of targets for every functional metric. It refuses what
    scikit-learn's ``type_of_target`` / ``_check_targets`` refuse, with the same
    exception type: complex values, ``bytes`` labels (TypeError), the legacy
    sequence-of-sequences multilabel format and ragged or non-string object data
    ("unknown" targets), NaN / infinity, empty input. ``sparse=True`` accepts a
    scipy.sparse multilabel indicator (as the precision / recall / F family does) and
    returns it dense; elsewhere a sparse matrix is an ``InvalidParameterError``.

    >>> labels_array([[1], [0]], "y_true").tolist()
    [1, 0]
    """
    if _is_sparse(y):
        if not sparse:
            raise InvalidParameterError(
                f"{name}: must be an array-like, got a {type(y).__name__} (scipy.sparse "
                "input is only accepted for multilabel indicators by the precision / "
                "recall / F-score family)"
            )
        return _sparse_labels(y, name)
    if isinstance(y, np.ndarray):
        arr = y
    elif type(y).__module__.startswith("torch"):
        arr = to_numpy(y, name)
    else:
        if isinstance(y, (str, bytes)) or not (
            isinstance(y, Sequence) or hasattr(y, "__array__") or hasattr(y, "__len__")
        ):
            raise InvalidParameterError(f"{name}: must be an array-like, got {y!r}")
        try:
            arr = np.asarray(y)
        except (ValueError, TypeError):
            try:  # ragged: NumPy needs dtype=object for it (NEP 34)
                arr = np.asarray(y, dtype=object)
            except (ValueError, TypeError):
                raise ValueError(f"{name}: unknown label type (ragged nested data)") from None
    if arr.ndim == 0:
        raise InvalidParameterError(f"{name}: must be an array-like, got {y!r}")
    if arr.dtype.kind == "c":
        raise ValueError(f"{name}: Complex data not supported")
    if arr.shape[0] > 0:
        first = arr[0]
        if isinstance(first, bytes):
            raise TypeError(
                f"{name}: Support for labels represented as bytes is not supported. "
                "Convert the labels to a string or integer format."
            )
        if (
            not hasattr(first, "__array__")
            and isinstance(first, Sequence)
            and not isinstance(first, str)
        ):
            raise ValueError(
                f"{name}: You appear to be using a legacy multi-label data representation. "
                "Sequence of sequences are no longer supported; use a binary array or "
                "sparse matrix instead - the MultiLabelBinarizer transformer can convert "
                "to this format."
            )
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name}: unknown is not supported (got shape {arr.shape})")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: must not be empty")
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise ValueError(f"{name}: unknown is not supported (got shape {arr.shape})")
    if arr.dtype == object and not isinstance(arr.flat[0], str):
        raise ValueError(
            f"{name}: unknown is not supported (object data whose first value is a "
            f"{type(arr.flat[0]).__name__}, not a string)"
        )
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
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
        # scikit-learn's ``is_multilabel``: at most two distinct integral values (any
        # two: a non-zero entry is a positive), then the multioutput kinds.
        if y.dtype.kind in "iubf":
            vals = unique(y.ravel()) if y.dtype.kind != "f" else np.unique(y)
            integral = y.dtype.kind != "f" or bool(np.all(vals == np.trunc(vals)))
            if vals.size < 3 and integral:
                return "multilabel-indicator", None
            if not integral:
                return "continuous-multioutput", None
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
    contiguous array or CPU tensor is not copied; float16 / bfloat16 stay 2 bytes per
    element (bfloat16 as its uint16 bit view) and the kernels widen each one as read.
    The kernels take every width and compare float32 scores exactly as scikit-learn
    does on the same input (widening a float32 to float64 keeps its order and its
    ties). Finiteness is checked by the kernels in their own pass over the scores.

    >>> score_array([[0.5], [1]]).tolist()
    [0.5, 1.0]
    >>> score_array(np.ones((2, 3), dtype=np.float32)).dtype
    dtype('float32')
    """
    arr = as_scores(y_score, name, ndim=(1, 2), finite=False, half=True)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.reshape(-1)
    return arr


def weight_array(
    sample_weight: Any,
    n: int,
    *,
    nonzero: bool = True,
    column: bool = True,
    strict: bool = True,
) -> Optional[np.ndarray]:
    """``sample_weight`` as a contiguous float64 vector of length ``n`` (or None).

    As scikit-learn's ``_check_sample_weight``: an array-like (a scalar or a sparse
    matrix is an ``InvalidParameterError``), real (complex data is a ValueError),
    finite, one value per sample, and not all zero unless ``nonzero=False``. A column
    ``(n, 1)`` is raveled when ``column`` (the ranking metrics' ``column_or_1d``) and
    refused otherwise (the classification metrics). ``strict=False`` is for the metrics
    whose peer only checks the length (scikit-learn's ``top_k_accuracy_score``,
    imbalanced-learn's multiclass ``geometric_mean_score``): the array comes back as
    given (bool widened to float64) for the caller's arithmetic to accept or refuse as
    the peer's does.

    >>> weight_array([1, 2], 2).tolist()
    [1.0, 2.0]
    """
    if sample_weight is None:
        return None
    check_weight_kind(sample_weight)
    w = to_numpy(sample_weight, "sample_weight")
    if w.ndim == 0:
        raise InvalidParameterError(
            f"sample_weight: must be an array-like or None, got {type(sample_weight).__name__}"
        )
    if w.shape[0] != n:
        raise ValueError(f"sample_weight: length {w.shape[0]} does not match y_true's length {n}")
    if not strict:
        # The peer's own arithmetic on the weights as given (bool widened: numpy's
        # bool . bool product would be a logical "or").
        return w.astype(np.float64) if w.dtype.kind == "b" else w
    if w.dtype.kind == "c":
        raise ValueError("sample_weight: Complex data not supported")
    if w.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight: expected real numbers, got dtype {w.dtype}")
    if w.ndim == 2 and w.shape[1] == 1 and column:
        w = w.ravel()
    if w.ndim != 1:
        raise ValueError(
            f"sample_weight: Sample weights must be 1D array or scalar, got {w.ndim}D array"
        )
    w = np.ascontiguousarray(w, dtype=np.float64)
    if not np.isfinite(w).all():
        raise ValueError("sample_weight: contains NaN or infinity")
    if nonzero and w.size and not np.any(w):
        raise ValueError("sample_weight: Sample weights must contain at least one non-zero number.")
    return w


def ranking_weights(sample_weight: Any, n: int) -> Optional[np.ndarray]:
    """``sample_weight`` of ``roc_auc_score`` / ``average_precision_score`` as float64,
    checked as far as scikit-learn checks it before averaging (``column_or_1d`` and the
    length). Its values are checked (``check_weight_values``) only where they reach a
    binary curve, as scikit-learn's ``_binary_clf_curve`` does: not for the averaging
    weights of ``average="samples"``, nor when ``average="weighted"`` has no positive
    weight (0 is returned first).

    >>> ranking_weights([[1], [2]], 2).tolist()
    [1.0, 2.0]
    """
    if sample_weight is None:
        return None
    check_weight_kind(sample_weight)
    w = to_numpy(sample_weight, "sample_weight")
    if w.ndim == 2 and w.shape[1] == 1:
        w = w.ravel()
    if w.ndim != 1:
        raise ValueError(f"sample_weight: y should be a 1d array, got an array of shape {w.shape}")
    if w.shape[0] != n:
        raise ValueError(f"sample_weight: length {w.shape[0]} does not match y_true's length {n}")
    if w.dtype.kind == "c":
        raise ValueError("sample_weight: Complex data not supported")
    if w.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight: expected real numbers, got dtype {w.dtype}")
    return np.ascontiguousarray(w, dtype=np.float64)


def check_weight_values(w: Optional[np.ndarray]) -> None:
    """ValueError unless the weights are finite and not all zero (scikit-learn's
    ``_check_sample_weight``); None passes.

    >>> check_weight_values(np.ones(2))
    """
    if w is None:
        return
    if not np.isfinite(w).all():
        raise ValueError("sample_weight: contains NaN or infinity")
    if w.size and not np.any(w):
        raise ValueError("sample_weight: Sample weights must contain at least one non-zero number.")


def check_weight_kind(sample_weight: Any) -> None:
    """``InvalidParameterError`` unless ``sample_weight`` is None or an array-like (not a
    scalar, a string or a sparse matrix): scikit-learn checks this before anything else.

    >>> check_weight_kind([1, 2])
    """
    if sample_weight is None:
        return
    if (
        _is_sparse(sample_weight)
        or isinstance(sample_weight, (str, bytes, numbers.Number))
        or not (hasattr(sample_weight, "__len__") or hasattr(sample_weight, "__array__"))
    ):
        raise InvalidParameterError(
            f"sample_weight: must be an array-like or None, got {type(sample_weight).__name__}"
        )


_REAL_STR_BOOL = "an instance of 'float', an instance of 'str' or an instance of 'bool'"


def check_pos_label(pos_label: Any, *, allow_none: bool = True, allow_float: bool = True) -> Any:
    """``pos_label`` unchanged if scikit-learn takes it (a real number, a string, a bool
    or, where ``allow_none``, None; imbalanced-learn takes no float: ``allow_float``),
    else an ``InvalidParameterError``.

    >>> check_pos_label("spam")
    'spam'
    """
    kinds = (numbers.Real if allow_float else numbers.Integral, str, np.bool_)
    if (pos_label is None and allow_none) or isinstance(pos_label, kinds):
        return pos_label
    what = _REAL_STR_BOOL if allow_float else "an instance of 'str' or an instance of 'int'"
    extra = " or None" if allow_none else ""
    raise InvalidParameterError(f"pos_label: must be {what}{extra}, got {pos_label!r}")


def check_length(y_true: np.ndarray, other: np.ndarray, name: str) -> None:
    """ValueError naming ``name`` unless it has as many rows as ``y_true``.

    >>> check_length(np.zeros(2), np.zeros(2), "y_score")
    """
    if other.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"{name}: found {other.shape[0]} samples, but y_true has {y_true.shape[0]}"
        )
