"""longtail.losses.detection (Seesaw, EQLv2) against formulas written here.

The references follow the papers and the authors' code (mmdetection's seesaw_ce_loss with
online cumulative counts; EQLv2's gradient collection) with numpy loops per sample.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from longtail import losses as L


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(torch.as_tensor(a).detach().double()),
                               np.asarray(b, dtype=np.float64), rtol=tol, atol=tol)


def data(n=12, c=5, seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=g, dtype=torch.float64) * scale
    y = torch.randint(0, c, (n,), generator=g)
    return z, y


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


# --------------------------------------------------------------------------------------
# Seesaw
# --------------------------------------------------------------------------------------


def ref_seesaw(z, y, cum, p, q, eps=1e-2, ignore=-100, reduction="mean"):
    z = np.asarray(z, dtype=np.float64)
    out, kept = [], []
    for row, i in zip(z, np.asarray(y)):
        if i == ignore:
            out.append(0.0)
            kept.append(False)
            continue
        e = [math.exp(v) for v in row]
        s = [v / sum(e) for v in e]
        denom = e[i]
        for j in range(len(row)):
            if j == i:
                continue
            ni, nj = max(cum[i], 1.0), max(cum[j], 1.0)
            m = (nj / ni) ** p if nj < ni else 1.0
            r = s[j] / max(s[i], eps)
            comp = r**q if r > 1 else 1.0
            denom += m * comp * e[j]
        out.append(-math.log(e[i] / denom))
        kept.append(True)
    out = np.array(out)
    if reduction == "none":
        return out
    if reduction == "sum":
        return out.sum()
    return out.sum() / max(sum(kept), 1)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("p,q", [(0.8, 2.0), (0.0, 2.0), (0.8, 0.0), (1.5, 0.5)])
def test_seesaw_functional_matches_formula(reduction, p, q):
    z, y = data()
    y[3] = -100
    cum = [500.0, 120.0, 0.0, 7.0, 1.0]
    got = L.seesaw_loss(z, y, cum, p=p, q=q, reduction=reduction)
    close(got, ref_seesaw(z.numpy(), y.numpy(), cum, p, q, reduction=reduction))


def test_seesaw_p_q_zero_is_cross_entropy():
    z, y = data()
    crit = L.SeesawLoss(5, p=0.0, q=0.0)
    close(crit(z, y), F.cross_entropy(z, y).item(), 1e-12)


def test_seesaw_counts_accumulate_online_before_the_loss():
    crit = L.SeesawLoss(5, p=0.8, q=2.0, counts=[10, 0, 0, 0, 0])
    cum = np.array([10.0, 0, 0, 0, 0])
    for seed in range(3):
        z, y = data(seed=seed)
        y[0] = -100  # ignored samples are not counted
        for lab in y.tolist():
            if lab != -100:
                cum[lab] += 1
        close(crit(z, y), ref_seesaw(z.numpy(), y.numpy(), cum, 0.8, 2.0))
    close(crit.cum_samples, cum, 0)
    crit.eval()  # evaluation does not count
    crit(*data(seed=9))
    close(crit.cum_samples, cum, 0)


def test_seesaw_gradient_has_no_term_through_the_compensation_scores():
    z, y = data(n=6, c=4)
    z.requires_grad_()
    cum = [50.0, 10.0, 3.0, 1.0]
    # with the factors frozen at this z, the loss is CE on z + log S: same gradient
    loss = L.seesaw_loss(z, y, cum, p=0.8, q=2.0)
    (g,) = torch.autograd.grad(loss, z)
    zz = z.detach().numpy()
    log_s = np.zeros_like(zz)
    for k, (row, i) in enumerate(zip(zz, y.numpy())):
        s = np.exp(row) / np.exp(row).sum()
        for j in range(4):
            if j != i:
                m = (cum[j] / cum[i]) ** 0.8 if cum[j] < cum[i] else 1.0
                r = s[j] / max(s[i], 1e-2)
                log_s[k, j] = math.log(m * (r**2 if r > 1 else 1.0))
    zf = (z.detach() + torch.from_numpy(log_s)).requires_grad_()
    (g2,) = torch.autograd.grad(F.cross_entropy(zf, y), zf)
    close(g, g2.numpy(), 1e-10)


# --------------------------------------------------------------------------------------
# EQLv2
# --------------------------------------------------------------------------------------


def ref_eqlv2_weights(pos_neg, gamma, mu, alpha):
    neg = [1 / (1 + math.exp(-gamma * (g - mu))) for g in pos_neg]
    return [1 + alpha * (1 - v) for v in neg], neg


def ref_eqlv2(z, y, pos_neg, gamma=12.0, mu=0.8, alpha=4.0, ignore=-100, reduction="mean"):
    """Loss and the batch's (pos, neg) gradient statistics."""
    z = np.asarray(z, dtype=np.float64)
    c = z.shape[1]
    pw, nw = ref_eqlv2_weights(pos_neg, gamma, mu, alpha)
    out, pos, neg, kept = [], np.zeros(c), np.zeros(c), 0
    for row, lab in zip(z, np.asarray(y)):
        if lab == ignore:
            out.append(0.0)
            continue
        kept += 1
        tot = 0.0
        for j in range(c):
            t = 1.0 if lab == j else 0.0  # lab == c: background, negative everywhere
            w = pw[j] if t else nw[j]
            p = sig(row[j])
            tot += -w * (t * math.log(p) + (1 - t) * math.log(1 - p))
            if t:
                pos[j] += abs(p - 1) * w
            else:
                neg[j] += p * w
        out.append(tot)
    out = np.array(out)
    red = {"none": out, "sum": out.sum(), "mean": out.sum() / max(kept, 1)}[reduction]
    return red, pos, neg


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_eqlv2_matches_formula_and_collects_gradients_over_steps(reduction):
    c = 4
    crit = L.EQLv2Loss(c, reduction=reduction)
    pos_acc, neg_acc = np.zeros(c), np.zeros(c)
    ratio = [100.0] * c
    for seed in range(3):
        z, y = data(n=10, c=c, seed=seed)
        y[0] = c  # background
        y[1] = -100
        z.requires_grad_()
        want, pos, neg = ref_eqlv2(z.detach().numpy(), y.numpy(), ratio, reduction=reduction)
        loss = crit(z, y)
        close(loss, want)
        close(crit.pos_grad, pos_acc, 1e-12)  # a forward alone changes nothing
        loss.sum().backward()
        pos_acc += pos
        neg_acc += neg
        close(crit.pos_grad, pos_acc, 1e-10)
        close(crit.neg_grad, neg_acc, 1e-10)
        ratio = list(pos_acc / (neg_acc + 1e-10))
        close(crit.pos_neg, ratio, 1e-10)
    # the functional twin with the module's ratios gives the module's loss
    z, y = data(n=10, c=c, seed=7)
    close(L.eqlv2_loss(z, y, crit.pos_neg, reduction=reduction),
          ref_eqlv2(z.numpy(), y.numpy(), ratio, reduction=reduction)[0])


def test_eqlv2_statistics_are_the_gradient_of_the_summed_loss():
    crit = L.EQLv2Loss(3, reduction="sum")
    crit.pos_neg.copy_(torch.tensor([0.2, 0.9, 3.0]))
    z, y = data(n=8, c=3, seed=4)
    z.requires_grad_()
    loss = crit(z, y)
    (g,) = torch.autograd.grad(loss, z)
    onehot = F.one_hot(y, 3).double()
    close(crit.pos_grad, (g.abs() * onehot).sum(0).numpy(), 1e-12)
    close(crit.neg_grad, (g.abs() * (1 - onehot)).sum(0).numpy(), 1e-12)


def test_eqlv2_eval_and_no_grad_collect_nothing():
    crit = L.EQLv2Loss(3)
    z, y = data(n=8, c=3)
    with torch.no_grad():
        crit(z, y)
    crit.eval()
    zz = z.clone().requires_grad_()
    crit(zz, y).backward()
    assert crit.pos_grad.abs().sum() == 0 and (crit.pos_neg == 100).all()


def test_eqlv2_start_is_plain_sigmoid_bce():
    z, y = data(n=8, c=3)
    crit = L.EQLv2Loss(3, reduction="sum")
    bce = F.binary_cross_entropy_with_logits(z, F.one_hot(y, 3).double(), reduction="sum")
    # ratio 100: q = f(100) = 1 and r = 1 + alpha (1 - 1) = 1 up to exp(-12 * 99.2)
    close(crit(z, y), bce.item(), 1e-12)


# --------------------------------------------------------------------------------------
# properties, gradients, errors
# --------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(1, 8), st.integers(2, 6), st.floats(0, 2), st.floats(0, 3),
       st.integers(0, 10**6))
def test_seesaw_is_at_most_cross_entropy_plus_compensation(n, c, p, q, seed):
    # mitigation only lowers non-target logits; with q = 0 the loss never exceeds CE
    z, y = data(n=n, c=c, seed=seed)
    cum = torch.randint(0, 100, (c,), generator=torch.Generator().manual_seed(seed))
    loss = L.seesaw_loss(z, y, cum, p=p, q=0.0, reduction="none")
    assert (loss <= F.cross_entropy(z, y, reduction="none") + 1e-12).all()
    full = L.seesaw_loss(z, y, cum, p=p, q=q, reduction="none")
    assert (full >= loss - 1e-12).all()  # compensation only raises them


def test_gradcheck_detection_losses():
    z, y = data(n=6, c=4, scale=1.0)
    y[2] = -100
    z.requires_grad_()
    # q = 0: the compensation factor carries no gradient by design (detached scores, as
    # mmdetection), so finite differences cannot see it; it is checked with the factors
    # frozen in test_seesaw_gradient_has_no_term_through_the_compensation_scores
    crit = L.SeesawLoss(4, q=0.0, counts=[40, 9, 2, 0])
    crit.eval()  # counts fixed while gradcheck evaluates the loss repeatedly
    assert torch.autograd.gradcheck(lambda x: crit(x, y), (z,))
    eql = L.EQLv2Loss(4, reduction="none")
    eql.pos_neg.copy_(torch.tensor([0.1, 0.7, 0.85, 2.0]))
    eql.eval()
    y2 = y.clone()
    y2[0] = 4
    assert torch.autograd.gradcheck(lambda x: eql(x, y2), (z,))


def test_bad_arguments_name_the_argument():
    z, y = data()
    with pytest.raises(ValueError, match="counts"):
        L.seesaw_loss(z, y, [1, 2, -3, 4, 5])
    with pytest.raises(ValueError, match="counts"):
        L.SeesawLoss(5, counts=[1, 2, 3])
    with pytest.raises(ValueError, match="num_classes"):
        L.SeesawLoss(0)
    with pytest.raises(ValueError, match="num_classes"):
        L.EQLv2Loss(-2)
    for kw, name in [({"p": -1}, "p"), ({"q": -0.1}, "q"), ({"eps": 0.0}, "eps")]:
        with pytest.raises(ValueError, match=name):
            L.SeesawLoss(5, **kw)
    with pytest.raises(ValueError, match="alpha"):
        L.EQLv2Loss(5, alpha=-1)
    with pytest.raises(ValueError, match="logits"):
        L.SeesawLoss(4)(z, y.clamp(max=3))
    with pytest.raises(ValueError, match="logits"):
        L.EQLv2Loss(5)(z.unsqueeze(-1), y.unsqueeze(-1))
    with pytest.raises(ValueError, match="target"):
        L.SeesawLoss(5)(z, y[:-1])
    with pytest.raises(ValueError, match="target"):
        L.SeesawLoss(5)(z, torch.full_like(y, 5))  # C is background only for EQLv2
    with pytest.raises(ValueError, match="target"):
        L.EQLv2Loss(5)(z, torch.full_like(y, 6))
    with pytest.raises(ValueError, match="pos_neg"):
        L.eqlv2_loss(z, y, [1.0, 2.0])
