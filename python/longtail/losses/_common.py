"""Math shared by the losses of :mod:`longtail.losses`: reduction, buffers, weighted CE."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from longtail.losses._checks import _compute_dtype, _device_of, _flatten_logits


def _reduce(loss: Tensor, keep: Tensor, reduction: str, out_dtype: torch.dtype,
            shape: tuple[int, ...], denom: Tensor | None = None) -> Tensor:
    """Reduce per-sample losses that are already 0 where ``keep`` is False.

    ``mean`` divides by the number of kept samples, or by ``denom`` when a weighted mean
    is wanted. An empty denominator gives 0 (with zero gradient) rather than torch's NaN,
    so that a batch whose targets are all ignore_index does not poison training.
    """
    if reduction == "none":
        return loss.reshape(shape).to(out_dtype)
    total = loss.sum()
    if reduction == "sum":
        return total.to(out_dtype)
    if denom is None:
        denom = keep.sum().to(loss.dtype)
    return (total / denom.clamp_min(torch.finfo(loss.dtype).tiny)).to(out_dtype)


def _buffer_like(buf: Tensor, x: Tensor) -> Tensor:
    # A no-op when the module was moved with the data; a copy only if the user forgot.
    return buf.to(device=x.device, dtype=x.dtype)


class _CountsModule(nn.Module):
    """Keeps float64 statistics float64 across ``.half()``, ``.to(dtype)`` and friends.

    ``criterion.half()`` would otherwise turn a count of 70000 into inf. Device moves
    still apply; forward casts the buffers to the compute dtype of the input anyway.
    """

    _keep_dtype: tuple[str, ...] = ()

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> nn.Module:
        saved = {k: self._buffers[k] for k in self._keep_dtype if self._buffers.get(k) is not None}
        super()._apply(fn, recurse)
        for k, old in saved.items():
            moved = self._buffers[k]
            if moved is not None and moved.dtype != old.dtype:
                self._buffers[k] = old.to(device=moved.device)
        return self


def _as_buffer(arr: np.ndarray, like: Any, dtype: torch.dtype = torch.float64) -> Tensor:
    return torch.as_tensor(arr, dtype=dtype, device=_device_of(like))


def _weighted_ce(logits: Tensor, target: Tensor, offset: Tensor | None, class_weight: Tensor | None,
                 reduction: str, ignore_index: int, num_classes: int | None,
                 weighted_mean: bool, scale: float = 1.0,
                 margins: Tensor | None = None) -> Tensor:
    """Cross-entropy on ``scale * (z + offset - margin_y e_y)`` with per-class weights.

    ``weighted_mean`` selects torch's convention (sum w_i l_i / sum w_i) against the
    per-sample mean used by Cui et al. (sum w_i l_i / N).
    """
    x, t, shape = _flatten_logits(logits, target, num_classes, ignore_index)
    cd = _compute_dtype(x)
    x = x.to(cd)
    keep = t != ignore_index
    t_safe = torch.where(keep, t, torch.zeros_like(t))
    if offset is not None:
        x = x + _buffer_like(offset, x)
    if margins is not None:
        # s * (z - m_y e_y) as one scaled copy (fresh even for s = 1, never the caller's
        # tensor) plus an in-place update of the target column; the multiply's backward
        # does not need its output, so the in-place update is autograd-safe.
        m = _buffer_like(margins, x)[t_safe] * (-scale)
        x = x * scale
        x.scatter_add_(1, t_safe.unsqueeze(1), m.unsqueeze(1))
    elif scale != 1.0:
        x = x * scale
    # cross_entropy is fused and ignores ignore_index itself; out-of-range ids were caught
    # above on the CPU and by its device-side assertion elsewhere.
    loss = F.cross_entropy(x, t, reduction="none", ignore_index=ignore_index)
    denom = None
    if class_weight is not None:
        w = _buffer_like(class_weight, x)[t_safe] * keep.to(cd)
        loss = loss * w
        if weighted_mean:
            denom = w.sum()
    return _reduce(loss, keep, reduction, logits.dtype, shape, denom)


def _one_hot(t: Tensor, num_classes: int, dtype: torch.dtype) -> Tensor:
    """(M,) ids in [0, num_classes) -> (M, num_classes) one-hot in ``dtype``.

    ``F.one_hot`` checks the id range on the host, a device-to-host sync on a GPU; ids
    are range-checked on the CPU before they get here.
    """
    out = torch.zeros(t.shape[0], num_classes, dtype=dtype, device=t.device)
    return out.scatter_(1, t.unsqueeze(1), 1.0)
