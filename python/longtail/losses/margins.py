"""Margins and logit adjustment: LDAM, balanced softmax, logit-adjusted loss, and the
post-hoc corrections of a trained classifier (logit adjustment, tau-normalisation, prior
bias initialisation).

Cao et al. 2019 (LDAM), Ren et al. 2020 (balanced softmax), Menon et al. 2021 (logit
adjustment), Kang et al. 2020 (tau-normalisation), Lin et al. 2017 (prior bias init).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from longtail._checks import as_float_array, check_positive_int
from longtail.losses._checks import (
    ArrayLike,
    _check_float,
    _check_reduction,
    _compute_dtype,
    _counts_array,
    _safe_log_counts,
)
from longtail.losses._common import _as_buffer, _CountsModule, _weighted_ce

__all__ = [
    "prior_bias_init",
    "tau_normalize",
    "logit_adjust",
    "LDAMLoss",
    "ldam_loss",
    "BalancedSoftmaxLoss",
    "balanced_softmax_loss",
    "LogitAdjustedLoss",
    "logit_adjusted_loss",
]


def prior_bias_init(num_classes: int, *, prior: float | ArrayLike = 0.01,
                    dtype: torch.dtype = torch.float32) -> Tensor:
    """Bias that makes a sigmoid classifier start out predicting ``prior`` (Lin et al. 2017).

    ``b = -log((1 - pi) / pi)``, so that ``sigmoid(b) = pi``: with a rare foreground prior
    the many easy negatives do not dominate the first steps of training (RetinaNet uses
    pi = 0.01). ``prior`` may also be a per-class sequence of probabilities, e.g. class
    frequencies.

    Lin, Goyal, Girshick, He, Dollar, "Focal Loss for Dense Object Detection", ICCV 2017.

    Parameters
    ----------
    num_classes : int
        Number of classes C (>= 1).
    prior : float or array_like, default 0.01
        Foreground probability ``pi`` in (0, 1), or one per class (length C).
    dtype : torch.dtype, default torch.float32
        Dtype of the result.

    Returns
    -------
    torch.Tensor
        The (C,) bias ``log(pi / (1 - pi))``.

    Raises
    ------
    TypeError
        If ``num_classes`` is not an integer or ``prior`` is neither a number nor an array
        of numbers.
    ValueError
        If ``num_classes`` is below 1, ``prior`` does not lie strictly between 0 and 1, or a
        per-class ``prior`` does not have ``num_classes`` entries.

    Examples
    --------
    >>> b = prior_bias_init(3, prior=0.01)
    >>> b
    tensor([-4.5951, -4.5951, -4.5951])
    >>> torch.sigmoid(b)
    tensor([0.0100, 0.0100, 0.0100])
    >>> head = torch.nn.Linear(8, 3)
    >>> with torch.no_grad():
    ...     _ = head.bias.copy_(prior_bias_init(3))
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    if isinstance(prior, (int, float, np.integer, np.floating)) and not isinstance(prior, bool):
        p = np.full(num_classes, _check_float(prior, "prior", low=0.0, high=1.0,
                                              low_open=True, high_open=True))
    else:
        p = as_float_array(prior, "prior", ndim=1)
        if p.shape[0] != num_classes:
            raise ValueError(f"prior: expected {num_classes} entries, got {p.shape[0]}")
        if ((p <= 0) | (p >= 1)).any():
            raise ValueError("prior: probabilities must lie strictly between 0 and 1")
    return torch.as_tensor(np.log(p) - np.log1p(-p), dtype=dtype)


def tau_normalize(weight: ArrayLike, tau: float = 1.0) -> Tensor:
    """Rescale each classifier row by its norm to the power tau (Kang et al. 2020).

    ``W_j / ||W_j||**tau``: after instance-balanced training the head classes have larger
    weight norms; tau = 1 equalises them, tau = 0 leaves ``weight`` unchanged. Rows of
    norm 0 stay 0. Differentiable; call it under ``torch.no_grad()`` when rewriting a
    trained classifier in place.

    Kang, Xie, Rohrbach, Yan, Gordo, Feng, Kalantidis, "Decoupling Representation and
    Classifier for Long-Tailed Recognition", ICLR 2020.

    Parameters
    ----------
    weight : torch.Tensor or array_like
        The (C, D) classifier weight (e.g. ``linear.weight``).
    tau : float, default 1.0
        Exponent, usually in ``[0, 1]``.

    Returns
    -------
    torch.Tensor
        The rescaled (C, D) weight, in the dtype of ``weight`` (a new tensor).

    Raises
    ------
    TypeError
        If ``tau`` is not a real number or ``weight`` is not floating point.
    ValueError
        If ``tau`` is not finite or ``weight`` is not 2-D.

    Examples
    --------
    >>> w = torch.tensor([[3.0, 4.0], [0.6, 0.8]])
    >>> tau_normalize(w, 1.0)
    tensor([[0.6000, 0.8000],
            [0.6000, 0.8000]])
    >>> torch.equal(tau_normalize(w, 0.0), w)
    True
    """
    tau = _check_float(tau, "tau")
    if not isinstance(weight, Tensor):
        weight = torch.as_tensor(as_float_array(weight, "weight", ndim=2, dtype=np.float32))
    if weight.ndim != 2:
        raise ValueError(f"weight: expected a 2-D (C, D) tensor, got shape {tuple(weight.shape)}")
    if not weight.is_floating_point():
        raise TypeError(f"weight: expected a floating point tensor, got {weight.dtype}")
    if tau == 0.0:
        return weight.clone()
    w = weight.to(_compute_dtype(weight))
    norm = torch.linalg.vector_norm(w, dim=1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)
    return (w / norm.pow(tau)).to(weight.dtype)


def logit_adjust(logits: Tensor, counts: ArrayLike, *, tau: float = 1.0) -> Tensor:
    """Post-hoc logit adjustment: ``z_j - tau * log pi_j`` (Menon et al. 2021).

    Turns a model trained with plain cross-entropy on long-tailed data into one that
    (for tau = 1) targets the balanced error. ``pi = counts / counts.sum()``; the class
    dimension is dimension 1 (as in ``cross_entropy``), or 0 for a single 1-D row. A class
    with count 0 is given the smallest positive count (see :class:`BalancedSoftmaxLoss`),
    so it is not predicted everywhere. The result has the dtype and device of ``logits``.

    Menon, Jayasumana, Rawat, Jain, Veit, Kumar, "Long-tail learning via logit
    adjustment", ICLR 2021.

    Parameters
    ----------
    logits : torch.Tensor
        Floating point logits, (C,), (N, C) or (N, C, d1, ...).
    counts : array_like or torch.Tensor
        Training examples per class, shape (C,): finite, ``>= 0``, at least one positive.
    tau : float, default 1.0
        Strength of the adjustment.

    Returns
    -------
    torch.Tensor
        The adjusted logits, of the shape, dtype and device of ``logits``.

    Raises
    ------
    TypeError
        If ``logits`` is not a floating point tensor or ``tau`` is not a real number.
    ValueError
        If ``logits`` is a scalar or its class dimension does not have ``len(counts)``
        entries, ``tau`` is not finite, or ``counts`` is not a finite 1-D array of
        non-negative values with a positive entry.

    Examples
    --------
    >>> logit_adjust(torch.zeros(1, 2), [3, 1]).argmax(1)
    tensor([1])
    >>> logit_adjust(torch.zeros(1, 2), [3, 1], tau=0.0)
    tensor([[0., 0.]])
    """
    tau = _check_float(tau, "tau")
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError("logits: expected a floating point torch.Tensor")
    if logits.ndim == 0:
        raise ValueError("logits: expected shape (C,), (N, C) or (N, C, d1, ...), got a scalar")
    arr = _counts_array(counts)
    dim = 0 if logits.ndim == 1 else 1
    if logits.shape[dim] != arr.size:
        raise ValueError(
            f"logits: expected {arr.size} classes (the length of counts) in dimension {dim}, "
            f"got shape {tuple(logits.shape)}")
    log_prior = _safe_log_counts(arr) - np.log(arr.sum())
    cd = _compute_dtype(logits)
    offset = torch.as_tensor(tau * log_prior, dtype=cd, device=logits.device)
    offset = offset.reshape((-1,) + (1,) * (logits.ndim - dim - 1))
    return (logits.to(cd) - offset).to(logits.dtype)


def _ldam_margins(arr: np.ndarray, max_m: float) -> np.ndarray:
    # Cao et al.'s code: m_j = C / n_j**(1/4), C chosen so that the largest margin is
    # max_m. An absent class would get an infinite margin; it gets max_m (the rarest
    # observed class's margin) and does not change the margins of the others.
    present = arr > 0
    m = np.where(present, np.where(present, arr, 1.0) ** -0.25, 0.0)
    m = m * (max_m / m[present].max())
    return np.where(present, m, max_m)


# --------------------------------------------------------------------------------------
# LDAM (Cao et al. 2019)
# --------------------------------------------------------------------------------------


def ldam_loss(logits: Tensor, target: Tensor, counts: ArrayLike, *, max_m: float = 0.5,
              s: float = 30.0, weight: ArrayLike | None = None, reduction: str = "mean",
              ignore_index: int = -100) -> Tensor:
    """Functional form of :class:`LDAMLoss` (Cao et al. 2019).

    Parameters
    ----------
    logits : torch.Tensor
        Floating point logits, (N, C) or (N, C, d1, ...).
    target : torch.Tensor
        Integer class ids, (N,) or (N, d1, ...).
    counts : array_like or torch.Tensor
        Training examples per class, shape (C,): finite, ``>= 0``, at least one positive.
    max_m, s, weight, reduction, ignore_index
        As in :class:`LDAMLoss`.

    Returns
    -------
    torch.Tensor
        The loss, in the dtype of ``logits``: a scalar, or per sample for
        ``reduction="none"``.

    Raises
    ------
    TypeError, ValueError
        As :class:`LDAMLoss`, for its arguments and for ``logits`` / ``target``.

    Examples
    --------
    >>> logits = torch.tensor([[0.5, 0.0], [0.0, 0.5]])
    >>> ldam_loss(logits, torch.tensor([0, 1]), [100, 1], s=1.0)
    tensor(0.6149)
    """
    return LDAMLoss(counts, max_m=max_m, s=s, weight=weight, reduction=reduction,
                    ignore_index=ignore_index)(logits, target)


class LDAMLoss(_CountsModule):
    """Label-distribution-aware margin loss (Cao et al. 2019).

    ``CE(s * (z - m_y e_y), y)`` with margins ``m_j`` proportional to ``n_j**(-1/4)`` and
    scaled so the largest is ``max_m``, as in the paper's code; ``s`` rescales the logits,
    which the paper assumes are cosine similarities (normalised features and weights).
    A class with count 0 gets margin ``max_m``. ``weight`` gives per-class weights with
    torch's weighted mean (sum w_i l_i / sum w_i), as the code's
    ``F.cross_entropy(..., weight=)``; for deferred re-weighting assign
    ``loss.weight = deferred_reweighting(loss.counts, epoch, start_epoch=...)`` each epoch.

    Cao, Wei, Gaidon, Arechiga, Ma, "Learning Imbalanced Datasets with Label-Distribution-
    Aware Margin Loss", NeurIPS 2019.

    Parameters
    ----------
    counts : array_like or torch.Tensor
        Training examples per class, shape (C,): finite, ``>= 0``, at least one positive.
    max_m : float, default 0.5
        Largest margin, ``> 0``.
    s : float, default 30.0
        Logit scale, ``> 0``.
    weight : array_like, optional
        Per-class weights, length C, ``>= 0`` (torch's weighted mean).
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-sample losses are combined.
    ignore_index : int, default -100
        Target value that contributes nothing (as in ``cross_entropy``).

    Attributes
    ----------
    counts : torch.Tensor
        Buffer of the class counts (float64).
    margins : torch.Tensor
        Buffer of the per-class margins (float64).
    weight : torch.Tensor or None
        Buffer of the per-class weights; may be reassigned (deferred re-weighting).

    Raises
    ------
    TypeError
        If a number argument (``max_m``, ``s``) is not a real number. When called: if
        ``logits`` is not a floating point tensor or ``target`` does not hold integer class
        ids.
    ValueError
        If ``counts`` is not a finite 1-D array of non-negative values with a positive
        entry, ``max_m`` or ``s`` is not > 0, ``weight`` does not have one non-negative
        entry per class, or ``reduction`` is unknown. When called: if ``logits`` /
        ``target`` shapes do not match, the number of classes differs from that of the
        construction, or a CPU ``target`` holds a class id out of range.

    Examples
    --------
    >>> crit = LDAMLoss([10000, 16, 1], max_m=0.5)
    >>> crit.margins
    tensor([0.0500, 0.2500, 0.5000], dtype=torch.float64)
    >>> round(crit(torch.zeros(1, 3), torch.tensor([2])).item(), 4)
    15.6931
    """

    _keep_dtype = ("counts", "margins", "weight")
    counts: Tensor
    margins: Tensor
    weight: Optional[Tensor]

    def __init__(self, counts: ArrayLike, *, max_m: float = 0.5, s: float = 30.0,
                 weight: ArrayLike | None = None, reduction: str = "mean",
                 ignore_index: int = -100) -> None:
        super().__init__()
        arr = _counts_array(counts)
        self.max_m = _check_float(max_m, "max_m", low=0.0, low_open=True)
        self.s = _check_float(s, "s", low=0.0, low_open=True)
        self.reduction = _check_reduction(reduction)
        self.ignore_index = int(ignore_index)
        self.register_buffer("counts", _as_buffer(arr, counts))
        self.register_buffer("margins", _as_buffer(_ldam_margins(arr, self.max_m), counts))
        w = None
        if weight is not None:
            warr = as_float_array(weight, "weight", ndim=1)
            if warr.shape[0] != arr.shape[0]:
                raise ValueError(f"weight: expected {arr.shape[0]} entries (one per class), "
                                 f"got {warr.shape[0]}")
            if (warr < 0).any():
                raise ValueError("weight: per-class weights must be non-negative")
            w = _as_buffer(warr, counts)
        self.register_buffer("weight", w)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of ``logits`` (N, C[, ...]) against integer ``target`` (N[, ...])."""
        c = self.margins.shape[0]
        if self.weight is not None and tuple(self.weight.shape) != (c,):
            raise ValueError(f"weight: expected shape ({c},), got {tuple(self.weight.shape)}")
        return _weighted_ce(logits, target, None, self.weight, self.reduction,
                            self.ignore_index, c, weighted_mean=True, scale=self.s,
                            margins=self.margins)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              *args: Any, **kwargs: Any) -> None:
        # ``weight`` changes between None and a tensor during DRW training; a checkpoint
        # taken either side of the switch must load into a freshly built loss.
        key = prefix + "weight"
        if key in state_dict and self.weight is None:
            saved = state_dict[key]
            self.weight = torch.empty(saved.shape, dtype=saved.dtype, device=self.margins.device)
        elif key not in state_dict and self.weight is not None:
            self.weight = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"num_classes={self.margins.shape[0]}, max_m={self.max_m}, s={self.s}"


# --------------------------------------------------------------------------------------
# Balanced softmax (Ren et al. 2020) and logit adjustment (Menon et al. 2021)
# --------------------------------------------------------------------------------------


def balanced_softmax_loss(logits: Tensor, target: Tensor, counts: ArrayLike, *,
                          reduction: str = "mean", ignore_index: int = -100) -> Tensor:
    """Functional form of :class:`BalancedSoftmaxLoss` (Ren et al. 2020).

    Parameters
    ----------
    logits : torch.Tensor
        Floating point logits, (N, C) or (N, C, d1, ...).
    target : torch.Tensor
        Integer class ids, (N,) or (N, d1, ...).
    counts : array_like or torch.Tensor
        Training examples per class, shape (C,): finite, ``>= 0``, at least one positive.
    reduction, ignore_index
        As in :class:`BalancedSoftmaxLoss`.

    Returns
    -------
    torch.Tensor
        The loss, in the dtype of ``logits``: a scalar, or per sample for
        ``reduction="none"``.

    Raises
    ------
    TypeError, ValueError
        As :class:`BalancedSoftmaxLoss`, for its arguments and for ``logits`` / ``target``.

    Examples
    --------
    >>> balanced_softmax_loss(torch.zeros(1, 2), torch.tensor([1]), [3, 1])
    tensor(1.3863)
    """
    return BalancedSoftmaxLoss(counts, reduction=reduction,
                               ignore_index=ignore_index)(logits, target)


class BalancedSoftmaxLoss(_CountsModule):
    """Balanced softmax: cross-entropy on ``z_j + log n_j`` (Ren et al. 2020).

    Compensates the label shift between the long-tailed training set and a balanced
    test set; at test time the raw logits ``z`` are used. A class with count 0 is given
    the smallest positive count for the log (``log 0 = -inf`` would make the loss of such
    a sample infinite), so every loss stays finite.

    Ren, Yu, Ma, Zhao, Yi, Li, "Balanced Meta-Softmax for Long-Tailed Visual
    Recognition", NeurIPS 2020.

    Parameters
    ----------
    counts : array_like or torch.Tensor
        Training examples per class, shape (C,): finite, ``>= 0``, at least one positive.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-sample losses are combined.
    ignore_index : int, default -100
        Target value that contributes nothing (as in ``cross_entropy``).

    Raises
    ------
    TypeError
        When called: if ``logits`` is not a floating point tensor or ``target`` does not
        hold integer class ids.
    ValueError
        If ``counts`` is not a finite 1-D array of non-negative values with a positive entry
        or ``reduction`` is unknown. When called: if ``logits`` / ``target`` shapes do not
        match, the number of classes differs from that of the construction, or a CPU
        ``target`` holds a class id out of range.

    Examples
    --------
    >>> crit = BalancedSoftmaxLoss([3, 1])
    >>> crit(torch.zeros(2, 2), torch.tensor([0, 1]))
    tensor(0.8370)
    """

    _keep_dtype = ("counts", "log_counts")
    counts: Tensor
    log_counts: Tensor

    def __init__(self, counts: ArrayLike, *, reduction: str = "mean",
                 ignore_index: int = -100) -> None:
        super().__init__()
        arr = _counts_array(counts)
        self.reduction = _check_reduction(reduction)
        self.ignore_index = int(ignore_index)
        self.register_buffer("counts", _as_buffer(arr, counts))
        self.register_buffer("log_counts", _as_buffer(_safe_log_counts(arr), counts))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of ``logits`` (N, C[, ...]) against integer ``target`` (N[, ...])."""
        return _weighted_ce(logits, target, self.log_counts, None, self.reduction,
                            self.ignore_index, self.log_counts.shape[0], weighted_mean=False)

    def extra_repr(self) -> str:
        return f"num_classes={self.log_counts.shape[0]}"


def logit_adjusted_loss(logits: Tensor, target: Tensor, counts: ArrayLike, *, tau: float = 1.0,
                        reduction: str = "mean", ignore_index: int = -100) -> Tensor:
    """Functional form of :class:`LogitAdjustedLoss` (Menon et al. 2021).

    Parameters
    ----------
    logits : torch.Tensor
        Floating point logits, (N, C) or (N, C, d1, ...).
    target : torch.Tensor
        Integer class ids, (N,) or (N, d1, ...).
    counts : array_like or torch.Tensor
        Training examples per class, shape (C,): finite, ``>= 0``, at least one positive.
    tau, reduction, ignore_index
        As in :class:`LogitAdjustedLoss`.

    Returns
    -------
    torch.Tensor
        The loss, in the dtype of ``logits``: a scalar, or per sample for
        ``reduction="none"``.

    Raises
    ------
    TypeError, ValueError
        As :class:`LogitAdjustedLoss`, for its arguments and for ``logits`` / ``target``.

    Examples
    --------
    >>> logit_adjusted_loss(torch.zeros(1, 2), torch.tensor([1]), [3, 1])
    tensor(1.3863)
    """
    return LogitAdjustedLoss(counts, tau=tau, reduction=reduction,
                             ignore_index=ignore_index)(logits, target)


class LogitAdjustedLoss(_CountsModule):
    """Logit-adjusted cross-entropy: CE on ``z_j + tau * log pi_j`` (Menon et al. 2021).

    ``pi = counts / counts.sum()``. tau = 1 is Fisher-consistent for the balanced error
    and equals :class:`BalancedSoftmaxLoss` (the two differ by a constant per row);
    tau = 0 is plain cross-entropy. Zero counts are handled as in BalancedSoftmaxLoss.
    The post-hoc counterpart is :func:`logit_adjust`.

    Menon, Jayasumana, Rawat, Jain, Veit, Kumar, "Long-tail learning via logit
    adjustment", ICLR 2021.

    Parameters
    ----------
    counts : array_like or torch.Tensor
        Training examples per class, shape (C,): finite, ``>= 0``, at least one positive.
    tau : float, default 1.0
        Strength of the adjustment (0 is plain cross-entropy).
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-sample losses are combined.
    ignore_index : int, default -100
        Target value that contributes nothing (as in ``cross_entropy``).

    Raises
    ------
    TypeError
        If a number argument (``tau``) is not a real number. When called: if ``logits`` is
        not a floating point tensor or ``target`` does not hold integer class ids.
    ValueError
        If ``counts`` is not a finite 1-D array of non-negative values with a positive
        entry, ``tau`` is not finite, or ``reduction`` is unknown. When called: if
        ``logits`` / ``target`` shapes do not match, the number of classes differs from that
        of the construction, or a CPU ``target`` holds a class id out of range.

    Examples
    --------
    >>> crit = LogitAdjustedLoss([3, 1], tau=1.0)
    >>> crit(torch.zeros(2, 2), torch.tensor([0, 1]))
    tensor(0.8370)
    """

    _keep_dtype = ("counts", "log_prior")
    counts: Tensor
    log_prior: Tensor

    def __init__(self, counts: ArrayLike, *, tau: float = 1.0, reduction: str = "mean",
                 ignore_index: int = -100) -> None:
        super().__init__()
        arr = _counts_array(counts)
        self.tau = _check_float(tau, "tau")
        self.reduction = _check_reduction(reduction)
        self.ignore_index = int(ignore_index)
        self.register_buffer("counts", _as_buffer(arr, counts))
        log_prior = _safe_log_counts(arr) - np.log(arr.sum())
        self.register_buffer("log_prior", _as_buffer(log_prior, counts))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of ``logits`` (N, C[, ...]) against integer ``target`` (N[, ...])."""
        offset = self.log_prior * self.tau if self.tau != 0.0 else None
        return _weighted_ce(logits, target, offset, None, self.reduction, self.ignore_index,
                            self.log_prior.shape[0], weighted_mean=False)

    def extra_repr(self) -> str:
        return f"num_classes={self.log_prior.shape[0]}, tau={self.tau}"
