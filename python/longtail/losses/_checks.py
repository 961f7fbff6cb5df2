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


def _counts_array(counts: Any, name: str = "counts") -> np.ndarray:
    """Counts as float64 numpy: 1-D, finite, non-negative, at least one positive entry."""
    arr = as_float_array(counts, name, ndim=1)
    if (arr < 0).any():
        raise ValueError(f"{name}: class counts must be non-negative, got min {arr.min()}")
    if not (arr > 0).any():
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


def _flatten_logits(logits: Any, target: Any, num_classes: int | None,
                    ignore_index: int) -> tuple[Tensor, Tensor, tuple[int, ...]]:
    """(N, C, d1, ...) logits and (N, d1, ...) target -> (M, C), (M,), target shape.

    Checks shapes always (host metadata, free) and target values only on the CPU.
    """
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits: expected a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits: expected a floating point tensor, got {logits.dtype}")
    if logits.ndim < 2:
        raise ValueError(
            f"logits: expected shape (N, C) or (N, C, d1, ...), got {tuple(logits.shape)}")
    c = logits.shape[1]
    if num_classes is not None and c != num_classes:
        raise ValueError(
            f"logits: expected {num_classes} classes (the length of counts) in dimension 1, "
            f"got shape {tuple(logits.shape)}")
    if c == 0:
        raise ValueError("logits: needs at least one class")
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
        valid = (target == ignore_index) | ((target >= 0) & (target < c))
        if not bool(valid.all()):
            bad = target[~valid]
            raise ValueError(
                f"target: class ids must be in [0, {c}) or equal ignore_index={ignore_index}, "
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
