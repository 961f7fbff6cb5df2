"""Contrastive losses: subclass-balancing contrastive learning (SBCL, Hou et al. 2023)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from longtail._checks import as_1d_labels
from longtail.losses._checks import _check_float, _check_reduction, _compute_dtype
from longtail.losses._common import _reduce

__all__ = ["SubclassContrastiveLoss", "subclass_contrastive_loss"]


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

    Parameters
    ----------
    features : torch.Tensor
        Floating point features (N, D) or (N, V, D) with V views per sample.
    subclass_ids : torch.Tensor or array_like
        Integer subclass id of each sample (N,).
    class_ids : torch.Tensor or array_like, optional
        Integer class id of each sample (N,); None keeps only the subclass term.
    temperature, class_temperature, beta, normalize, reduction
        As in :class:`SubclassContrastiveLoss`.

    Returns
    -------
    torch.Tensor
        The loss in the dtype of ``features``: a scalar, or per anchor, shape (N*V,), for
        ``reduction="none"``.

    Raises
    ------
    TypeError
        As :class:`SubclassContrastiveLoss`.
    ValueError
        As :class:`SubclassContrastiveLoss`.

    Examples
    --------
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

    Forward: ``features`` (N, D) or (N, V, D) with V views per sample (views share ids),
    ``subclass_ids`` (N,), ``class_ids`` (N,) or None. Every subclass must lie inside one
    class (checked on the CPU).

    Parameters
    ----------
    temperature : float, default 0.1
        t1 of the subclass term, ``> 0``.
    class_temperature : float, optional
        t2 of the class term (default: ``temperature``), ``> 0``.
    beta : float, default 0.25
        Weight of the class term, ``>= 0``.
    normalize : bool, default True
        L2-normalise the features first (SBCL and SupCon use unit vectors).
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-anchor losses are combined (``"none"``: shape (N*V,)).

    Raises
    ------
    TypeError
        If ``temperature``, ``class_temperature`` or ``beta`` is not a real number. When
        called: if ``features`` is not a floating point tensor, or ``subclass_ids`` /
        ``class_ids`` do not hold integer ids.
    ValueError
        If ``temperature`` or ``class_temperature`` is not > 0, ``beta`` is negative, or
        ``reduction`` is unknown. When called: if ``features`` is not a non-empty (N, D) or
        (N, V, D) tensor, ``subclass_ids`` / ``class_ids`` do not have shape (N,), or (on
        the CPU) a subclass spans two classes (``subclass_ids``).

    Examples
    --------
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
