"""Re-weighting losses: class-balanced (effective number) weights, DRW, focal loss.

Cui et al. 2019 (class-balanced loss), Cao et al. 2019 (deferred re-weighting),
Lin et al. 2017 (focal loss).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from longtail._checks import check_positive_int
from longtail.losses._checks import (
    ArrayLike,
    _alpha_arg,
    _check_beta,
    _check_float,
    _check_reduction,
    _compute_dtype,
    _counts_array,
    _device_of,
    _flatten_logits,
)
from longtail.losses._common import (
    _as_buffer,
    _buffer_like,
    _CountsModule,
    _reduce,
    _weighted_ce,
)

__all__ = [
    "class_balanced_weights",
    "deferred_reweighting",
    "ClassBalancedLoss",
    "class_balanced_loss",
    "FocalLoss",
    "focal_loss",
]

_CB_TYPES = ("softmax", "sigmoid", "focal")


def _cb_weights_np(arr: np.ndarray, beta: float) -> np.ndarray:
    eps = 1.0 - beta
    present = arr > 0
    n = np.where(present, arr, 1.0)
    # 1 - beta**n computed as -expm1(n log beta) keeps the beta -> 1 limit (1/n) exact
    # instead of cancelling to 0/0 in floating point.
    with np.errstate(divide="ignore"):
        eff = -np.expm1(n * np.log1p(-eps)) if beta > 0 else np.ones_like(n)
    w = np.where(present, eps / eff if beta > 0 else 1.0, 0.0)
    return w / w.sum() * arr.size


def class_balanced_weights(counts: ArrayLike, beta: float = 0.9999, *,
                           dtype: torch.dtype = torch.float32) -> Tensor:
    """Per-class weights from the effective number of samples (Cui et al. 2019).

    ``w_j = (1 - beta) / (1 - beta**n_j)``, normalised so that the weights sum to the
    number of classes C. ``beta = 0`` gives uniform weights, ``beta -> 1`` inverse
    frequency. A class with count 0 has effective number 0 (an infinite weight); it gets
    weight **0** instead, because no sample of it can appear in a batch drawn from these
    counts, and an infinite weight would swamp the normalisation. The remaining weights
    still sum to C.

    Cui, Jia, Lin, Song, Belongie, "Class-Balanced Loss Based on Effective Number of
    Samples", CVPR 2019.

    Parameters
    ----------
    counts : array_like or torch.Tensor
        Training examples per class, shape (C,): finite, ``>= 0``, at least one positive.
    beta : float, default 0.9999
        In ``[0, 1)``; 0 gives uniform weights.
    dtype : torch.dtype, default torch.float32
        Dtype of the result (float32 so it can be passed to ``nn.CrossEntropyLoss``).

    Returns
    -------
    torch.Tensor
        A ``(C,)`` tensor on the device of ``counts`` (CPU for lists and arrays).

    Raises
    ------
    TypeError
        If ``beta`` is not a real number.
    ValueError
        If ``beta`` is not in ``[0, 1)``, or ``counts`` is not a finite 1-D array of
        non-negative values with a positive entry.

    Examples
    --------
    >>> class_balanced_weights([100, 10, 1], beta=0.0)
    tensor([1., 1., 1.])
    >>> class_balanced_weights([100, 10, 0], beta=0.9)
    tensor([1.1833, 1.8167, 0.0000])
    """
    arr = _counts_array(counts)
    w = _cb_weights_np(arr, _check_beta(beta))
    return torch.as_tensor(w, dtype=dtype, device=_device_of(counts))


def deferred_reweighting(counts: ArrayLike, epoch: int, *, start_epoch: int,
                         beta: float = 0.9999) -> Tensor:
    """Per-class weights for deferred re-weighting (DRW, Cao et al. 2019).

    Returns **uniform weights** (a tensor of ones) for ``epoch < start_epoch`` and
    :func:`class_balanced_weights` ``(counts, beta)`` from ``start_epoch`` on, as in the
    LDAM-DRW code (which uses beta = 0, i.e. ones, before the switch). It always returns a
    tensor, never None, so it can be assigned every epoch to ``LDAMLoss.weight`` (or given
    as ``weight=`` to :class:`LDAMLoss` / ``nn.CrossEntropyLoss``); the result lies on the
    device of ``counts``, so passing the loss's own ``counts`` buffer keeps it there.

    Cao, Wei, Gaidon, Arechiga, Ma, "Learning Imbalanced Datasets with Label-Distribution-
    Aware Margin Loss", NeurIPS 2019.

    Parameters
    ----------
    counts : array_like or torch.Tensor
        Training examples per class, shape (C,): finite, ``>= 0``, at least one positive.
    epoch : int
        The current epoch, ``>= 0``.
    start_epoch : int
        First epoch of the re-weighting, ``>= 0``.
    beta : float, default 0.9999
        In ``[0, 1)``, as in :func:`class_balanced_weights`.

    Returns
    -------
    torch.Tensor
        A float32 ``(C,)`` tensor on the device of ``counts``: ones before ``start_epoch``,
        the class-balanced weights from then on.

    Raises
    ------
    TypeError
        If ``epoch`` or ``start_epoch`` is not an integer, or ``beta`` is not a real number.
    ValueError
        If ``epoch`` or ``start_epoch`` is negative, ``beta`` is not in ``[0, 1)``, or
        ``counts`` is not a finite 1-D array of non-negative values with a positive entry.

    Examples
    --------
    >>> deferred_reweighting([100, 10], 0, start_epoch=2)
    tensor([1., 1.])
    >>> deferred_reweighting([100, 10], 2, start_epoch=2, beta=0.99)
    tensor([0.2621, 1.7379])
    >>> from longtail.losses import LDAMLoss
    >>> criterion = LDAMLoss([100, 10])
    >>> criterion.weight = deferred_reweighting(criterion.counts, 5, start_epoch=2)
    """
    epoch = check_positive_int(epoch, "epoch", minimum=0)
    start_epoch = check_positive_int(start_epoch, "start_epoch", minimum=0)
    arr = _counts_array(counts)
    beta = _check_beta(beta)
    w = _cb_weights_np(arr, beta) if epoch >= start_epoch else np.ones_like(arr)
    return torch.as_tensor(w, dtype=torch.float32, device=_device_of(counts))


def _sigmoid_cb(logits: Tensor, target: Tensor, class_weight: Tensor, gamma: float | None,
                reduction: str, ignore_index: int, num_classes: int | None) -> Tensor:
    """Class-balanced sigmoid / sigmoid-focal loss, summed over classes per sample."""
    x, t, shape = _flatten_logits(logits, target, num_classes, ignore_index)
    cd = _compute_dtype(x)
    x = x.to(cd)
    keep = t != ignore_index
    t_safe = torch.where(keep, t, torch.zeros_like(t))
    # u = z for the target class and -z for the others, so that p_t = sigmoid(u),
    # BCE = -logsigmoid(u) and log(1 - p_t) = logsigmoid(-u) = logsigmoid(u) - u.
    idx = t_safe.unsqueeze(1)
    u = -x
    u.scatter_(1, idx, x.gather(1, idx))
    log_pt = F.logsigmoid(u)
    bce = -log_pt
    if gamma is not None and gamma != 0.0:
        # (1 - p_t)**gamma = exp(gamma * log(1 - p_t)), as in Cui et al.'s code: stable for
        # large |z| and free of the 0**gamma gradient trouble.
        bce = bce * torch.exp(gamma * (log_pt - u))
    w = _buffer_like(class_weight, x)[t_safe] * keep.to(cd)
    loss = bce.sum(1) * w
    return _reduce(loss, keep, reduction, logits.dtype, shape)


def _focal(logits: Tensor, target: Tensor, gamma: float, alpha: float | Tensor | None,
           reduction: str, ignore_index: int) -> Tensor:
    num_classes = alpha.shape[0] if isinstance(alpha, Tensor) else None
    x, t, shape = _flatten_logits(logits, target, num_classes, ignore_index)
    cd = _compute_dtype(x)
    x = x.to(cd)
    keep = t != ignore_index
    t_safe = torch.where(keep, t, torch.zeros_like(t))
    # the fused cross_entropy gives -log p_y without materialising a gather's gradient
    loss = F.cross_entropy(x, t, reduction="none", ignore_index=ignore_index)
    logp = -loss
    if gamma != 0.0:
        # 1 - p via expm1 keeps precision for confident samples; clamping away from 0 keeps
        # the gradient of (1 - p)**gamma finite when gamma < 1.
        one_minus_p = (-torch.expm1(logp)).clamp_min(torch.finfo(cd).tiny)
        loss = loss * one_minus_p.pow(gamma)
    if isinstance(alpha, Tensor):
        loss = loss * _buffer_like(alpha, x)[t_safe]
    elif alpha is not None:
        loss = loss * alpha
    loss = loss * keep.to(cd)
    return _reduce(loss, keep, reduction, logits.dtype, shape)


# --------------------------------------------------------------------------------------
# Class-balanced loss (Cui et al. 2019)
# --------------------------------------------------------------------------------------


def class_balanced_loss(logits: Tensor, target: Tensor, counts: ArrayLike, *,
                        beta: float = 0.9999, loss_type: str = "softmax", gamma: float = 1.0,
                        reduction: str = "mean", ignore_index: int = -100) -> Tensor:
    """Functional form of :class:`ClassBalancedLoss` (Cui et al. 2019).

    Parameters
    ----------
    logits : torch.Tensor
        Floating point logits, (N, C) or (N, C, d1, ...).
    target : torch.Tensor
        Integer class ids, (N,) or (N, d1, ...).
    counts : array_like or torch.Tensor
        Training examples per class, shape (C,): finite, ``>= 0``, at least one positive.
    beta, loss_type, gamma, reduction, ignore_index
        As in :class:`ClassBalancedLoss`.

    Returns
    -------
    torch.Tensor
        The loss, in the dtype of ``logits``: a scalar, or per sample for
        ``reduction="none"``.

    Raises
    ------
    TypeError
        As :class:`ClassBalancedLoss` for its arguments; if ``logits`` is not a floating
        point tensor or ``target`` does not hold integer class ids.
    ValueError
        As :class:`ClassBalancedLoss` for its arguments; if the shapes of ``logits`` and
        ``target`` do not match, or a CPU ``target`` holds a class id out of range.

    Examples
    --------
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> class_balanced_loss(logits, torch.tensor([0, 1]), [10, 1], beta=0.0)
    tensor(0.1269)
    """
    crit = ClassBalancedLoss(counts, beta=beta, loss_type=loss_type, gamma=gamma,
                             reduction=reduction, ignore_index=ignore_index)
    return crit(logits, target)


class ClassBalancedLoss(_CountsModule):
    """Loss re-weighted by the inverse effective number of samples (Cui et al. 2019).

    Sample i of class y gets weight ``w_y`` from :func:`class_balanced_weights`:

    - ``"softmax"``: ``w_y * CE(z, y)``;
    - ``"sigmoid"``: ``w_y * sum_j BCE(z_j, [j == y])`` (one-vs-all sigmoid);
    - ``"focal"``: ``w_y * sum_j (1 - p_j^t)**gamma BCE(z_j, [j == y])``, the sigmoid focal
      loss of Lin et al. 2017 as used in the paper.

    ``reduction="mean"`` divides by the number of (non-ignored) samples, not by the sum of
    weights, as in the paper's code; because the weights sum to C the loss keeps the scale
    of the unweighted loss. A class with count 0 has weight 0.

    Cui, Jia, Lin, Song, Belongie, "Class-Balanced Loss Based on Effective Number of
    Samples", CVPR 2019.

    Parameters
    ----------
    counts : array_like or torch.Tensor
        Training examples per class, shape (C,): finite, ``>= 0``, at least one positive.
    beta : float, default 0.9999
        In ``[0, 1)``; 0 is the plain loss, ``-> 1`` inverse-frequency weighting.
    loss_type : {"softmax", "sigmoid", "focal"}, default "softmax"
        The loss that is re-weighted.
    gamma : float, default 1.0
        Focusing parameter of ``"focal"`` (ignored otherwise), ``>= 0``.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-sample losses are combined.
    ignore_index : int, default -100
        Target value that contributes nothing (as in ``cross_entropy``).

    Attributes
    ----------
    counts : torch.Tensor
        Buffer of the class counts (float64).
    weights : torch.Tensor
        Buffer of the per-class weights (float64), summing to C.

    Raises
    ------
    TypeError
        If ``beta`` or ``gamma`` is not a real number. When called: if ``logits`` is not a
        floating point tensor or ``target`` does not hold integer class ids.
    ValueError
        If ``counts`` is not a finite 1-D array of non-negative values with a positive
        entry, ``beta`` is not in ``[0, 1)``, ``loss_type`` is unknown, ``gamma`` is
        negative or not finite, or ``reduction`` is unknown. When called: if the shapes of
        ``logits`` and ``target`` do not match, the number of classes differs from the
        construction's, or a CPU ``target`` holds a class id out of range.

    Examples
    --------
    >>> crit = ClassBalancedLoss([100, 10, 1], beta=0.99)
    >>> crit.weights
    tensor([0.0422, 0.2800, 2.6777], dtype=torch.float64)
    >>> logits = torch.zeros(2, 3, requires_grad=True)
    >>> loss = crit(logits, torch.tensor([0, 2]))
    >>> loss.backward()
    >>> round(loss.item(), 4)
    1.4941
    """

    _keep_dtype = ("counts", "weights")
    counts: Tensor
    weights: Tensor

    def __init__(self, counts: ArrayLike, *, beta: float = 0.9999, loss_type: str = "softmax",
                 gamma: float = 1.0, reduction: str = "mean", ignore_index: int = -100) -> None:
        super().__init__()
        arr = _counts_array(counts)
        self.beta = _check_beta(beta)
        if loss_type not in _CB_TYPES:
            raise ValueError(f"loss_type: expected one of {_CB_TYPES}, got {loss_type!r}")
        self.loss_type = loss_type
        self.gamma = _check_float(gamma, "gamma", low=0.0)
        self.reduction = _check_reduction(reduction)
        self.ignore_index = int(ignore_index)
        self.register_buffer("counts", _as_buffer(arr, counts))
        self.register_buffer("weights", _as_buffer(_cb_weights_np(arr, self.beta), counts))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of ``logits`` (N, C[, ...]) against integer ``target`` (N[, ...])."""
        c = self.weights.shape[0]
        if self.loss_type == "softmax":
            return _weighted_ce(logits, target, None, self.weights, self.reduction,
                                self.ignore_index, c, weighted_mean=False)
        gamma = self.gamma if self.loss_type == "focal" else None
        return _sigmoid_cb(logits, target, self.weights, gamma, self.reduction,
                           self.ignore_index, c)

    def extra_repr(self) -> str:
        return f"num_classes={self.weights.shape[0]}, beta={self.beta}, " \
               f"loss_type={self.loss_type!r}, gamma={self.gamma}"


# --------------------------------------------------------------------------------------
# Focal loss (Lin et al. 2017)
# --------------------------------------------------------------------------------------


def focal_loss(logits: Tensor, target: Tensor, *, gamma: float = 2.0,
               alpha: float | ArrayLike | None = None, reduction: str = "mean",
               ignore_index: int = -100) -> Tensor:
    """Functional form of :class:`FocalLoss` (Lin et al. 2017).

    Parameters
    ----------
    logits : torch.Tensor
        Floating point logits, (N, C) or (N, C, d1, ...).
    target : torch.Tensor
        Integer class ids, (N,) or (N, d1, ...).
    gamma, alpha, reduction, ignore_index
        As in :class:`FocalLoss`.

    Returns
    -------
    torch.Tensor
        The loss, in the dtype of ``logits``: a scalar, or per sample for
        ``reduction="none"``.

    Raises
    ------
    TypeError
        As :class:`FocalLoss` for its arguments; if ``logits`` is not a floating point
        tensor or ``target`` does not hold integer class ids.
    ValueError
        As :class:`FocalLoss` for its arguments; if the shapes of ``logits`` and ``target``
        do not match, or a CPU ``target`` holds a class id out of range.

    Examples
    --------
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> focal_loss(logits, torch.tensor([0, 0]), gamma=0.0)  # gamma = 0 is cross-entropy
    tensor(1.1269)
    """
    return FocalLoss(gamma=gamma, alpha=alpha, reduction=reduction,
                     ignore_index=ignore_index)(logits, target)


class FocalLoss(_CountsModule):
    """Softmax focal loss ``-alpha_y (1 - p_y)**gamma log p_y`` (Lin et al. 2017).

    Down-weights well-classified samples so that the many easy (head-class) examples do
    not dominate the gradient. ``gamma = 0`` and ``alpha = None`` is exactly
    cross-entropy. ``alpha`` is None, a float (scales every class alike, the binary
    paper's alpha has no multi-class analogue) or a per-class sequence of weights (e.g.
    :func:`class_balanced_weights`). ``reduction="mean"`` divides by the number of
    non-ignored samples. Unlike the LDAM-DRW code's focal loss, ``p_y`` is the model's
    probability even when per-class weights are given (that code took ``exp(-w * CE)``).

    Lin, Goyal, Girshick, He, Dollar, "Focal Loss for Dense Object Detection", ICCV 2017.

    Parameters
    ----------
    gamma : float, default 2.0
        Focusing parameter, ``>= 0``.
    alpha : float or array_like, optional
        None, one scale for every class, or per-class weights (length C, ``>= 0``).
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-sample losses are combined.
    ignore_index : int, default -100
        Target value that contributes nothing (as in ``cross_entropy``).

    Raises
    ------
    TypeError
        If ``gamma`` is not a real number. When called: if ``logits`` is not a floating
        point tensor or ``target`` does not hold integer class ids.
    ValueError
        If ``gamma`` is negative or not finite, ``alpha`` has a negative entry, or
        ``reduction`` is unknown. When called: if the shapes of ``logits`` and ``target`` do
        not match, the number of classes differs from the construction's, or a CPU
        ``target`` holds a class id out of range.

    Examples
    --------
    >>> crit = FocalLoss(gamma=2.0)
    >>> logits = torch.tensor([[3.0, 0.0], [0.0, 0.5]])
    >>> crit(logits, torch.tensor([0, 0]))
    tensor(0.1888)
    """

    _keep_dtype = ("alpha",)

    def __init__(self, *, gamma: float = 2.0, alpha: float | ArrayLike | None = None,
                 reduction: str = "mean", ignore_index: int = -100) -> None:
        super().__init__()
        self.gamma = _check_float(gamma, "gamma", low=0.0)
        a = _alpha_arg(alpha)
        self.reduction = _check_reduction(reduction)
        self.ignore_index = int(ignore_index)
        self.alpha_scalar: float | None = a if isinstance(a, float) else None
        self.register_buffer("alpha", _as_buffer(a, alpha) if isinstance(a, np.ndarray) else None)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of ``logits`` (N, C[, ...]) against integer ``target`` (N[, ...])."""
        alpha = self.alpha if self.alpha is not None else self.alpha_scalar
        return _focal(logits, target, self.gamma, alpha, self.reduction, self.ignore_index)

    def extra_repr(self) -> str:
        a = self.alpha_scalar if self.alpha is None else "per-class"
        return f"gamma={self.gamma}, alpha={a}"
