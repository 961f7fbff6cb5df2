"""Argument checks and input conversion shared by every loss of :mod:`longtail.losses`.

One place for what every loss checks (counts, numbers, reduction, logits and target
shapes), so that every loss raises the same ``ValueError``/``TypeError`` naming the
argument. Array conversion itself is :mod:`longtail._checks`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from longtail._checks import as_1d_labels, as_float_array

ArrayLike = Union[Sequence[float], np.ndarray, Tensor]
_REDUCTIONS = ("mean", "sum", "none")


def _device_of(x: Any) -> torch.device:
    return x.device if isinstance(x, Tensor) else torch.device("cpu")


def _counts_array(counts: Any, name: str = "counts", *, need_positive: bool = True) -> np.ndarray:
    """Counts as float64 numpy: 1-D, finite, non-negative, at least one positive entry."""
    arr = as_float_array(counts, name, ndim=1)
    if (arr < 0).any():
        raise ValueError(f"{name}: class counts must be non-negative, got min {arr.min()}")
    if need_positive and not (arr > 0).any():
        raise ValueError(f"{name}: at least one class must have a positive count")
    return arr


def _safe_log_counts(arr: np.ndarray) -> np.ndarray:
    """log n_j, with zero counts replaced by the smallest positive count.

    log 0 = -inf would make the loss infinite for a sample of that class (balanced
    softmax) and would make post-hoc adjustment predict the class everywhere. An absent
    class is treated like the rarest observed one: finite, scale-free (counts may be
    frequencies) and still the strongest adjustment of all classes.
    """
    floor = arr[arr > 0].min()
    return np.log(np.where(arr > 0, arr, floor))


def _check_float(value: Any, name: str, *, low: float | None = None,
                 high: float | None = None, low_open: bool = False,
                 high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {v}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name}: must be {'>' if low_open else '>='} {low}, got {v}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name}: must be {'<' if high_open else '<='} {high}, got {v}")
    return v


def _check_beta(beta: Any) -> float:
    # beta = 1 would make every effective number 0/0; the paper's limit beta -> 1 is
    # inverse-frequency weighting, reachable with beta = 1 - 1e-12.
    return _check_float(beta, "beta", low=0.0, high=1.0, high_open=True)


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _compute_dtype(x: Tensor) -> torch.dtype:
    # half and bfloat16 are promoted to float32: softmax of logits shifted by log-counts
    # (up to ~20) loses most of its precision in 8-11 mantissa bits. float64 stays float64
    # so that gradcheck sees the exact math.
    return torch.promote_types(x.dtype, torch.float32)


def _check_logits(logits: Any, num_classes: int | None, *, max_ndim: int | None = None,
                  what: str = "the length of counts") -> int:
    """Type, dtype and shape of ``logits`` (N, C[, d1, ...]); returns C."""
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits: expected a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits: expected a floating point tensor, got {logits.dtype}")
    if logits.ndim < 2 or (max_ndim is not None and logits.ndim > max_ndim):
        want = "(N, C)" if max_ndim == 2 else "(N, C) or (N, C, d1, ...)"
        raise ValueError(f"logits: expected shape {want}, got {tuple(logits.shape)}")
    c = logits.shape[1]
    if num_classes is not None and c != num_classes:
        raise ValueError(
            f"logits: expected {num_classes} classes ({what}) in dimension 1, "
            f"got shape {tuple(logits.shape)}")
    if c == 0:
        raise ValueError("logits: needs at least one class")
    return int(c)


def _flatten_logits(logits: Any, target: Any, num_classes: int | None,
                    ignore_index: int, *, max_ndim: int | None = None,
                    background: bool = False,
                    what: str = "the length of counts") -> tuple[Tensor, Tensor, tuple[int, ...]]:
    """(N, C, d1, ...) logits and (N, d1, ...) target -> (M, C), (M,), target shape.

    Checks shapes always (host metadata, free) and target values only on the CPU.
    ``background=True`` also accepts the id C (a sample that is negative for every class).
    """
    c = _check_logits(logits, num_classes, max_ndim=max_ndim, what=what)
    if not isinstance(target, Tensor):
        target = torch.from_numpy(as_1d_labels(target, "target", allow_empty=True)).to(
            logits.device)
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"target: expected integer class ids, got {target.dtype}")
    want = (logits.shape[0],) + tuple(logits.shape[2:])
    if tuple(target.shape) != want:
        raise ValueError(
            f"target: expected shape {want} to match logits {tuple(logits.shape)}, "
            f"got {tuple(target.shape)}")
    if target.device.type == "cpu" and target.numel():
        top = c + 1 if background else c
        valid = (target == ignore_index) | ((target >= 0) & (target < top))
        if not bool(valid.all()):
            bad = target[~valid]
            raise ValueError(
                f"target: class ids must be in [0, {top}) or equal ignore_index={ignore_index}, "
                f"got {int(bad.min())}..{int(bad.max())}")
    x = logits.movedim(1, -1).reshape(-1, c) if logits.ndim > 2 else logits
    return x, target.reshape(-1).long(), want


def _alpha_arg(alpha: Any) -> float | np.ndarray | None:
    if alpha is None:
        return None
    if isinstance(alpha, (int, float, np.integer, np.floating)) and not isinstance(alpha, bool):
        return _check_float(alpha, "alpha", low=0.0)
    arr = as_float_array(alpha, "alpha", ndim=1)
    if (arr < 0).any():
        raise ValueError("alpha: per-class weights must be non-negative")
    return arr


def _check_ignore_index(ignore_index: Any) -> int | None:
    if ignore_index is None:
        return None
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"ignore_index: expected an integer or None, got {ignore_index!r}")
    return int(ignore_index)


def _check_num_classes(num_classes: Any) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 1:
        raise ValueError(f"num_classes: expected an integer >= 1, got {num_classes!r}")
    return int(num_classes)


def _flatten_binary(logits: Any, target: Any, num_classes: int | None,
                    ignore_index: int | None) -> tuple[Tensor, Tensor, Tensor | None,
                                                       tuple[int, ...]]:
    """Multi-label / dense binary inputs -> (M, C) logits, targets, keep mask, row shape.

    ``target`` has the shape of ``logits`` and values in [0, 1] (soft targets allowed), or
    ``ignore_index`` for elements that count nothing; booleans and integers are accepted.
    The logits come back in the compute dtype, the targets in the same dtype with ignored
    entries set to 0, the keep mask is None without ``ignore_index``. Values are checked on
    the CPU only (elsewhere that check would cost a device-to-host copy per step).
    """
    c = _check_logits(logits, num_classes)
    if not isinstance(target, Tensor):
        target = torch.as_tensor(as_float_array(target, "target", ndim=logits.ndim),
                                 device=logits.device)
    if target.is_complex():
        raise TypeError(f"target: expected real 0/1 targets, got {target.dtype}")
    if tuple(target.shape) != tuple(logits.shape):
        raise ValueError(f"target: expected shape {tuple(logits.shape)} (that of logits), "
                         f"got {tuple(target.shape)}")
    keep = None if ignore_index is None else target != ignore_index
    if target.device.type == "cpu" and target.numel():
        inside = (target >= 0) & (target <= 1)
        ok = inside if keep is None else inside | ~keep
        if not bool(ok.all()):
            extra = "" if ignore_index is None else f" or equal ignore_index={ignore_index}"
            raise ValueError(f"target: values must lie in [0, 1]{extra}")
    cd = _compute_dtype(logits)
    x = logits.to(cd)
    y = target.to(cd)
    if logits.ndim > 2:
        x = x.movedim(1, -1).reshape(-1, c)
        y = y.movedim(1, -1).reshape(-1, c)
        keep = None if keep is None else keep.movedim(1, -1).reshape(-1, c)
    if keep is not None:
        y = torch.where(keep, y, torch.zeros_like(y))
    rows = (logits.shape[0],) + tuple(logits.shape[2:])
    return x, y, keep, rows
