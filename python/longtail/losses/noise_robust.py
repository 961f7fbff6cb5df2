"""Noise-robust losses: generalized cross-entropy (Zhang & Sabuncu 2018).

For long-tailed data whose labels are also noisy, where re-weighting alone would
amplify the mislabelled samples of the tail.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from longtail.losses._checks import (
    _check_float,
    _check_reduction,
    _compute_dtype,
    _flatten_logits,
)
from longtail.losses._common import _reduce

__all__ = ["GCELoss", "gce_loss"]


def _check_q(q: Any) -> float:
    return _check_float(q, "q", low=0.0, high=1.0, low_open=True)


def gce_loss(logits: Tensor, target: Any, *, q: float = 0.7, reduction: str = "mean",
             ignore_index: int = -100) -> Tensor:
    """Functional form of :class:`GCELoss` (Zhang & Sabuncu 2018).

    Parameters
    ----------
    logits : torch.Tensor
        Floating point logits, (N, C) or (N, C, d1, ...).
    target : torch.Tensor
        Integer class ids, (N,) or (N, d1, ...).
    q, reduction, ignore_index
        As in :class:`GCELoss`.

    Returns
    -------
    torch.Tensor
        The loss, in the dtype of ``logits``: a scalar, or per sample for
        ``reduction="none"``.

    Raises
    ------
    TypeError
        As :class:`GCELoss` for its arguments; if ``logits`` is not a floating point tensor
        or ``target`` does not hold integer class ids.
    ValueError
        As :class:`GCELoss` for its arguments; if the shapes of ``logits`` and ``target`` do
        not match, or a CPU ``target`` holds a class id out of range.

    Examples
    --------
    >>> gce_loss(torch.zeros(1, 2), torch.tensor([0]), q=1.0)  # 1 - p_y
    tensor(0.5000)
    """
    return GCELoss(q, reduction=reduction, ignore_index=ignore_index)(logits, target)


class GCELoss(nn.Module):
    """Generalized cross-entropy ``L_q = (1 - p_y**q) / q`` (Zhang & Sabuncu 2018).

    ``p_y`` is the softmax probability of the labelled class. ``q -> 0`` is cross-entropy
    (``-log p_y``), ``q = 1`` is the mean absolute error ``1 - p_y`` (robust to label
    noise but slow to train); the paper's q = 0.7 trades the two. Computed as
    ``-expm1(q log p_y) / q`` from the fused log-softmax, so small q keeps its precision.
    (The paper's truncated variant is not included.)

    Zhang, Sabuncu, "Generalized Cross Entropy Loss for Training Deep Neural Networks with
    Noisy Labels", NeurIPS 2018.

    Parameters
    ----------
    q : float, default 0.7
        In ``(0, 1]``.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-sample losses are combined.
    ignore_index : int, default -100
        Target value that contributes nothing (as in ``cross_entropy``).

    Raises
    ------
    TypeError
        If ``q`` is not a real number. When called: if ``logits`` is not a floating point
        tensor or ``target`` does not hold integer class ids.
    ValueError
        If ``q`` is not in ``(0, 1]`` or ``reduction`` is unknown. When called: if the
        shapes of ``logits`` and ``target`` do not match, or a CPU ``target`` holds a class
        id out of range.

    Examples
    --------
    >>> crit = GCELoss(q=0.7)
    >>> crit(torch.tensor([[2.0, 0.0], [0.0, 0.0]]), torch.tensor([0, 1]))
    tensor(0.3353)
    """

    def __init__(self, q: float = 0.7, *, reduction: str = "mean",
                 ignore_index: int = -100) -> None:
        super().__init__()
        self.q = _check_q(q)
        self.reduction = _check_reduction(reduction)
        self.ignore_index = int(ignore_index)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of ``logits`` (N, C[, ...]) against integer ``target`` (N[, ...])."""
        x, t, shape = _flatten_logits(logits, target, None, self.ignore_index)
        x = x.to(_compute_dtype(x))
        keep = t != self.ignore_index
        # cross_entropy is -log p_y (0 where ignored, which makes the loss 0 there too)
        log_py = -F.cross_entropy(x, t, reduction="none", ignore_index=self.ignore_index)
        loss = -torch.expm1(self.q * log_py) / self.q
        return _reduce(loss, keep, self.reduction, logits.dtype, shape)

    def extra_repr(self) -> str:
        return f"q={self.q}"
