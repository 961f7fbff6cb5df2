"""longtail.losses.dense (class-balanced BCE, ASL, Tversky) against formulas written here.

The references are plain numpy loops over elements written from the papers' formulas,
not from the library's code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from longtail import losses as L


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(torch.as_tensor(a).detach().double()),
                               np.asarray(b, dtype=np.float64), rtol=tol, atol=tol)


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def eff_inv(n, beta):
    if n == 0:
        return 0.0
    if beta == 0:
        return 1.0
    return (1 - beta) / (1 - beta**n)


def reduce_rows(per_elem, keep, reduction):
    """per_elem, keep: (M, C) numpy; mean over rows with a kept element of row sums."""
    per_elem = np.where(keep, per_elem, 0.0)
    rows = per_elem.sum(1)
    if reduction == "none":
        return rows
    if reduction == "sum":
        return rows.sum()
    n = keep.any(1).sum()
    return rows.sum() / n if n else 0.0


def multilabel(n=10, c=4, seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=g, dtype=torch.float64) * scale
    y = (torch.rand(n, c, generator=g) < 0.3).double()
    return z, y


# --------------------------------------------------------------------------------------
# ClassBalancedBCELoss
# --------------------------------------------------------------------------------------


def ref_cb_bce(z, y, pos, neg, beta, reduction="mean", ignore=None):
    c = len(pos)
    if neg is None:
        w = [eff_inv(n, beta) for n in pos]
        s = sum(w)
        wp = wn = [v / s * c for v in w]
    else:
        w = [eff_inv(n, beta) for n in list(pos) + list(neg)]
        s = sum(w)
        w = [v / s * 2 * c for v in w]
        wp, wn = w[:c], w[c:]
    z, y = np.asarray(z), np.asarray(y)
    out = np.zeros_like(z)
    keep = np.ones(z.shape, dtype=bool) if ignore is None else y != ignore
    for i in range(z.shape[0]):
        for j in range(c):
            if not keep[i, j]:
                continue
            p = sig(z[i, j])
            out[i, j] = -(wp[j] * y[i, j] * math.log(p) + wn[j] * (1 - y[i, j]) * math.log(1 - p))
    return reduce_rows(out, keep, reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("neg", [None, [30, 80, 95, 99]])
@pytest.mark.parametrize("beta", [0.0, 0.9, 0.999])
def test_cb_bce_matches_formula(reduction, neg, beta):
    pos = [70, 20, 5, 0]
    z, y = multilabel()
    crit = L.ClassBalancedBCELoss(pos, neg, beta=beta, reduction=reduction)
    close(crit(z, y), ref_cb_bce(z.numpy(), y.numpy(), pos, neg, beta, reduction))
    close(L.class_balanced_bce_loss(z, y, pos, neg, beta=beta, reduction=reduction),
          ref_cb_bce(z.numpy(), y.numpy(), pos, neg, beta, reduction))


def test_cb_bce_beta_zero_is_bce_summed_over_classes_and_dense_ignore():
    z, y = multilabel()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="sum")
    close(L.ClassBalancedBCELoss([3, 3, 3, 3], beta=0.0, reduction="sum")(z, y), bce.item())
    # dense (N, C, H, W) with an ignored label 255: same as the flattened kept elements
    g = torch.Generator().manual_seed(1)
    zd = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)
    yd = (torch.rand(2, 3, 4, 5, generator=g) < 0.2).double()
    yd[0, :, 1, 1] = 255
    yd[1, 2, 3, 4] = 255
    crit = L.ClassBalancedBCELoss([5, 10, 40], [95, 90, 60], beta=0.99, ignore_index=255)
    flat_z = zd.movedim(1, -1).reshape(-1, 3).numpy()
    flat_y = yd.movedim(1, -1).reshape(-1, 3).numpy()
    want = ref_cb_bce(flat_z, flat_y, [5, 10, 40], [95, 90, 60], 0.99, "mean", ignore=255)
    close(crit(zd, yd), want)
    crit.reduction = "none"
    assert crit(zd, yd).shape == (2, 4, 5) and crit(zd, yd)[0, 1, 1].item() == 0.0


# --------------------------------------------------------------------------------------
# AsymmetricLoss
# --------------------------------------------------------------------------------------


def ref_asl(z, y, gn, gp, clip, eps=1e-8, reduction="mean"):
    z, y = np.asarray(z), np.asarray(y)
    out = np.zeros_like(z)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            # for 0/1 targets: -(1 - p)**gp log p if y = 1, -p_m**gn log(1 - p_m) if y = 0,
            # p_m = max(p - clip, 0); soft targets as the authors' code blends them
            p = sig(z[i, j])
            pm = max(p - clip, 0.0)
            t = y[i, j]
            ce = t * math.log(max(p, eps)) + (1 - t) * math.log(max(1 - pm, eps))
            pt = p * t + (1 - pm) * (1 - t)
            out[i, j] = -ce * (1 - pt) ** (gp * t + gn * (1 - t))
    return reduce_rows(out, np.ones(z.shape, dtype=bool), reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("gn,gp,clip", [(4, 1, 0.05), (2, 0, 0.2), (0, 0, 0.0), (1.5, 0.5, 0.0)])
def test_asl_matches_formula(reduction, gn, gp, clip):
    z, y = multilabel(scale=3.0)
    crit = L.AsymmetricLoss(gn, gp, clip, reduction=reduction)
    close(crit(z, y), ref_asl(z.numpy(), y.numpy(), gn, gp, clip, reduction=reduction))


def test_asl_limit_gamma0_clip0_is_bce():
    z, y = multilabel()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none").sum(1)
    close(L.AsymmetricLoss(0.0, 0.0, 0.0)(z, y), bce.mean().item(), 1e-12)
    close(L.asymmetric_loss(z, y, gamma_neg=0, gamma_pos=0, clip=0, reduction="sum"),
          bce.sum().item(), 1e-12)


def test_asl_soft_targets_and_ignore():
    z, y = multilabel()
    y[0, 0] = 0.3  # soft target: interpolates the two terms
    y[1, 1] = -1
    crit = L.AsymmetricLoss(ignore_index=-1, reduction="none")
    per = crit(z, y)
    y_ref = y.numpy().copy()
    keep = y_ref != -1
    y_ref[~keep] = 0
    out = np.zeros(z.shape)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            out[i, j] = ref_asl(z[i:i + 1, j:j + 1].numpy(), y_ref[i:i + 1, j:j + 1], 4, 1,
                                0.05, reduction="sum") if keep[i, j] else 0.0
    close(per, out.sum(1))


# --------------------------------------------------------------------------------------
# TverskyLoss
# --------------------------------------------------------------------------------------


def ref_tversky(z, t, alpha, beta, gamma, ignore=None, reduction="mean"):
    """z (N, C, ...) numpy, t (N, ...) ints."""
    z = np.moveaxis(np.asarray(z), 1, -1).reshape(-1, z.shape[1])
    t = np.asarray(t).reshape(-1)
    c = z.shape[1]
    tp, fp, fn = [0.0] * c, [0.0] * c, [0.0] * c
    for row, lab in zip(z, t):
        if ignore is not None and lab == ignore:
            continue
        m = max(row)
        e = [math.exp(v - m) for v in row]
        s = sum(e)
        for k in range(c):
            p = e[k] / s
            yk = 1.0 if lab == k else 0.0
            tp[k] += p * yk
            fp[k] += p * (1 - yk)
            fn[k] += (1 - p) * yk
    per = np.array([(1 - tp[k] / (tp[k] + alpha * fp[k] + beta * fn[k] + 1e-7)) ** gamma
                    for k in range(c)])
    return {"none": per, "sum": per.sum(), "mean": per.mean()}[reduction]


def seg(n=2, c=3, h=4, w=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, h, w, generator=g, dtype=torch.float64) * 2
    t = torch.randint(0, c, (n, h, w), generator=g)
    return z, t


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("alpha,beta,gamma", [(0.5, 0.5, 1.0), (0.3, 0.7, 1.0),
                                              (0.7, 0.3, 0.75), (1.0, 1.0, 2.0)])
def test_tversky_matches_formula(reduction, alpha, beta, gamma):
    z, t = seg()
    crit = L.TverskyLoss(alpha, beta, gamma, reduction=reduction)
    close(crit(z, t), ref_tversky(z.numpy(), t.numpy(), alpha, beta, gamma,
                                  reduction=reduction))


def test_tversky_half_half_is_one_minus_dice_and_ignore():
    z, t = seg(seed=3)
    p = torch.softmax(z, 1)
    y = torch.nn.functional.one_hot(t, 3).movedim(-1, 1).double()
    dims = (0, 2, 3)
    dice = 2 * (p * y).sum(dims) / (p.sum(dims) + y.sum(dims))
    close(L.TverskyLoss(0.5, 0.5)(z, t), (1 - dice).mean().item(), 1e-7)
    t2 = t.clone()
    t2[0, :2] = 255
    want = ref_tversky(z.numpy(), t2.numpy(), 0.3, 0.7, 1.0, ignore=255)
    close(L.tversky_loss(z, t2, alpha=0.3, beta=0.7, ignore_index=255), want)


# --------------------------------------------------------------------------------------
# properties, gradients, errors
# --------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(1, 6), st.integers(1, 5), st.floats(0.0, 0.9999), st.integers(0, 10**6))
def test_cb_bce_is_nonnegative_and_zero_pos_count_means_zero_weight(n, c, beta, seed):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=g, dtype=torch.float64)
    y = (torch.rand(n, c, generator=g) < 0.5).double()
    pos = torch.randint(0, 50, (c,), generator=g).tolist()
    pos[0] = max(pos[0], 1)
    crit = L.ClassBalancedBCELoss(pos, beta=beta, reduction="none")
    assert (crit(z, y) >= 0).all()
    for j, cnt in enumerate(pos):
        if cnt == 0:
            assert crit.pos_weight[j] == 0 and crit.neg_weight[j] == 0


def test_gradcheck_dense_losses():
    z, y = multilabel(n=5, c=3)
    z.requires_grad_()
    y[0, 0] = 0.4
    crits = [L.ClassBalancedBCELoss([10, 5, 1], [40, 45, 49], beta=0.99),
             L.AsymmetricLoss(4, 1, 0.05), L.AsymmetricLoss(2.5, 0.5, 0.0, reduction="none")]
    for crit in crits:
        assert torch.autograd.gradcheck(lambda x, crit=crit: crit(x, y), (z,))
    zs, t = seg(n=1, h=2, w=3)
    zs.requires_grad_()
    for crit in (L.TverskyLoss(0.3, 0.7), L.TverskyLoss(0.5, 0.5, 0.75, reduction="none")):
        assert torch.autograd.gradcheck(lambda x, crit=crit: crit(x, t), (zs,))


def test_bad_arguments_name_the_argument():
    z, y = multilabel()
    with pytest.raises(ValueError, match="pos_counts"):
        L.ClassBalancedBCELoss([3, -1, 2, 2])
    with pytest.raises(ValueError, match="neg_counts"):
        L.ClassBalancedBCELoss([3, 1, 2, 2], [1, 2, -3, 4])
    with pytest.raises(ValueError, match="neg_counts"):
        L.ClassBalancedBCELoss([3, 1, 2, 2], [1, 2])
    with pytest.raises(ValueError, match="beta"):
        L.ClassBalancedBCELoss([3, 1, 2, 2], beta=1.0)
    with pytest.raises(ValueError, match="logits"):
        L.ClassBalancedBCELoss([3, 1, 2])(z, y)
    with pytest.raises(ValueError, match="target"):
        L.AsymmetricLoss()(z, y[:, :3])
    with pytest.raises(ValueError, match="target"):
        L.AsymmetricLoss()(z, y * 2)
    with pytest.raises(ValueError, match="target"):
        L.ClassBalancedBCELoss([1, 1, 1, 1])(z, y - 1)  # -1 without ignore_index
    for kw, name in [({"gamma_neg": -1}, "gamma_neg"), ({"gamma_pos": -0.5}, "gamma_pos"),
                     ({"clip": 1.0}, "clip"), ({"clip": -0.1}, "clip"), ({"eps": 0}, "eps")]:
        with pytest.raises(ValueError, match=name):
            L.AsymmetricLoss(**kw)
    with pytest.raises(ValueError, match="reduction"):
        L.AsymmetricLoss(reduction="avg")
    with pytest.raises(TypeError, match="ignore_index"):
        L.AsymmetricLoss(ignore_index=0.5)
    zs, t = seg()
    for kw, name in [({"alpha": -1}, "alpha"), ({"beta": -1}, "beta"), ({"gamma": 0}, "gamma")]:
        with pytest.raises(ValueError, match=name):
            L.TverskyLoss(**kw)
    with pytest.raises(ValueError, match="target"):
        L.TverskyLoss()(zs, t[:, :2])
    with pytest.raises(ValueError, match="target"):
        L.TverskyLoss()(zs, t + 5)
    with pytest.raises(ValueError, match="logits"):
        L.TverskyLoss()(zs[0, 0], t[0, 0])
