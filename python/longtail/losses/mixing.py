"""Mixing recipes that favour the minority classes: Remix (Chou et al. 2020)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from longtail._checks import as_1d_labels
from longtail.losses._checks import ArrayLike, _check_float, _counts_array
from longtail.losses._common import _one_hot

__all__ = ["remix"]


def remix(x: Tensor, y: Any, counts: ArrayLike, *, alpha: float = 1.0, kappa: float = 3.0,
          tau: float = 0.5, seed: int | None = None,
          dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor]:
    """Rebalanced mixup: mix inputs as mixup, move the label towards the minority class.

    As mixup, ``lam ~ Beta(alpha, alpha)`` (one draw per batch) and every sample ``i`` is
    mixed with sample ``j = perm(i)`` of a random permutation of the batch,
    ``x~ = lam x_i + (1 - lam) x_j``. The label is ``y~ = lam_y e_{y_i} + (1 - lam_y) e_{y_j}``
    with, for class counts ``n``:

    - ``lam_y = 0`` if ``n_{y_i} / n_{y_j} >= kappa`` and ``lam < tau`` (i is a much larger
      class and contributes little: the label goes to the minority class j);
    - ``lam_y = 1`` if ``n_{y_i} / n_{y_j} <= 1 / kappa`` and ``1 - lam < tau``;
    - ``lam_y = lam`` otherwise (plain mixup).

    Train with the soft targets, e.g. ``F.cross_entropy(model(x_mix), y_soft)``. A class
    with count 0 is given the smallest positive count. On a GPU, pass ``counts`` as a
    tensor on that device to avoid a copy per call (its values are then not checked).

    Chou, Chang, Pan, Wei, Juan, "Remix: Rebalanced Mixup", ECCV 2020 Workshops.

    Parameters
    ----------
    x : torch.Tensor
        Batch of inputs (N, ...), floating point.
    y : torch.Tensor or array_like
        Integer class ids (N,).
    counts : array_like or torch.Tensor
        Training examples per class (C,).
    alpha : float, default 1.0
        Beta parameter, ``> 0``.
    kappa : float, default 3.0
        Count ratio that makes a pair imbalanced, ``>= 1``.
    tau : float, default 0.5
        Share below which the majority sample loses its label, in ``[0, 1]``.
    seed : int, optional
        Fixes ``lam`` and the permutation; None uses torch's global generator.
    dtype : torch.dtype, optional
        Dtype of the soft targets (default: that of ``x``).

    Returns
    -------
    x_mix : torch.Tensor
        Mixed inputs, like ``x``.
    y_soft : torch.Tensor
        (N, C) soft targets; each row sums to 1.

    Raises
    ------
    TypeError
        If ``x`` is not a floating point tensor, ``y`` does not hold integer class ids,
        ``seed`` is not an integer or None, or ``alpha`` / ``kappa`` / ``tau`` is not a real
        number.
    ValueError
        If ``x`` is not a non-empty batch, ``alpha`` is not > 0, ``kappa`` is below 1,
        ``tau`` is outside ``[0, 1]``, ``counts`` is not a finite 1-D array of non-negative
        values with a positive entry, ``y`` does not have shape (N,), or a CPU ``y`` holds a
        class id outside ``[0, len(counts))``.

    Examples
    --------
    >>> x = torch.eye(4)
    >>> y = torch.tensor([0, 0, 0, 1])
    >>> x_mix, y_soft = remix(x, y, [100, 10], seed=0)
    >>> y_soft.shape, bool(torch.allclose(y_soft.sum(1), torch.ones(4)))
    (torch.Size([4, 2]), True)
    """
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError("x: expected a floating point torch.Tensor")
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"x: expected a non-empty batch (N, ...), got shape {tuple(x.shape)}")
    n = x.shape[0]
    alpha = _check_float(alpha, "alpha", low=0.0, low_open=True)
    kappa = _check_float(kappa, "kappa", low=1.0)
    tau = _check_float(tau, "tau", low=0.0, high=1.0)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed: expected an integer or None, got {seed!r}")
    if isinstance(counts, Tensor) and counts.device.type != "cpu":
        cnt = counts.to(device=x.device, dtype=torch.float64)
        if cnt.ndim != 1:
            raise ValueError(f"counts: expected a 1-D tensor, got shape {tuple(cnt.shape)}")
    else:
        arr = _counts_array(counts)
        arr = np.where(arr > 0, arr, arr[arr > 0].min())
        cnt = torch.as_tensor(arr, dtype=torch.float64, device=x.device)
    c = cnt.shape[0]
    if not isinstance(y, Tensor):
        y = torch.from_numpy(as_1d_labels(y, "y")).to(x.device)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"y: expected integer class ids, got {y.dtype}")
    if tuple(y.shape) != (n,):
        raise ValueError(f"y: expected shape ({n},) to match x, got {tuple(y.shape)}")
    if y.device.type == "cpu" and bool(((y < 0) | (y >= c)).any()):
        raise ValueError(f"y: class ids must be in [0, {c}) (the length of counts)")
    y = y.to(x.device).long()
    if seed is None:
        np_seed = int(torch.randint(0, 2**62, (1,)).item())  # CPU generator: no device sync
        perm = torch.randperm(n, device=x.device)
    else:
        np_seed = int(seed) % 2**63
        gen = torch.Generator(device=x.device)
        gen.manual_seed(np_seed)
        perm = torch.randperm(n, device=x.device, generator=gen)
    lam = float(np.random.Generator(np.random.PCG64(np_seed)).beta(alpha, alpha))
    x_mix = lam * x + (1 - lam) * x[perm]
    y2 = y[perm]
    ratio = cnt[y] / cnt[y2]
    lam_y = torch.full((n,), lam, dtype=torch.float64, device=x.device)
    to_j = (ratio >= kappa) & (lam < tau)
    to_i = (ratio <= 1 / kappa) & (1 - lam < tau) & ~to_j  # the paper's "else if"
    lam_y = torch.where(to_j, torch.zeros_like(lam_y), lam_y)
    lam_y = torch.where(to_i, torch.ones_like(lam_y), lam_y)
    out = x.dtype if dtype is None else dtype
    lam_y = lam_y.to(out).unsqueeze(1)
    y_soft = lam_y * _one_hot(y, c, out) + (1 - lam_y) * _one_hot(y2, c, out)
    return x_mix, y_soft
