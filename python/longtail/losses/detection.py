"""Detection-head losses for long-tailed vocabularies (LVIS): Seesaw and EQLv2.

Both keep running statistics of the training stream as buffers, updated on the device
without a host round trip: Seesaw the cumulative number of samples per class (Wang et
al. 2021), EQLv2 the accumulated positive and negative gradient magnitudes per class
(Tan et al. 2021).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from longtail.losses._checks import (
    ArrayLike,
    _check_float,
    _check_num_classes,
    _check_reduction,
    _compute_dtype,
    _counts_array,
    _flatten_logits,
)
from longtail.losses._common import (
    _as_buffer,
    _buffer_like,
    _CountsModule,
    _one_hot,
    _reduce,
)

__all__ = ["SeesawLoss", "seesaw_loss", "EQLv2Loss", "eqlv2_loss"]


# --------------------------------------------------------------------------------------
# Seesaw loss (Wang et al. 2021)
# --------------------------------------------------------------------------------------


def _seesaw(logits: Tensor, target: Tensor, cum: Tensor | None, p: float, q: float,
            eps: float, reduction: str, ignore_index: int, num_classes: int,
            update: bool) -> Tensor:
    x, t, shape = _flatten_logits(logits, target, num_classes, ignore_index,
                                  what="num_classes")
    cd = _compute_dtype(x)
    x = x.to(cd)
    keep = t != ignore_index
    t_safe = torch.where(keep, t, torch.zeros_like(t))
    if update and cum is not None:
        # counts include the current batch, as in mmdet (accumulated before the factors)
        cum.index_add_(0, t_safe, keep.to(cum.dtype))
    log_s = torch.zeros_like(x)
    if p > 0 and cum is not None:
        # mitigation M_ij = (N_j / N_i)**p where N_j < N_i, else 1 (counts floored at 1)
        log_n = _buffer_like(cum, x).clamp_min(1.0).log()
        log_ratio = log_n.unsqueeze(0) - log_n[t_safe].unsqueeze(1)
        log_s = log_s + p * log_ratio.clamp_max(0.0)
    if q > 0:
        # compensation C_ij = (s_j / s_i)**q where s_j > s_i, on detached softmax scores
        # with s_i floored at eps
        with torch.no_grad():
            logp = F.log_softmax(x.detach(), dim=1)
            log_self = logp.gather(1, t_safe.unsqueeze(1)).clamp_min(float(np.log(eps)))
            log_s = log_s + q * (logp - log_self).clamp_min(0.0)
    # the target column is not re-weighted: z_j + log S_ij for j != y_i only
    log_s = log_s.scatter(1, t_safe.unsqueeze(1), 0.0)
    loss = F.cross_entropy(x + log_s, t, reduction="none", ignore_index=ignore_index)
    return _reduce(loss, keep, reduction, logits.dtype, shape)


def seesaw_loss(logits: Tensor, target: Any, counts: ArrayLike, *, p: float = 0.8,
                q: float = 2.0, eps: float = 1e-2, reduction: str = "mean",
                ignore_index: int = -100) -> Tensor:
    """Functional form of :class:`SeesawLoss` (Wang et al. 2021) with fixed ``counts``.

    ``counts`` are the cumulative samples per class seen so far (the module's
    ``cum_samples``); they are not updated here.

    Parameters
    ----------
    logits : torch.Tensor
        Floating point logits, (N, C).
    target : torch.Tensor
        Integer class ids, (N,).
    counts : array_like or torch.Tensor
        Cumulative samples per class, (C,), ``>= 0``.
    p, q, eps, reduction, ignore_index
        As in :class:`SeesawLoss`.

    Returns
    -------
    torch.Tensor
        The loss, in the dtype of ``logits``: a scalar, or per sample for
        ``reduction="none"``.

    Raises
    ------
    TypeError
        If ``p``, ``q`` or ``eps`` is not a real number. When called: if ``logits`` is not a
        floating point tensor or ``target`` does not hold integer class ids.
    ValueError
        If ``p`` or ``q`` is negative, ``eps`` is not > 0, ``reduction`` is unknown, or
        ``counts`` is not a finite 1-D array of non-negative values. When called: if
        ``logits`` is not (N, C) with C = ``len(counts)``, ``target`` is not (N,), or a CPU
        ``target`` holds a class id out of range.

    Examples
    --------
    >>> seesaw_loss(torch.zeros(1, 2), torch.tensor([0]), [4, 1], q=0.0)  # log(1 + 4**-0.8)
    tensor(0.2851)
    """
    p = _check_float(p, "p", low=0.0)
    q = _check_float(q, "q", low=0.0)
    eps = _check_float(eps, "eps", low=0.0, low_open=True)
    reduction = _check_reduction(reduction)
    arr = _counts_array(counts, need_positive=False)
    cum = torch.as_tensor(arr, dtype=torch.float64, device=logits.device) \
        if isinstance(logits, Tensor) else None
    return _seesaw(logits, target, cum, p, q, eps, reduction, int(ignore_index), arr.size,
                   update=False)


class SeesawLoss(_CountsModule):
    """Seesaw loss for long-tailed instance segmentation (Wang et al. 2021).

    Softmax cross-entropy in which the logit of every non-target class ``j`` of a sample
    of class ``i`` is shifted by ``log S_ij``:

    ``L = -log( e^{z_i} / (e^{z_i} + sum_{j != i} S_ij e^{z_j}) )``, ``S_ij = M_ij C_ij``,

    - mitigation ``M_ij = (N_j / N_i)**p`` if ``N_j < N_i``, else 1, with ``N`` the
      cumulative number of training samples per class, counted online (the buffer
      ``cum_samples``, updated with each batch in training mode before the loss is
      computed, counts floored at 1): a tail class is no longer punished by the many
      samples of a head class;
    - compensation ``C_ij = (s_j / s_i)**q`` if ``s_j > s_i``, else 1, with ``s`` the
      softmax scores (no gradient through them, ``s_i`` floored at ``eps``): the penalty
      comes back when the tail class j is wrongly scored above i.

    This is the classification form of mmdetection's ``seesaw_ce_loss`` (softmax over C
    class logits, no objectness branch). ``p = q = 0`` is cross-entropy. ``reduction="mean"``
    averages over non-ignored samples; samples with ``ignore_index`` are not counted.
    Under DDP each rank counts the samples it sees, as in mmdetection (DDP's default
    ``broadcast_buffers=True`` then gives every rank the counts of rank 0).

    Wang, Zhang, Zang, Cao, Pang, Gong, Chen, Liu, Loy, Lin, "Seesaw Loss for Long-Tailed
    Instance Segmentation", CVPR 2021.

    Parameters
    ----------
    num_classes : int
        Number of classes C, ``>= 1``.
    p : float, default 0.8
        Mitigation exponent, ``>= 0``.
    q : float, default 2.0
        Compensation exponent, ``>= 0``.
    eps : float, default 0.01
        Floor of the target-class score in the compensation factor, ``> 0``.
    counts : array_like or torch.Tensor, optional
        Initial cumulative counts (e.g. of the training set), length C.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-sample losses are combined.
    ignore_index : int, default -100
        Target value that contributes nothing (as in ``cross_entropy``).

    Attributes
    ----------
    cum_samples : torch.Tensor
        Buffer of the cumulative samples per class (float64), updated in training mode.

    Raises
    ------
    TypeError
        If ``p``, ``q`` or ``eps`` is not a real number. When called: if ``logits`` is not a
        floating point tensor or ``target`` does not hold integer class ids.
    ValueError
        If ``num_classes`` is not an integer >= 1, ``p`` or ``q`` is negative, ``eps`` is
        not > 0, ``reduction`` is unknown, or ``counts`` does not have ``num_classes``
        finite non-negative entries. When called: if ``logits`` is not (N, C), ``target`` is
        not (N,), or a CPU ``target`` holds a class id out of range.

    Examples
    --------
    >>> crit = SeesawLoss(3)
    >>> logits = torch.zeros(4, 3, requires_grad=True)
    >>> crit(logits, torch.tensor([0, 0, 0, 2])).backward()
    >>> crit.cum_samples
    tensor([3., 0., 1.], dtype=torch.float64)
    """

    _keep_dtype = ("cum_samples",)
    cum_samples: Tensor

    def __init__(self, num_classes: int, p: float = 0.8, q: float = 2.0, *, eps: float = 1e-2,
                 counts: ArrayLike | None = None, reduction: str = "mean",
                 ignore_index: int = -100) -> None:
        super().__init__()
        c = _check_num_classes(num_classes)
        self.p = _check_float(p, "p", low=0.0)
        self.q = _check_float(q, "q", low=0.0)
        self.eps = _check_float(eps, "eps", low=0.0, low_open=True)
        self.reduction = _check_reduction(reduction)
        self.ignore_index = int(ignore_index)
        if counts is None:
            init = np.zeros(c)
        else:
            init = _counts_array(counts, need_positive=False)
            if init.size != c:
                raise ValueError(f"counts: expected {c} entries (num_classes), got {init.size}")
        self.register_buffer("cum_samples", _as_buffer(init, counts))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of ``logits`` (N, C) against integer ``target`` (N,)."""
        return _seesaw(logits, target, self.cum_samples, self.p, self.q, self.eps,
                       self.reduction, self.ignore_index, self.cum_samples.shape[0],
                       update=self.training)

    def extra_repr(self) -> str:
        return f"num_classes={self.cum_samples.shape[0]}, p={self.p}, q={self.q}"


# --------------------------------------------------------------------------------------
# Equalization loss v2 (Tan et al. 2021)
# --------------------------------------------------------------------------------------


def _eqlv2_weights(pos_neg: Tensor, gamma: float, mu: float,
                   alpha: float) -> tuple[Tensor, Tensor]:
    # f(g) = 1 / (1 + exp(-gamma (g - mu))); negatives get f, positives 1 + alpha (1 - f)
    neg_w = torch.sigmoid(gamma * (pos_neg - mu))
    return 1 + alpha * (1 - neg_w), neg_w


class _CollectGrad(torch.autograd.Function):
    """Identity on the logits whose backward adds the batch's gradient statistics.

    The statistics are those of the authors' code: per element ``|sigma(z) - y| w``, the
    magnitude of the gradient of the summed, weighted BCE with respect to the logit,
    summed over the batch for positives and negatives of each class. They are added when
    the loss is back-propagated (a forward without backward, e.g. a validation loss, leaves
    them alone) and do not depend on the reduction, a loss weight or an AMP loss scale.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor, w: Tensor, owner: Any) -> Tensor:
        ctx.save_for_backward(x, y, w)
        ctx.owner = owner
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        x, y, w = ctx.saved_tensors
        with torch.no_grad():
            g = (torch.sigmoid(x) - y).abs() * w
            pos = (g * y).sum(0)
            neg = (g * (1 - y)).sum(0)
            ctx.owner._accumulate(pos, neg)
        return grad, None, None, None


def eqlv2_loss(logits: Tensor, target: Any, pos_neg: ArrayLike | None = None, *,
               gamma: float = 12.0, mu: float = 0.8, alpha: float = 4.0,
               reduction: str = "mean", ignore_index: int = -100) -> Tensor:
    """Functional form of :class:`EQLv2Loss` (Tan et al. 2021) with fixed gradient ratios.

    ``pos_neg`` is the per-class ratio of accumulated positive to negative gradients (the
    module's ``pos_neg`` buffer); None is the start of training (ratio 100, weights ~1).
    Nothing is accumulated here.

    Parameters
    ----------
    logits : torch.Tensor
        Floating point logits, (N, C).
    target : torch.Tensor
        Integer class ids, (N,); the value C marks a background sample.
    pos_neg : array_like or torch.Tensor, optional
        Per-class ratio of accumulated positive to negative gradients, (C,), ``>= 0``.
    gamma, mu, alpha, reduction, ignore_index
        As in :class:`EQLv2Loss`.

    Returns
    -------
    torch.Tensor
        The loss, in the dtype of ``logits``: a scalar, or per sample for
        ``reduction="none"``.

    Raises
    ------
    TypeError
        As :class:`EQLv2Loss`, for its arguments and for ``logits`` / ``target``.
    ValueError
        If ``pos_neg`` does not have one finite non-negative entry per class; else as
        :class:`EQLv2Loss`, for its arguments and for ``logits`` / ``target``.

    Examples
    --------
    >>> eqlv2_loss(torch.zeros(1, 2), torch.tensor([0]))  # 2 log 2: plain sigmoid BCE
    tensor(1.3863)
    """
    c = logits.shape[1] if isinstance(logits, Tensor) and logits.ndim == 2 else None
    crit = EQLv2Loss(c or 1, gamma=gamma, mu=mu, alpha=alpha, reduction=reduction,
                     ignore_index=ignore_index)
    if pos_neg is not None:
        if isinstance(pos_neg, Tensor) and pos_neg.device.type != "cpu":
            ratio = pos_neg.to(torch.float64)
        else:
            ratio = torch.as_tensor(_counts_array(pos_neg, "pos_neg", need_positive=False))
        if tuple(ratio.shape) != tuple(crit.pos_neg.shape):
            raise ValueError(f"pos_neg: expected shape {tuple(crit.pos_neg.shape)} (one per "
                             f"class), got {tuple(ratio.shape)}")
        crit.pos_neg = ratio
    if isinstance(logits, Tensor):
        crit.to(logits.device)
    crit.eval()
    return crit(logits, target)


class EQLv2Loss(_CountsModule):
    """Equalization loss v2: gradient-guided re-weighting of a sigmoid head (Tan et al. 2021).

    A sigmoid classifier with one binary task per class (C logits, no background column;
    a target equal to C marks a background sample, negative for every class). Each class
    keeps its accumulated positive and negative gradient magnitudes ``P_j``, ``N_j``
    (buffers ``pos_grad``, ``neg_grad``) and their ratio ``g_j = P_j / (N_j + 1e-10)``
    (``pos_neg``, 100 before the first update, so that training starts unweighted). With
    ``f(g) = 1 / (1 + exp(-gamma (g - mu)))`` the negatives of class j are weighted
    ``q_j = f(g_j)`` and its positives ``r_j = 1 + alpha (1 - q_j)``:

    ``L = 1/N sum_i sum_j w_ij BCE(z_ij, y_ij)``, ``w_ij = r_j y_ij + q_j (1 - y_ij)``.

    The statistics follow the authors' code: after each backward (in training mode),
    ``P_j += sum_i |sigma(z_ij) - y_ij| w_ij y_ij`` and ``N_j`` likewise over negatives,
    all-reduced over ranks when torch.distributed is initialised. They are added in the
    backward pass, so a forward without backward (a validation loss) changes nothing.
    ``reduction="mean"`` divides by the number of non-ignored samples.

    Tan, Li, Li, Yin, Ouyang, Yan, Liu, Qin, "Equalization Loss v2: A New Gradient Balance
    Approach for Long-tailed Object Detection", CVPR 2021.

    Parameters
    ----------
    num_classes : int
        Number of foreground classes C, ``>= 1``.
    gamma : float, default 12.0
        Slope of the mapping f.
    mu : float, default 0.8
        Centre of the mapping f.
    alpha : float, default 4.0
        Extra weight of the positives of rare classes, ``>= 0``.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-sample losses (summed over classes) are combined.
    ignore_index : int, default -100
        Target value that contributes nothing (as in ``cross_entropy``).
    distributed : bool, default True
        All-reduce the statistics when a process group is initialised.

    Attributes
    ----------
    pos_grad : torch.Tensor
        Buffer of the accumulated positive gradients per class.
    neg_grad : torch.Tensor
        Buffer of the accumulated negative gradients per class.
    pos_neg : torch.Tensor
        Buffer of their ratio ``g_j``.

    Raises
    ------
    TypeError
        If ``gamma``, ``mu`` or ``alpha`` is not a real number. When called: if ``logits``
        is not a floating point tensor or ``target`` does not hold integer class ids.
    ValueError
        If ``num_classes`` is not an integer >= 1, ``gamma`` or ``mu`` is not finite,
        ``alpha`` is negative, or ``reduction`` is unknown. When called: if ``logits`` is
        not (N, C), ``target`` is not (N,), or a CPU ``target`` holds a class id outside
        ``[0, C]``.

    Examples
    --------
    >>> crit = EQLv2Loss(3)
    >>> logits = torch.zeros(2, 3, requires_grad=True)
    >>> crit(logits, torch.tensor([0, 3])).backward()  # class 0 and a background sample
    >>> crit.pos_grad.tolist(), crit.neg_grad.tolist()
    ([0.5, 0.0, 0.0], [0.5, 1.0, 1.0])
    """

    _keep_dtype = ("pos_grad", "neg_grad", "pos_neg")
    pos_grad: Tensor
    neg_grad: Tensor
    pos_neg: Tensor

    def __init__(self, num_classes: int, gamma: float = 12.0, mu: float = 0.8,
                 alpha: float = 4.0, *, reduction: str = "mean", ignore_index: int = -100,
                 distributed: bool = True) -> None:
        super().__init__()
        c = _check_num_classes(num_classes)
        self.gamma = _check_float(gamma, "gamma")
        self.mu = _check_float(mu, "mu")
        self.alpha = _check_float(alpha, "alpha", low=0.0)
        self.reduction = _check_reduction(reduction)
        self.ignore_index = int(ignore_index)
        self.distributed = bool(distributed)
        self.register_buffer("pos_grad", torch.zeros(c, dtype=torch.float64))
        self.register_buffer("neg_grad", torch.zeros(c, dtype=torch.float64))
        self.register_buffer("pos_neg", torch.full((c,), 100.0, dtype=torch.float64))

    def _accumulate(self, pos: Tensor, neg: Tensor) -> None:
        pos = pos.to(self.pos_grad.dtype)
        neg = neg.to(self.neg_grad.dtype)
        if self.distributed:
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                dist.all_reduce(pos)
                dist.all_reduce(neg)
        self.pos_grad += pos
        self.neg_grad += neg
        torch.div(self.pos_grad, self.neg_grad + 1e-10, out=self.pos_neg)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of ``logits`` (N, C) against integer ``target`` (N,) in [0, C]."""
        c = self.pos_neg.shape[0]
        x, t, shape = _flatten_logits(logits, target, c, self.ignore_index, max_ndim=2,
                                      background=True, what="num_classes")
        cd = _compute_dtype(x)
        x = x.to(cd)
        keep = t != self.ignore_index
        t_safe = torch.where(keep, t, torch.full_like(t, c))
        # one-hot over C + 1 columns, the background column dropped
        y = _one_hot(t_safe, c + 1, cd)[:, :c]
        pos_w, neg_w = _eqlv2_weights(_buffer_like(self.pos_neg, x), self.gamma, self.mu,
                                      self.alpha)
        w = (pos_w * y + neg_w * (1 - y)) * keep.to(cd).unsqueeze(1)
        if self.training and torch.is_grad_enabled() and x.requires_grad:
            x = _CollectGrad.apply(x, y, w, self)
        loss = (F.binary_cross_entropy_with_logits(x, y, reduction="none") * w).sum(1)
        return _reduce(loss, keep, self.reduction, logits.dtype, shape)

    def extra_repr(self) -> str:
        return f"num_classes={self.pos_neg.shape[0]}, gamma={self.gamma}, mu={self.mu}, " \
               f"alpha={self.alpha}"
