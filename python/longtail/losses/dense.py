"""Dense and multi-label losses: class-balanced BCE, asymmetric loss, Tversky / Dice.

For multi-label heads and per-pixel or per-vertex binary targets (contact maps,
segmentation masks) where positives are rare. Cui et al. 2019 (effective number of
samples), Ridnik et al. 2021 (ASL), Salehi et al. 2017 (Tversky), Abraham & Khan 2019
(focal Tversky).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from longtail.losses._checks import (
    ArrayLike,
    _check_beta,
    _check_float,
    _check_ignore_index,
    _check_reduction,
    _compute_dtype,
    _counts_array,
    _flatten_binary,
    _flatten_logits,
)
from longtail.losses._common import _as_buffer, _buffer_like, _CountsModule, _one_hot
from longtail.losses.reweighting import _cb_weights_np

__all__ = [
    "ClassBalancedBCELoss",
    "class_balanced_bce_loss",
    "AsymmetricLoss",
    "asymmetric_loss",
    "TverskyLoss",
    "tversky_loss",
]

# An ignore_index no integer target can equal: "no ignored elements" for the dense losses.
_NO_IGNORE = -(2**62)


def _reduce_rows(elem: Tensor, keep: Tensor | None, reduction: str, out_dtype: torch.dtype,
                 rows: tuple[int, ...]) -> Tensor:
    """Per-element (M, C) losses -> per-row sums -> mean over rows / sum / (N, d1, ...).

    ``mean`` divides by the number of rows with at least one kept element (all rows
    without ``ignore_index``); no kept element at all gives 0, not NaN.
    """
    if keep is not None:
        elem = elem * keep.to(elem.dtype)
    per_row = elem.sum(1)
    if reduction == "none":
        return per_row.reshape(rows).to(out_dtype)
    total = per_row.sum()
    if reduction == "sum":
        return total.to(out_dtype)
    if keep is None:
        return (total / max(per_row.shape[0], 1)).to(out_dtype)
    n = keep.any(1).sum().to(elem.dtype).clamp_min(1.0)
    return (total / n).to(out_dtype)


# --------------------------------------------------------------------------------------
# Class-balanced binary cross-entropy (Cui et al. 2019)
# --------------------------------------------------------------------------------------


def _cb_bce_weights(pos: np.ndarray, neg: np.ndarray | None,
                    beta: float) -> tuple[np.ndarray, np.ndarray]:
    if neg is None:
        w = _cb_weights_np(pos, beta)
        return w, w
    w = _cb_weights_np(np.concatenate([pos, neg]), beta)
    return w[: pos.size], w[pos.size:]


def class_balanced_bce_loss(logits: Tensor, target: Any, pos_counts: ArrayLike,
                            neg_counts: ArrayLike | None = None, *, beta: float = 0.9999,
                            reduction: str = "mean", ignore_index: int | None = None) -> Tensor:
    """Functional form of :class:`ClassBalancedBCELoss` (Cui et al. 2019).

    Parameters
    ----------
    logits : torch.Tensor
        Floating point logits, (N, C) or (N, C, d1, ...).
    target : torch.Tensor or array_like
        Real 0/1 targets (values in [0, 1]) of the shape of ``logits``.
    pos_counts, neg_counts, beta, reduction, ignore_index
        As in :class:`ClassBalancedBCELoss`.

    Returns
    -------
    torch.Tensor
        The loss, in the dtype of ``logits``: a scalar, or per row (summed over classes),
        shape (N, d1, ...), for ``reduction="none"``.

    Raises
    ------
    TypeError
        As :class:`ClassBalancedBCELoss`, for its arguments and for ``logits`` / ``target``.
    ValueError
        As :class:`ClassBalancedBCELoss`, for its arguments and for ``logits`` / ``target``.

    Examples
    --------
    >>> logits = torch.zeros(2, 2)
    >>> class_balanced_bce_loss(logits, torch.tensor([[1.0, 0.0], [0.0, 0.0]]), [9, 1],
    ...                         beta=0.0)
    tensor(1.3863)
    """
    return ClassBalancedBCELoss(pos_counts, neg_counts, beta=beta, reduction=reduction,
                                ignore_index=ignore_index)(logits, target)


class ClassBalancedBCELoss(_CountsModule):
    """Binary cross-entropy re-weighted by the effective number of samples (Cui et al. 2019).

    For multi-label heads and dense binary targets (per pixel or per vertex), with
    ``E(n) = (1 - beta**n) / (1 - beta)`` the effective number of ``n`` samples and
    ``z, y`` a logit and its target in [0, 1]:

    - ``neg_counts=None``: class ``j`` gets one weight ``w_j = 1 / E(n_j^+)`` for both of
      its terms, normalised so that the weights sum to C (:func:`class_balanced_weights`
      of ``pos_counts``; Cui et al.'s class-balanced sigmoid loss, one class per column):
      ``l = -w_j [y log sigma(z) + (1 - y) log(1 - sigma(z))]``;
    - with ``neg_counts``: positives and negatives of each class are weighted separately,
      ``w_j^+ = 1 / E(n_j^+)`` and ``w_j^- = 1 / E(n_j^-)``, normalised together so that
      ``sum_j (w_j^+ + w_j^-) = 2C``:
      ``l = -[w_j^+ y log sigma(z) + w_j^- (1 - y) log(1 - sigma(z))]``.

    A zero count gets weight 0 (as in :func:`class_balanced_weights`). ``reduction="mean"``
    averages over rows (samples, or positions of a dense map) the sum over classes;
    ``"sum"`` sums everything; ``"none"`` gives the per-row sums, shape (N, d1, ...).

    Cui, Jia, Lin, Song, Belongie, "Class-Balanced Loss Based on Effective Number of
    Samples", CVPR 2019.

    Forward: ``logits`` (N, C[, d1, ...]) and ``target`` of the same shape.

    Parameters
    ----------
    pos_counts : array_like or torch.Tensor
        Positive examples per class (per column of the logits), ``>= 0``, at least one
        positive.
    neg_counts : array_like or torch.Tensor, optional
        Negative examples per class, or None.
    beta : float, default 0.9999
        In ``[0, 1)``; 0 is plain BCE summed over classes.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-sample losses are combined.
    ignore_index : int or None, default None
        Target value whose elements count nothing (e.g. 255), or None.

    Raises
    ------
    TypeError
        If ``beta`` is not a real number or ``ignore_index`` is not an integer or None. When
        called: if ``logits`` is not a floating point tensor or ``target`` does not hold
        real numbers.
    ValueError
        If ``pos_counts`` / ``neg_counts`` is not a finite 1-D array of non-negative values
        with a positive entry, ``neg_counts`` does not have one entry per class of
        ``pos_counts``, ``beta`` is not in ``[0, 1)``, or ``reduction`` is unknown. When
        called: if ``target`` does not have the shape of ``logits``, the number of classes
        differs from the construction's, or a CPU ``target`` has values outside [0, 1].

    Examples
    --------
    >>> crit = ClassBalancedBCELoss([90, 10], [10, 90], beta=0.99)
    >>> crit.pos_weight, crit.neg_weight
    (tensor([0.2768, 1.7232], dtype=torch.float64), tensor([1.7232, 0.2768], dtype=torch.float64))
    >>> round(crit(torch.zeros(1, 2), torch.tensor([[0.0, 1.0]])).item(), 4)
    2.3889
    """

    _keep_dtype = ("pos_counts", "neg_counts", "pos_weight", "neg_weight")
    pos_weight: Tensor
    neg_weight: Tensor

    def __init__(self, pos_counts: ArrayLike, neg_counts: ArrayLike | None = None, *,
                 beta: float = 0.9999, reduction: str = "mean",
                 ignore_index: int | None = None) -> None:
        super().__init__()
        pos = _counts_array(pos_counts, "pos_counts")
        neg = None if neg_counts is None else _counts_array(neg_counts, "neg_counts")
        if neg is not None and neg.shape != pos.shape:
            raise ValueError(f"neg_counts: expected {pos.size} entries (one per class, like "
                             f"pos_counts), got {neg.size}")
        self.beta = _check_beta(beta)
        self.reduction = _check_reduction(reduction)
        self.ignore_index = _check_ignore_index(ignore_index)
        wp, wn = _cb_bce_weights(pos, neg, self.beta)
        self.register_buffer("pos_counts", _as_buffer(pos, pos_counts))
        self.register_buffer("neg_counts",
                             None if neg is None else _as_buffer(neg, pos_counts))
        self.register_buffer("pos_weight", _as_buffer(wp, pos_counts))
        self.register_buffer("neg_weight", _as_buffer(wn, pos_counts))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of ``logits`` (N, C[, ...]) against 0/1 ``target`` of the same shape."""
        x, y, keep, rows = _flatten_binary(logits, target, self.pos_weight.shape[0],
                                           self.ignore_index)
        wp = _buffer_like(self.pos_weight, x)
        wn = _buffer_like(self.neg_weight, x)
        # -log sigma(z) = softplus(-z), -log(1 - sigma(z)) = softplus(z): stable for any z
        elem = wp * y * F.softplus(-x) + wn * (1 - y) * F.softplus(x)
        return _reduce_rows(elem, keep, self.reduction, logits.dtype, rows)

    def extra_repr(self) -> str:
        return f"num_classes={self.pos_weight.shape[0]}, beta={self.beta}, " \
               f"neg_counts={self.neg_counts is not None}"


# --------------------------------------------------------------------------------------
# Asymmetric loss (Ridnik et al. 2021)
# --------------------------------------------------------------------------------------


def asymmetric_loss(logits: Tensor, target: Any, *, gamma_neg: float = 4.0,
                    gamma_pos: float = 1.0, clip: float = 0.05, eps: float = 1e-8,
                    reduction: str = "mean", ignore_index: int | None = None) -> Tensor:
    """Functional form of :class:`AsymmetricLoss` (Ridnik et al. 2021).

    Parameters
    ----------
    logits : torch.Tensor
        Floating point logits, (N, C) or (N, C, d1, ...).
    target : torch.Tensor or array_like
        Real 0/1 targets (values in [0, 1]) of the shape of ``logits``.
    gamma_neg, gamma_pos, clip, eps, reduction, ignore_index
        As in :class:`AsymmetricLoss`.

    Returns
    -------
    torch.Tensor
        The loss, in the dtype of ``logits``: a scalar, or per row (summed over classes),
        shape (N, d1, ...), for ``reduction="none"``.

    Raises
    ------
    TypeError
        As :class:`AsymmetricLoss`, for its arguments and for ``logits`` / ``target``.
    ValueError
        As :class:`AsymmetricLoss`, for its arguments and for ``logits`` / ``target``.

    Examples
    --------
    >>> asymmetric_loss(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), gamma_neg=0.0,
    ...                 gamma_pos=0.0, clip=0.0)  # = BCE summed over the two classes
    tensor(1.3863)
    """
    return AsymmetricLoss(gamma_neg=gamma_neg, gamma_pos=gamma_pos, clip=clip, eps=eps,
                          reduction=reduction, ignore_index=ignore_index)(logits, target)


class AsymmetricLoss(nn.Module):
    """Asymmetric loss for multi-label classification, ASL (Ridnik et al. 2021).

    With ``p = sigmoid(z)`` and the shifted probability ``p_m = max(p - clip, 0)``, each
    element contributes

    ``L = -y (1 - p)**gamma_pos log(p) - (1 - y) p_m**gamma_neg log(1 - p_m)``,

    i.e. a focal loss whose negatives are focused harder (``gamma_neg > gamma_pos``) and
    whose easy negatives (``p < clip``) are discarded altogether. As in the authors' code
    probabilities are clamped at ``eps`` inside the logs and the focusing weight is part
    of the gradient. ``gamma_neg = gamma_pos = 0`` and ``clip = 0`` is plain BCE.
    ``reduction="mean"`` averages over rows the sum over classes (the authors' code sums
    everything: ``"sum"``); ``"none"`` gives per-row sums, shape (N, d1, ...).

    Ridnik, Ben-Baruch, Zamir, Noy, Friedman, Protter, Zelnik-Manor, "Asymmetric Loss For
    Multi-Label Classification", ICCV 2021.

    Parameters
    ----------
    gamma_neg : float, default 4.0
        Focusing exponent of the negatives, ``>= 0``.
    gamma_pos : float, default 1.0
        Focusing exponent of the positives, ``>= 0``.
    clip : float, default 0.05
        Probability margin of the negatives, in ``[0, 1)``.
    eps : float, default 1e-8
        Floor of the probabilities inside the logs, in ``(0, 1)``.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-sample losses are combined.
    ignore_index : int or None, default None
        Target value whose elements count nothing (e.g. 255), or None.

    Raises
    ------
    TypeError
        If ``gamma_neg``, ``gamma_pos``, ``clip`` or ``eps`` is not a real number, or
        ``ignore_index`` is not an integer or None. When called: if ``logits`` is not a
        floating point tensor or ``target`` does not hold real numbers.
    ValueError
        If ``gamma_neg`` or ``gamma_pos`` is negative, ``clip`` is outside ``[0, 1)``,
        ``eps`` outside ``(0, 1)``, or ``reduction`` is unknown. When called: if ``target``
        does not have the shape of ``logits`` or a CPU ``target`` has values outside [0, 1].

    Examples
    --------
    >>> crit = AsymmetricLoss()
    >>> round(crit(torch.tensor([[2.0, -1.0, -4.0]]), torch.tensor([[1.0, 0.0, 0.0]])).item(), 4)
    0.0157
    """

    def __init__(self, gamma_neg: float = 4.0, gamma_pos: float = 1.0, clip: float = 0.05, *,
                 eps: float = 1e-8, reduction: str = "mean",
                 ignore_index: int | None = None) -> None:
        super().__init__()
        self.gamma_neg = _check_float(gamma_neg, "gamma_neg", low=0.0)
        self.gamma_pos = _check_float(gamma_pos, "gamma_pos", low=0.0)
        self.clip = _check_float(clip, "clip", low=0.0, high=1.0, high_open=True)
        self.eps = _check_float(eps, "eps", low=0.0, high=1.0, low_open=True, high_open=True)
        self.reduction = _check_reduction(reduction)
        self.ignore_index = _check_ignore_index(ignore_index)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of ``logits`` (N, C[, ...]) against 0/1 ``target`` of the same shape."""
        x, y, keep, rows = _flatten_binary(logits, target, None, self.ignore_index)
        p = torch.sigmoid(x)
        q = 1 - p
        if self.clip > 0:
            q = (q + self.clip).clamp(max=1.0)
        elem = y * torch.log(p.clamp(min=self.eps)) + (1 - y) * torch.log(q.clamp(min=self.eps))
        if self.gamma_neg > 0 or self.gamma_pos > 0:
            pt = p * y + q * (1 - y)
            elem = elem * torch.pow(1 - pt, self.gamma_pos * y + self.gamma_neg * (1 - y))
        return _reduce_rows(-elem, keep, self.reduction, logits.dtype, rows)

    def extra_repr(self) -> str:
        return f"gamma_neg={self.gamma_neg}, gamma_pos={self.gamma_pos}, clip={self.clip}"


# --------------------------------------------------------------------------------------
# Tversky / Dice loss (Salehi et al. 2017), focal Tversky (Abraham & Khan 2019)
# --------------------------------------------------------------------------------------


def tversky_loss(logits: Tensor, target: Any, *, alpha: float = 0.5, beta: float = 0.5,
                 gamma: float = 1.0, ignore_index: int | None = None,
                 reduction: str = "mean") -> Tensor:
    """Functional form of :class:`TverskyLoss` (Salehi et al. 2017).

    Parameters
    ----------
    logits : torch.Tensor
        Floating point logits, (N, C) or (N, C, d1, ...).
    target : torch.Tensor
        Integer class ids, (N,) or (N, d1, ...).
    alpha, beta, gamma, ignore_index, reduction
        As in :class:`TverskyLoss`.

    Returns
    -------
    torch.Tensor
        The loss, in the dtype of ``logits``: a scalar, or the (C,) per-class losses for
        ``reduction="none"``.

    Raises
    ------
    TypeError
        As :class:`TverskyLoss`, for its arguments and for ``logits`` / ``target``.
    ValueError
        As :class:`TverskyLoss`, for its arguments and for ``logits`` / ``target``.

    Examples
    --------
    >>> logits = torch.tensor([[[9.0, -9.0]], [[-9.0, 9.0]]])  # (N=1, C=2, d=2)
    >>> tversky_loss(logits.permute(1, 0, 2), torch.tensor([[0, 1]])) < 1e-3
    tensor(True)
    """
    return TverskyLoss(alpha=alpha, beta=beta, gamma=gamma, ignore_index=ignore_index,
                       reduction=reduction)(logits, target)


class TverskyLoss(nn.Module):
    """Tversky loss on softmax probabilities of dense logits (Salehi et al. 2017).

    With ``p_ic`` the softmax probability of class c at position i of the batch and
    ``y_ic`` the one-hot target, per class

    ``TP_c = sum_i p_ic y_ic``, ``FP_c = sum_i p_ic (1 - y_ic)``, ``FN_c = sum_i (1 - p_ic) y_ic``,
    ``TI_c = TP_c / (TP_c + alpha FP_c + beta FN_c + 1e-7)``,

    summed over the whole batch (all samples and positions), and the loss is the mean over
    classes of ``(1 - TI_c)**gamma``. ``alpha = beta = 0.5`` is the Dice loss
    ``1 - 2 TP / (2 TP + FP + FN)``; ``beta > alpha`` penalises false negatives more (small
    structures, rare classes). ``gamma`` gives the focal Tversky loss (Abraham & Khan 2019
    write the exponent as ``1/gamma``; here ``gamma`` is the exponent itself, so their
    gamma = 4/3 is 0.75 here). The only smoothing is 1e-7 in the denominator: a class that
    is neither present nor predicted scores TI = 0. Positions whose target is
    ``ignore_index`` count nothing. ``reduction``: ``"mean"`` over classes, ``"sum"`` over
    classes, or ``"none"`` for the (C,) per-class losses.

    Salehi, Erdogmus, Gholipour, "Tversky loss function for image segmentation using 3D
    fully convolutional deep networks", MLMI 2017. Abraham, Khan, "A Novel Focal Tversky
    Loss Function with Improved Attention U-Net for Lesion Segmentation", ISBI 2019.

    Forward: ``logits`` (N, C[, d1, ...]) and integer ``target`` (N[, d1, ...]).

    Parameters
    ----------
    alpha : float, default 0.5
        Weight of the false positives, ``>= 0``.
    beta : float, default 0.5
        Weight of the false negatives, ``>= 0``.
    gamma : float, default 1.0
        Exponent, ``> 0``.
    ignore_index : int or None, default None
        Target value of positions that count nothing, or None.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-class losses are combined.

    Raises
    ------
    TypeError
        If ``alpha``, ``beta`` or ``gamma`` is not a real number, or ``ignore_index`` is not
        an integer or None. When called: if ``logits`` is not a floating point tensor or
        ``target`` does not hold integer class ids.
    ValueError
        If ``alpha`` or ``beta`` is negative, ``gamma`` is not > 0, or ``reduction`` is
        unknown. When called: if the shapes of ``logits`` and ``target`` do not match, or a
        CPU ``target`` holds a class id out of range.

    Examples
    --------
    >>> crit = TverskyLoss(alpha=0.3, beta=0.7)
    >>> logits = torch.zeros(1, 2, 4)
    >>> crit(logits, torch.tensor([[0, 0, 0, 1]]))
    tensor(0.5299)
    """

    def __init__(self, alpha: float = 0.5, beta: float = 0.5, gamma: float = 1.0,
                 ignore_index: int | None = None, *, reduction: str = "mean") -> None:
        super().__init__()
        self.alpha = _check_float(alpha, "alpha", low=0.0)
        self.beta = _check_float(beta, "beta", low=0.0)
        self.gamma = _check_float(gamma, "gamma", low=0.0, low_open=True)
        self.ignore_index = _check_ignore_index(ignore_index)
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of ``logits`` (N, C[, ...]) against integer ``target`` (N[, ...])."""
        ign = _NO_IGNORE if self.ignore_index is None else self.ignore_index
        x, t, _ = _flatten_logits(logits, target, None, ign)
        cd = _compute_dtype(x)
        p = torch.softmax(x.to(cd), dim=1)
        c = p.shape[1]
        if self.ignore_index is None:
            y = _one_hot(t, c, cd)
        else:
            keep = (t != ign).to(cd).unsqueeze(1)
            y = _one_hot(torch.where(t != ign, t, torch.zeros_like(t)), c, cd) * keep
            p = p * keep
        tp = (p * y).sum(0)
        fp = p.sum(0) - tp
        fn = y.sum(0) - tp
        ti = tp / (tp + self.alpha * fp + self.beta * fn + 1e-7)
        loss = (1 - ti).clamp_min(0)
        if self.gamma != 1.0:
            loss = loss.clamp_min(torch.finfo(cd).tiny).pow(self.gamma)
        if self.reduction == "none":
            return loss.to(logits.dtype)
        out = loss.sum() if self.reduction == "sum" else loss.mean()
        return out.to(logits.dtype)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, gamma={self.gamma}"
