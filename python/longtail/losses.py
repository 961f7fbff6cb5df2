"""Losses and post-hoc corrections for long-tailed training.

Every re-balancing loss of the long-tail literature that is usually copied from a paper
repository, as one tested module with one set of conventions:

- each loss is an :class:`torch.nn.Module` (class counts kept as buffers, so
  ``.to(device)`` moves them) and a functional form sharing the same math; the
  functional forms check and convert ``counts`` on every call (a host-to-device copy
  when the logits are on a GPU), so in a training loop prefer the module;
- ``reduction="mean"|"sum"|"none"`` and ``ignore_index`` as in
  :func:`torch.nn.functional.cross_entropy`; logits are ``(N, C)`` or ``(N, C, d1, ...)``;
- device and dtype follow the input: float16/bfloat16 logits are computed in float32
  (log-sum-exp and the class offsets would lose too much in half precision) and the loss
  comes back in the input dtype; nothing in ``forward`` copies between host and device;
- class counts may be a list, numpy array or tensor; a class with count 0 never turns a
  loss into NaN or infinity (see :func:`class_balanced_weights` and
  :class:`BalancedSoftmaxLoss` for what such a class gets).

Target values are range-checked (``ValueError`` naming ``target``) when they live on the
CPU. On an accelerator that check would need a device-to-host copy on every step, so it
is left to the device-side assertion of ``cross_entropy``/``gather`` instead.

References: Cui et al. 2019 (class-balanced loss), Lin et al. 2017 (focal loss, prior
bias init), Cao et al. 2019 (LDAM-DRW), Ren et al. 2020 (balanced softmax), Menon et al.
2021 (logit adjustment), Kang et al. 2020 (tau-normalisation), Hou et al. 2023 (SBCL).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from longtail._checks import as_1d_labels, as_float_array, check_positive_int

__all__ = [
    "class_balanced_weights",
    "deferred_reweighting",
    "prior_bias_init",
    "tau_normalize",
    "logit_adjust",
    "ClassBalancedLoss",
    "class_balanced_loss",
    "FocalLoss",
    "focal_loss",
    "LDAMLoss",
    "ldam_loss",
    "BalancedSoftmaxLoss",
    "balanced_softmax_loss",
    "LogitAdjustedLoss",
    "logit_adjusted_loss",
    "SubclassContrastiveLoss",
    "subclass_contrastive_loss",
]

ArrayLike = Union[Sequence[float], np.ndarray, Tensor]
_REDUCTIONS = ("mean", "sum", "none")
_CB_TYPES = ("softmax", "sigmoid", "focal")


# --------------------------------------------------------------------------------------
# argument checking
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# helpers: weights, priors, post-hoc corrections
# --------------------------------------------------------------------------------------


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

    Args:
        counts: training examples per class (list, numpy array or tensor), ``>= 0``.
        beta: in ``[0, 1)``.
        dtype: of the result (float32 so it can be passed to ``nn.CrossEntropyLoss``).

    Returns:
        A ``(C,)`` tensor on the device of ``counts`` (CPU for lists and arrays).

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

    >>> deferred_reweighting([100, 10], 0, start_epoch=2)
    tensor([1., 1.])
    >>> deferred_reweighting([100, 10], 2, start_epoch=2, beta=0.99)
    tensor([0.2621, 1.7379])
    >>> criterion = LDAMLoss([100, 10])
    >>> criterion.weight = deferred_reweighting(criterion.counts, 5, start_epoch=2)
    """
    epoch = check_positive_int(epoch, "epoch", minimum=0)
    start_epoch = check_positive_int(start_epoch, "start_epoch", minimum=0)
    arr = _counts_array(counts)
    beta = _check_beta(beta)
    w = _cb_weights_np(arr, beta) if epoch >= start_epoch else np.ones_like(arr)
    return torch.as_tensor(w, dtype=torch.float32, device=_device_of(counts))


def prior_bias_init(num_classes: int, *, prior: float | ArrayLike = 0.01,
                    dtype: torch.dtype = torch.float32) -> Tensor:
    """Bias that makes a sigmoid classifier start out predicting ``prior`` (Lin et al. 2017).

    ``b = -log((1 - pi) / pi)``, so that ``sigmoid(b) = pi``: with a rare foreground prior
    the many easy negatives do not dominate the first steps of training (RetinaNet uses
    pi = 0.01). ``prior`` may also be a per-class sequence of probabilities, e.g. class
    frequencies.

    Lin, Goyal, Girshick, He, Dollar, "Focal Loss for Dense Object Detection", ICCV 2017.

    >>> b = prior_bias_init(3, prior=0.01)
    >>> b
    tensor([-4.5951, -4.5951, -4.5951])
    >>> torch.sigmoid(b)
    tensor([0.0100, 0.0100, 0.0100])
    >>> head = nn.Linear(8, 3)
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

    Args:
        weight: ``(C, D)`` classifier weight (e.g. ``linear.weight``).
        tau: exponent, usually in ``[0, 1]``.

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


# --------------------------------------------------------------------------------------
# shared math of the losses (functional and module forms call these)
# --------------------------------------------------------------------------------------


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


def _ldam_margins(arr: np.ndarray, max_m: float) -> np.ndarray:
    # Cao et al.'s code: m_j = C / n_j**(1/4), C chosen so that the largest margin is
    # max_m. An absent class would get an infinite margin; it gets max_m (the rarest
    # observed class's margin) and does not change the margins of the others.
    present = arr > 0
    m = np.where(present, np.where(present, arr, 1.0) ** -0.25, 0.0)
    m = m * (max_m / m[present].max())
    return np.where(present, m, max_m)


def _alpha_arg(alpha: Any) -> float | np.ndarray | None:
    if alpha is None:
        return None
    if isinstance(alpha, (int, float, np.integer, np.floating)) and not isinstance(alpha, bool):
        return _check_float(alpha, "alpha", low=0.0)
    arr = as_float_array(alpha, "alpha", ndim=1)
    if (arr < 0).any():
        raise ValueError("alpha: per-class weights must be non-negative")
    return arr


def _as_buffer(arr: np.ndarray, like: Any, dtype: torch.dtype = torch.float64) -> Tensor:
    return torch.as_tensor(arr, dtype=dtype, device=_device_of(like))


# --------------------------------------------------------------------------------------
# Class-balanced loss (Cui et al. 2019)
# --------------------------------------------------------------------------------------


def class_balanced_loss(logits: Tensor, target: Tensor, counts: ArrayLike, *,
                        beta: float = 0.9999, loss_type: str = "softmax", gamma: float = 1.0,
                        reduction: str = "mean", ignore_index: int = -100) -> Tensor:
    """Functional form of :class:`ClassBalancedLoss` (Cui et al. 2019).

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

    Args:
        counts: training examples per class (list, numpy array or tensor).
        beta: in ``[0, 1)``; 0 is the plain loss, ``-> 1`` inverse-frequency weighting.
        loss_type: ``"softmax"``, ``"sigmoid"`` or ``"focal"``.
        gamma: focusing parameter of ``"focal"`` (ignored otherwise), ``>= 0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: target value that contributes nothing (as in ``cross_entropy``).

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


# --------------------------------------------------------------------------------------
# LDAM (Cao et al. 2019)
# --------------------------------------------------------------------------------------


def ldam_loss(logits: Tensor, target: Tensor, counts: ArrayLike, *, max_m: float = 0.5,
              s: float = 30.0, weight: ArrayLike | None = None, reduction: str = "mean",
              ignore_index: int = -100) -> Tensor:
    """Functional form of :class:`LDAMLoss` (Cao et al. 2019).

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

    Args:
        counts: training examples per class.
        max_m: largest margin, ``> 0``.
        s: logit scale, ``> 0``.
        weight: optional per-class weights, length C.

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


# --------------------------------------------------------------------------------------
# Subclass-balancing contrastive loss (Hou et al. 2023)
# --------------------------------------------------------------------------------------


def _masked_mean_log_prob(sim: Tensor, pos: Tensor, denom_mask: Tensor) -> tuple[Tensor, Tensor]:
    """Per anchor: mean over positives of ``sim_ip - logsumexp_{a in denom} sim_ia``.

    Returns (value, has_positive). Rows without positives (or an empty denominator) give
    0 with zero gradient: the masked row is filled so that logsumexp never sees all -inf,
    whose backward would be NaN.
    """
    npos = pos.sum(1)
    has = (npos > 0) & denom_mask.any(1)
    safe = denom_mask | ~has.unsqueeze(1)
    lse = sim.masked_fill(~safe, float("-inf")).logsumexp(1)
    pos_f = pos.to(sim.dtype)
    mean_pos = (sim * pos_f).sum(1) / npos.clamp_min(1).to(sim.dtype)
    val = torch.where(has, mean_pos - lse, torch.zeros_like(lse))
    return val, has


def subclass_contrastive_loss(features: Tensor, subclass_ids: Tensor,
                              class_ids: Tensor | None = None, *, temperature: float = 0.1,
                              class_temperature: float | None = None, beta: float = 0.25,
                              normalize: bool = True, reduction: str = "mean") -> Tensor:
    """Functional form of :class:`SubclassContrastiveLoss` (Hou et al. 2023).

    >>> f = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> subclass_contrastive_loss(f, torch.tensor([0, 0, 1, 1])) < 1e-3
    tensor(True)
    """
    return SubclassContrastiveLoss(temperature, class_temperature=class_temperature, beta=beta,
                                   normalize=normalize, reduction=reduction)(
        features, subclass_ids, class_ids)


class SubclassContrastiveLoss(nn.Module):
    """Subclass-balancing contrastive loss, SBCL (Hou et al. 2023).

    Head classes are split into subclasses of about the size of the tail classes (e.g.
    with :func:`longtail.cluster.subclass_labels` on the current features), and the loss
    has two granularities. With ``s_ia = <f_i, f_a>`` (L2-normalised features), anchors
    ``i`` over all samples (all views) and ``a != i``:

    - subclass term, a supervised contrastive loss (Khosla et al. 2020) on subclass ids:
      ``L_sub(i) = -1/|P_i| sum_{p in P_i} log( exp(s_ip/t1) / sum_{a != i} exp(s_ia/t1) )``,
      ``P_i`` = other samples of i's subclass;
    - class term: pulls together subclasses of the same class, contrasting only against
      samples of *other* subclasses:
      ``L_cls(i) = -1/|Q_i| sum_{q in Q_i} log( exp(s_iq/t2) / sum_{a not in S(i)} exp(s_ia/t2) )``,
      ``Q_i`` = samples of i's class in another subclass, ``S(i)`` = i's subclass.

    The loss of anchor i is ``L_sub(i) + beta * L_cls(i)`` (the official code's weighting,
    beta = 0.25); a term whose positive set is empty counts 0, and ``reduction="mean"``
    averages over anchors that have at least one positive (0 if none do). The paper uses a
    class-level temperature ``t2`` that may differ from ``t1`` (``class_temperature``,
    default ``temperature``; the official code can also set it per class, not supported
    here). With ``class_ids=None`` only the subclass term remains, i.e. plain SupCon on
    ``subclass_ids``. Two details of the official code are not reproduced: its
    ``temperature / base_temperature`` factor on the subclass term (a constant scale),
    and counting the anchor's other augmented view as a class-level positive (here that
    view shares the subclass, so it is a subclass-level positive).

    Hou, Zhang, Wang, Zhou, "Subclass-balancing Contrastive Learning for Long-tailed
    Recognition", ICCV 2023.

    Args:
        temperature: t1 of the subclass term, ``> 0``.
        class_temperature: t2 of the class term (default: ``temperature``).
        beta: weight of the class term, ``>= 0``.
        normalize: L2-normalise the features first (SBCL and SupCon use unit vectors).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per anchor, shape (N*V,)).

    Forward: ``features`` (N, D) or (N, V, D) with V views per sample (views share ids),
    ``subclass_ids`` (N,), ``class_ids`` (N,) or None. Every subclass must lie inside one
    class (checked on the CPU).

    >>> crit = SubclassContrastiveLoss(temperature=0.5)
    >>> f = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.7, 0.7], [0.0, 1.0]])
    >>> round(crit(f, torch.tensor([0, 0, 1, 2]), torch.tensor([0, 0, 0, 1])).item(), 4)
    0.5045
    """

    def __init__(self, temperature: float = 0.1, *, class_temperature: float | None = None,
                 beta: float = 0.25, normalize: bool = True, reduction: str = "mean") -> None:
        super().__init__()
        self.temperature = _check_float(temperature, "temperature", low=0.0, low_open=True)
        self.class_temperature = self.temperature if class_temperature is None else \
            _check_float(class_temperature, "class_temperature", low=0.0, low_open=True)
        self.beta = _check_float(beta, "beta", low=0.0)
        self.normalize = bool(normalize)
        self.reduction = _check_reduction(reduction)

    def _ids(self, ids: Any, name: str, n: int, device: torch.device) -> Tensor:
        if not isinstance(ids, Tensor):
            ids = torch.from_numpy(as_1d_labels(ids, name)).to(device)
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise TypeError(f"{name}: expected integer ids, got {ids.dtype}")
        if tuple(ids.shape) != (n,):
            raise ValueError(f"{name}: expected shape ({n},) to match features, "
                             f"got {tuple(ids.shape)}")
        return ids

    def forward(self, features: Tensor, subclass_ids: Tensor,
                class_ids: Tensor | None = None) -> Tensor:
        """Loss of ``features`` (N, D) or (N, V, D) given subclass and class ids."""
        if not isinstance(features, Tensor) or not features.is_floating_point():
            raise TypeError("features: expected a floating point torch.Tensor")
        if features.ndim not in (2, 3) or features.shape[0] == 0 or features.shape[-1] == 0:
            raise ValueError(f"features: expected a non-empty (N, D) or (N, V, D) tensor, "
                             f"got shape {tuple(features.shape)}")
        n = features.shape[0]
        sub = self._ids(subclass_ids, "subclass_ids", n, features.device)
        cls = None if class_ids is None else self._ids(class_ids, "class_ids", n, features.device)
        cd = _compute_dtype(features)
        f = features.to(cd)
        if f.ndim == 3:
            # views stacked view-major, as SupCon: anchor k*N + i is view k of sample i
            views = f.shape[1]
            f = f.transpose(0, 1).reshape(-1, f.shape[-1])
            sub = sub.repeat(views)
            cls = None if cls is None else cls.repeat(views)
        if self.normalize:
            f = F.normalize(f, dim=1)
        m = f.shape[0]
        not_self = ~torch.eye(m, dtype=torch.bool, device=f.device)
        same_sub = sub.unsqueeze(0) == sub.unsqueeze(1)
        dots = f @ f.T
        sub_val, has = _masked_mean_log_prob(dots / self.temperature, same_sub & not_self,
                                             not_self)
        loss = -sub_val
        if cls is not None:
            same_cls = cls.unsqueeze(0) == cls.unsqueeze(1)
            if f.device.type == "cpu" and bool((same_sub & ~same_cls).any()):
                raise ValueError("subclass_ids: every subclass must lie inside one class "
                                 "(a subclass id appears with two class ids)")
            cls_val, has_c = _masked_mean_log_prob(dots / self.class_temperature,
                                                   same_cls & ~same_sub, ~same_sub)
            loss = loss - self.beta * cls_val
            has = has | has_c
        return _reduce(loss, has, self.reduction, features.dtype, (m,))

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, class_temperature={self.class_temperature}, " \
               f"beta={self.beta}"
