"""longtail.losses against independent formulas written here, gradients, edge cases, errors.

Each reference below is written from the paper's formula with plain numpy loops, not
from the library's code, so a shared mistake would have to be made twice.
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

# --------------------------------------------------------------------------------------
# references
# --------------------------------------------------------------------------------------


def ref_log_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    for i, row in enumerate(z):
        m = row.max()
        out[i] = row - (m + math.log(sum(math.exp(v - m) for v in row)))
    return out


def ref_cb_weights(counts, beta):
    c = len(counts)
    w = []
    for n in counts:
        if n == 0:
            w.append(0.0)
        elif beta == 0:
            w.append(1.0)
        else:
            w.append((1.0 - beta) / (1.0 - beta**n))
    s = sum(w)
    return np.array([v / s * c for v in w])


def ref_reduce(per_sample, keep, reduction, denom=None):
    per_sample = np.where(keep, per_sample, 0.0)
    if reduction == "none":
        return per_sample
    if reduction == "sum":
        return per_sample.sum()
    d = keep.sum() if denom is None else denom
    return per_sample.sum() / d if d > 0 else 0.0


def ref_ce(z, y, offset=None, weight=None, ignore_index=-100, reduction="mean",
           weighted_mean=True):
    z = np.asarray(z, dtype=np.float64)
    if offset is not None:
        z = z + np.asarray(offset)[None, :]
    lp = ref_log_softmax(z)
    keep = np.asarray(y) != ignore_index
    per = np.array([-lp[i, y[i]] if keep[i] else 0.0 for i in range(len(y))])
    denom = None
    if weight is not None:
        w = np.array([weight[y[i]] if keep[i] else 0.0 for i in range(len(y))])
        per = per * w
        denom = w.sum() if weighted_mean else None
    return ref_reduce(per, keep, reduction, denom)


def ref_sigmoid_cb(z, y, counts, beta, gamma=None, reduction="mean"):
    w = ref_cb_weights(counts, beta)
    z = np.asarray(z, dtype=np.float64)
    per = []
    for i in range(len(y)):
        total = 0.0
        for j in range(z.shape[1]):
            p = 1.0 / (1.0 + math.exp(-z[i, j]))
            pt = p if j == y[i] else 1.0 - p
            term = -math.log(pt)
            if gamma is not None:
                term *= (1.0 - pt) ** gamma
            total += term
        per.append(w[y[i]] * total)
    return ref_reduce(np.array(per), np.ones(len(y), bool), reduction)


def ref_focal(z, y, gamma, alpha=None, reduction="mean", ignore_index=-100):
    lp = ref_log_softmax(z)
    keep = np.asarray(y) != ignore_index
    per = []
    for i in range(len(y)):
        if not keep[i]:
            per.append(0.0)
            continue
        p = math.exp(lp[i, y[i]])
        a = 1.0 if alpha is None else (alpha if np.isscalar(alpha) else alpha[y[i]])
        per.append(-a * (1.0 - p) ** gamma * math.log(p))
    return ref_reduce(np.array(per), keep, reduction)


def ref_ldam_margins(counts, max_m):
    raw = [n**-0.25 for n in counts if n > 0]
    scale = max_m / max(raw)
    return np.array([n**-0.25 * scale if n > 0 else max_m for n in counts])


def ref_ldam(z, y, counts, max_m, s, weight=None, reduction="mean"):
    m = ref_ldam_margins(counts, max_m)
    z = np.array(z, dtype=np.float64)
    for i in range(len(y)):
        z[i, y[i]] -= m[y[i]]
    return ref_ce(s * z, y, weight=weight, reduction=reduction)


def ref_log_counts(counts):
    floor = min(n for n in counts if n > 0)
    return np.array([math.log(n if n > 0 else floor) for n in counts])


def ref_supcon_terms(f, sub, cls, t1, t2):
    """Per-anchor (L_sub, L_cls, has_sub, has_cls) by explicit loops over pairs."""
    f = np.asarray(f, dtype=np.float64)
    f = f / np.linalg.norm(f, axis=1, keepdims=True)
    m = len(f)
    out = []
    for i in range(m):
        pos = [p for p in range(m) if p != i and sub[p] == sub[i]]
        den = [a for a in range(m) if a != i]
        l_sub = 0.0
        if pos and den:
            lse = math.log(sum(math.exp(f[i] @ f[a] / t1) for a in den))
            l_sub = -sum(f[i] @ f[p] / t1 - lse for p in pos) / len(pos)
        l_cls, qs = 0.0, []
        if cls is not None:
            qs = [q for q in range(m) if cls[q] == cls[i] and sub[q] != sub[i]]
            den2 = [a for a in range(m) if sub[a] != sub[i]]
            if qs:
                lse2 = math.log(sum(math.exp(f[i] @ f[a] / t2) for a in den2))
                l_cls = -sum(f[i] @ f[q] / t2 - lse2 for q in qs) / len(qs)
        out.append((l_sub, l_cls, bool(pos), bool(qs)))
    return out


def ref_sbcl(f, sub, cls, t1=0.1, t2=None, beta=0.25, reduction="mean"):
    t2 = t1 if t2 is None else t2
    terms = ref_supcon_terms(f, sub, cls, t1, t2)
    per = np.array([a + beta * b for a, b, _, _ in terms])
    keep = np.array([hs or hc for _, _, hs, hc in terms])
    return ref_reduce(per, keep, reduction)


def _data(n=12, c=5, seed=0, scale=2.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(n, c, generator=g, dtype=torch.float64) * scale).to(dtype)
    y = torch.randint(0, c, (n,), generator=g)
    return z, y


COUNTS = [500, 120, 40, 7, 1]
REDUCTIONS = ["mean", "sum", "none"]


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(torch.as_tensor(a).detach().double()),
                               np.asarray(b, dtype=np.float64), rtol=tol, atol=tol)


# --------------------------------------------------------------------------------------
# class_balanced_weights / deferred_reweighting
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.99, 0.999, 0.9999])
def test_cb_weights_match_formula(beta):
    w = L.class_balanced_weights(COUNTS, beta, dtype=torch.float64)
    close(w, ref_cb_weights(COUNTS, beta), 1e-12)
    assert w.sum().item() == pytest.approx(len(COUNTS))


def test_cb_weights_beta_zero_is_uniform_and_beta_to_one_is_inverse_frequency():
    assert torch.equal(L.class_balanced_weights(COUNTS, 0.0), torch.ones(5))
    w = L.class_balanced_weights(COUNTS, 1 - 1e-12, dtype=torch.float64)
    inv = 1.0 / np.array(COUNTS, dtype=np.float64)
    close(w, inv / inv.sum() * 5, 1e-6)


def test_cb_weights_absent_class_gets_zero_and_count_one_is_finite():
    w = L.class_balanced_weights([10, 0, 1], 0.999, dtype=torch.float64)
    assert w[1].item() == 0.0
    assert torch.isfinite(w).all() and w.sum().item() == pytest.approx(3.0)
    close(w, ref_cb_weights([10, 0, 1], 0.999), 1e-12)


def test_cb_weights_very_large_counts():
    w = L.class_balanced_weights([1e12, 1e9, 3], 0.9999, dtype=torch.float64)
    assert torch.isfinite(w).all()
    # beta**n underflows to 0 for both head classes: same effective number 1/(1-beta).
    assert w[0].item() == pytest.approx(w[1].item())
    assert w[2].item() > w[0].item()


def test_cb_weights_accept_list_numpy_tensor():
    a = L.class_balanced_weights(COUNTS, 0.99)
    b = L.class_balanced_weights(np.array(COUNTS, dtype=np.int32), 0.99)
    c = L.class_balanced_weights(torch.tensor(COUNTS), 0.99)
    assert a.dtype == torch.float32 and torch.equal(a, b) and torch.equal(a, c)


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=20).filter(any),
       st.floats(0.0, 0.99999))
@settings(max_examples=60, deadline=None)
def test_cb_weights_properties(counts, beta):
    w = L.class_balanced_weights(counts, beta, dtype=torch.float64).numpy()
    assert np.isfinite(w).all() and (w >= 0).all()
    assert w.sum() == pytest.approx(len(counts))
    # rarer present classes never weigh less than more frequent ones
    order = np.argsort(counts, kind="stable")
    present = [j for j in order if counts[j] > 0]
    assert all(w[a] >= w[b] * (1 - 1e-9) for a, b in zip(present, present[1:]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(counts=[3, -1, 2], beta=0.9), "counts"),
        (dict(counts=[0, 0], beta=0.9), "counts"),
        (dict(counts=[[1, 2]], beta=0.9), "counts"),
        (dict(counts=[1, np.nan], beta=0.9), "counts"),
        (dict(counts=[1, 2], beta=1.0), "beta"),
        (dict(counts=[1, 2], beta=-0.1), "beta"),
        (dict(counts=[1, 2], beta=float("nan")), "beta"),
    ],
)
def test_cb_weights_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        L.class_balanced_weights(**kwargs)


def test_deferred_reweighting_switches_at_start_epoch():
    before = L.deferred_reweighting(COUNTS, 159, start_epoch=160)
    after = L.deferred_reweighting(COUNTS, 160, start_epoch=160)
    assert torch.equal(before, torch.ones(5))
    assert torch.allclose(after, L.class_balanced_weights(COUNTS, 0.9999))
    with pytest.raises(ValueError, match="epoch"):
        L.deferred_reweighting(COUNTS, -1, start_epoch=3)
    with pytest.raises(ValueError, match="beta"):
        L.deferred_reweighting(COUNTS, 1, start_epoch=3, beta=1.5)


def test_deferred_reweighting_is_usable_as_ldam_weight():
    z, y = _data()
    crit = L.LDAMLoss(COUNTS, s=5.0)
    plain = crit(z, y)
    crit.weight = L.deferred_reweighting(crit.counts, 0, start_epoch=2)
    assert crit.weight.device == crit.counts.device
    close(crit(z, y), plain.item(), 1e-12)  # uniform weights: the unweighted mean
    crit.weight = L.deferred_reweighting(crit.counts, 2, start_epoch=2, beta=0.999)
    w = ref_cb_weights(COUNTS, 0.999)
    close(crit(z, y), ref_ldam(z.numpy(), y.numpy(), COUNTS, 0.5, 5.0, weight=w), 1e-6)


# --------------------------------------------------------------------------------------
# ClassBalancedLoss
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.0, 0.99, 0.9999])
def test_cb_softmax_matches_formula(beta, reduction):
    z, y = _data()
    crit = L.ClassBalancedLoss(COUNTS, beta=beta, reduction=reduction)
    w = ref_cb_weights(COUNTS, beta)
    want = ref_ce(z.numpy(), y.numpy(), weight=w, reduction=reduction, weighted_mean=False)
    close(crit(z, y), want)
    close(L.class_balanced_loss(z, y, COUNTS, beta=beta, reduction=reduction), want)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss_type, gamma", [("sigmoid", None), ("focal", 0.5), ("focal", 2.0)])
def test_cb_sigmoid_and_focal_match_formula(loss_type, gamma, reduction):
    z, y = _data()
    crit = L.ClassBalancedLoss(COUNTS, beta=0.999, loss_type=loss_type,
                               gamma=gamma if gamma is not None else 1.0, reduction=reduction)
    want = ref_sigmoid_cb(z.numpy(), y.numpy(), COUNTS, 0.999, gamma, reduction)
    close(crit(z, y), want)


def test_cb_beta_zero_softmax_is_cross_entropy_and_focal_gamma_zero_is_sigmoid():
    z, y = _data()
    close(L.ClassBalancedLoss(COUNTS, beta=0.0)(z, y), F.cross_entropy(z, y).item(), 1e-12)
    a = L.ClassBalancedLoss(COUNTS, loss_type="focal", gamma=0.0)(z, y)
    b = L.ClassBalancedLoss(COUNTS, loss_type="sigmoid")(z, y)
    close(a, b.item(), 1e-12)


def test_cb_absent_class_has_no_influence():
    z, y = _data()
    y = torch.where(y == 1, torch.zeros_like(y), y)  # class 1 absent from the batch too
    loss = L.ClassBalancedLoss([500, 0, 40, 7, 1], beta=0.999)(z.requires_grad_(), y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


# --------------------------------------------------------------------------------------
# FocalLoss
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "gamma, alpha", [(2.0, None), (0.5, 0.25), (1.0, [1.0, 2.0, 0.5, 3.0, 1.0])]
)
def test_focal_matches_formula(gamma, alpha, reduction):
    z, y = _data()
    want = ref_focal(z.numpy(), y.numpy(), gamma, alpha, reduction)
    close(L.FocalLoss(gamma=gamma, alpha=alpha, reduction=reduction)(z, y), want)
    close(L.focal_loss(z, y, gamma=gamma, alpha=alpha, reduction=reduction), want)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_gamma_zero_is_cross_entropy_with_ignore_index_and_extra_dims(reduction):
    g = torch.Generator().manual_seed(3)
    z = torch.randn(4, 5, 3, 2, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (4, 3, 2), generator=g)
    y[0, 0, 0] = -100
    y[2, 1, 1] = -100
    got = L.FocalLoss(gamma=0.0, reduction=reduction)(z, y)
    want = F.cross_entropy(z, y, reduction=reduction)
    assert got.shape == want.shape
    close(got, want.numpy(), 1e-12)


def test_focal_confident_predictions_keep_finite_gradients():
    z = torch.tensor([[60.0, 0.0, -60.0], [0.0, 0.0, 0.0]], requires_grad=True)
    for gamma in (0.3, 2.0):
        loss = L.FocalLoss(gamma=gamma)(z, torch.tensor([0, 1]))
        (g,) = torch.autograd.grad(loss, z)
        assert torch.isfinite(loss) and torch.isfinite(g).all()


def test_focal_down_weights_easy_examples():
    z = torch.tensor([[4.0, 0.0], [0.2, 0.0]])
    per = L.FocalLoss(gamma=2.0, reduction="none")(z, torch.tensor([0, 0]))
    ce = F.cross_entropy(z, torch.tensor([0, 0]), reduction="none")
    assert (per < ce).all() and per[0] / ce[0] < per[1] / ce[1]


# --------------------------------------------------------------------------------------
# LDAMLoss
# --------------------------------------------------------------------------------------


def test_ldam_margins_follow_quarter_power():
    crit = L.LDAMLoss(COUNTS, max_m=0.5)
    close(crit.margins, ref_ldam_margins(COUNTS, 0.5), 1e-12)
    assert crit.margins.max().item() == pytest.approx(0.5)
    # margin ratio between two classes is (n_a / n_b) ** (1/4)
    assert crit.margins[1].item() / crit.margins[0].item() == pytest.approx((500 / 120) ** 0.25)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, [0.2, 0.5, 1.0, 2.0, 1.3]])
def test_ldam_matches_formula(weight, reduction):
    z, y = _data(scale=0.3)
    crit = L.LDAMLoss(COUNTS, max_m=0.4, s=10.0, weight=weight, reduction=reduction)
    want = ref_ldam(z.numpy(), y.numpy(), COUNTS, 0.4, 10.0, weight, reduction)
    close(crit(z, y), want)
    close(L.ldam_loss(z, y, COUNTS, max_m=0.4, s=10.0, weight=weight, reduction=reduction), want)


def test_ldam_absent_class_gets_largest_margin_without_changing_others():
    with_absent = L.LDAMLoss([500, 0, 40], max_m=0.5).margins
    without = L.LDAMLoss([500, 40], max_m=0.5).margins
    assert with_absent[1].item() == 0.5
    close(with_absent[[0, 2]], without.numpy(), 1e-12)


# --------------------------------------------------------------------------------------
# BalancedSoftmaxLoss, LogitAdjustedLoss, logit_adjust
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_balanced_softmax_matches_formula(reduction):
    z, y = _data()
    want = ref_ce(z.numpy(), y.numpy(), offset=np.log(COUNTS), reduction=reduction)
    close(L.BalancedSoftmaxLoss(COUNTS, reduction=reduction)(z, y), want)
    close(L.balanced_softmax_loss(z, y, COUNTS, reduction=reduction), want)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_logit_adjusted_matches_formula(tau, reduction):
    z, y = _data()
    pi = np.array(COUNTS) / sum(COUNTS)
    want = ref_ce(z.numpy(), y.numpy(), offset=tau * np.log(pi), reduction=reduction)
    close(L.LogitAdjustedLoss(COUNTS, tau=tau, reduction=reduction)(z, y), want)
    close(L.logit_adjusted_loss(z, y, COUNTS, tau=tau, reduction=reduction), want)


def test_logit_adjusted_tau_zero_is_cross_entropy_and_tau_one_is_balanced_softmax():
    z, y = _data()
    close(L.LogitAdjustedLoss(COUNTS, tau=0.0)(z, y), F.cross_entropy(z, y).item(), 1e-12)
    close(L.LogitAdjustedLoss(COUNTS)(z, y), L.BalancedSoftmaxLoss(COUNTS)(z, y).item(), 1e-12)


@pytest.mark.parametrize("cls", [L.BalancedSoftmaxLoss, L.LogitAdjustedLoss])
def test_zero_count_gives_finite_loss_and_gradient(cls):
    counts = [100, 0, 5, 1]
    z = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 1, 0])  # even a sample of the absent class
    loss = cls(counts)(z, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    # the absent class is treated like the rarest observed class (count 1)
    close(cls(counts)(z, y), cls([100, 1, 5, 1])(z, y).item(), 1e-12)


def test_logit_adjust_matches_formula_and_keeps_dtype():
    z, _ = _data()
    pi = np.array(COUNTS) / sum(COUNTS)
    close(L.logit_adjust(z, COUNTS, tau=0.7), z.numpy() - 0.7 * np.log(pi)[None, :], 1e-12)
    assert torch.equal(L.logit_adjust(z, COUNTS, tau=0.0), z)
    h = z.to(torch.float16)
    out = L.logit_adjust(h, torch.tensor(COUNTS))
    assert out.dtype == torch.float16
    close(out, (z.numpy() - np.log(pi)).astype(np.float16), 1e-2)
    row = L.logit_adjust(torch.zeros(5), COUNTS)  # a single 1-D row
    close(row, -np.log(pi), 1e-6)
    assert torch.isfinite(L.logit_adjust(z[:, :3], [5, 0, 1])).all()
    with pytest.raises(ValueError, match="logits"):
        L.logit_adjust(z, [1, 2, 3])


def test_post_hoc_adjustment_equals_training_with_adjusted_loss_at_the_optimum():
    # Menon et al.: a CE-trained scorer z corrected post hoc by -log pi has the argmax of
    # a balanced-error minimiser; for constant logits it predicts the rarest class.
    out = L.logit_adjust(torch.zeros(3, 5), COUNTS)
    assert out.argmax(1).tolist() == [4, 4, 4]


# --------------------------------------------------------------------------------------
# tau_normalize, prior_bias_init
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 1.7])
def test_tau_normalize_matches_formula(tau):
    w = torch.randn(6, 4, dtype=torch.float64)
    want = np.stack([row / np.linalg.norm(row) ** tau for row in w.numpy()])
    close(L.tau_normalize(w, tau), want, 1e-12)
    if tau == 1.0:
        close(L.tau_normalize(w, tau).norm(dim=1), np.ones(6), 1e-12)


def test_tau_normalize_zero_row_array_input_and_errors():
    w = np.array([[0.0, 0.0], [3.0, 4.0]], dtype=np.float32)
    out = L.tau_normalize(w, 1.0)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    close(out, [[0.0, 0.0], [0.6, 0.8]], 1e-6)
    with pytest.raises(ValueError, match="weight"):
        L.tau_normalize(torch.ones(3), 1.0)
    with pytest.raises(ValueError, match="tau"):
        L.tau_normalize(torch.ones(3, 2), float("inf"))


def test_prior_bias_init():
    b = L.prior_bias_init(4, prior=0.01)
    assert b.shape == (4,) and b.dtype == torch.float32
    close(b, [-math.log(0.99 / 0.01)] * 4, 1e-6)
    p = [0.5, 0.1, 0.001]
    close(torch.sigmoid(L.prior_bias_init(3, prior=p, dtype=torch.float64)), p, 1e-12)
    for bad in (0.0, 1.0, -0.5, [0.5, 1.0, 0.2]):
        with pytest.raises(ValueError, match="prior"):
            L.prior_bias_init(3, prior=bad)
    with pytest.raises(ValueError, match="num_classes"):
        L.prior_bias_init(0)


# --------------------------------------------------------------------------------------
# SubclassContrastiveLoss
# --------------------------------------------------------------------------------------

SUB = [0, 0, 1, 1, 2, 2, 3, 3, 3, 4]
CLS = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("t2, beta", [(None, 0.25), (0.3, 1.0)])
def test_sbcl_matches_formula(t2, beta, reduction):
    g = torch.Generator().manual_seed(1)
    f = torch.randn(10, 6, generator=g, dtype=torch.float64)
    crit = L.SubclassContrastiveLoss(0.2, class_temperature=t2, beta=beta, reduction=reduction)
    want = ref_sbcl(f.numpy(), SUB, CLS, 0.2, t2, beta, reduction)
    close(crit(f, torch.tensor(SUB), torch.tensor(CLS)), want)
    close(L.subclass_contrastive_loss(f, SUB, CLS, temperature=0.2, class_temperature=t2,
                                      beta=beta, reduction=reduction), want)


def test_sbcl_without_class_ids_is_supcon_and_views_are_stacked():
    g = torch.Generator().manual_seed(2)
    f = torch.randn(5, 2, 4, generator=g, dtype=torch.float64)
    sub = [0, 1, 1, 2, 0]
    flat = torch.cat([f[:, 0], f[:, 1]])  # view-major, as SupCon
    want = ref_sbcl(flat.numpy(), sub * 2, None, 0.1)
    close(L.SubclassContrastiveLoss()(f, torch.tensor(sub)), want)


def test_sbcl_class_term_pulls_subclasses_of_a_class_together():
    crit = L.SubclassContrastiveLoss(0.5, beta=1.0)
    sub, cls = torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([0, 0, 0, 0, 1, 1])
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    # subclasses 0 and 1 (class 0) near each other vs. subclass 1 next to class 1
    near = torch.stack([a, a, a * 0.9 + b * 0.1, a * 0.9 + b * 0.1, b, b])
    far = torch.stack([a, a, a * 0.1 + b * 0.9, a * 0.1 + b * 0.9, b, b])
    assert crit(near, sub, cls) < crit(far, sub, cls)


def test_sbcl_no_positives_is_zero_not_nan():
    f = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    loss = L.SubclassContrastiveLoss()(f, torch.arange(4), torch.arange(4))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(f.grad).all()
    one = torch.randn(1, 3, requires_grad=True)
    L.SubclassContrastiveLoss()(one, torch.tensor([0]), torch.tensor([0])).backward()
    assert torch.isfinite(one.grad).all()


def test_sbcl_errors():
    crit = L.SubclassContrastiveLoss()
    f = torch.randn(4, 3)
    with pytest.raises(ValueError, match="subclass_ids"):
        crit(f, torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]))  # subclass 0 in 2 classes
    with pytest.raises(ValueError, match="subclass_ids"):
        crit(f, torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match="class_ids"):
        crit(f, torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="features"):
        crit(torch.randn(4), torch.tensor([0, 0, 1, 1]))
    with pytest.raises(TypeError, match="subclass_ids"):
        crit(f, torch.tensor([0.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="temperature"):
        L.SubclassContrastiveLoss(0.0)


# --------------------------------------------------------------------------------------
# all losses: gradients, dtypes, devices, buffers, errors
# --------------------------------------------------------------------------------------


def make_losses(counts=COUNTS):
    return {
        "cb_softmax": L.ClassBalancedLoss(counts, beta=0.99),
        "cb_sigmoid": L.ClassBalancedLoss(counts, beta=0.99, loss_type="sigmoid"),
        "cb_focal": L.ClassBalancedLoss(counts, beta=0.99, loss_type="focal", gamma=2.0),
        "focal": L.FocalLoss(gamma=2.0, alpha=[1.0, 1.5, 2.0, 2.5, 3.0]),
        "ldam": L.LDAMLoss(counts, s=5.0, weight=[1.0, 1.5, 2.0, 2.5, 3.0]),
        "balanced_softmax": L.BalancedSoftmaxLoss(counts),
        "logit_adjusted": L.LogitAdjustedLoss(counts, tau=1.5),
    }


LOSS_NAMES = list(make_losses())


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradcheck(name, reduction):
    crit = make_losses()[name]
    crit.reduction = reduction
    z, y = _data(n=6, scale=1.0)
    y[2] = -100
    z.requires_grad_()
    assert torch.autograd.gradcheck(lambda x: crit(x, y), (z,))


def test_gradcheck_sbcl_and_helpers():
    f = torch.randn(10, 4, dtype=torch.float64, requires_grad=True)
    crit = L.SubclassContrastiveLoss(0.3, class_temperature=0.5)
    sub, cls = torch.tensor(SUB), torch.tensor(CLS)
    assert torch.autograd.gradcheck(lambda x: crit(x, sub, cls), (f,))
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: L.tau_normalize(x, 0.7), (w,))
    z = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: L.logit_adjust(x, COUNTS), (z,))


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_inputs_follow_dtype_and_match_float32(name, dtype):
    crit = make_losses()[name]
    z, y = _data(n=64, scale=3.0, dtype=torch.float32)
    zl = z.to(dtype).requires_grad_()
    loss = crit(zl, y)
    assert loss.dtype == dtype
    loss.backward()
    assert zl.grad.dtype == dtype and torch.isfinite(zl.grad.float()).all()
    ref = crit(zl.detach().float(), y)  # same rounded inputs, float32 math
    tol = {torch.float16: 2e-3, torch.bfloat16: 1e-2, torch.float32: 1e-6}[dtype]
    assert loss.float().item() == pytest.approx(ref.item(), rel=tol)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_large_logits_do_not_overflow_in_half(name):
    crit = make_losses()[name]
    # exp(300) overflows float16 (and exp(60000) float32): log-sum-exp must run shifted,
    # in float32; the loss itself (~300) is representable in float16.
    z = torch.tensor([[300.0, -300.0, 0.0, 1.0, 2.0], [60000.0, 0.0, 0.0, 0.0, 0.0]],
                     dtype=torch.float16)
    loss = crit(z.requires_grad_(), torch.tensor([3, 0]))
    loss.backward()
    assert torch.isfinite(loss.float()) and loss.float() > 50
    assert torch.isfinite(z.grad.float()).all()


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_ignore_index_and_extra_dimensions(name):
    crit = make_losses()[name]
    g = torch.Generator().manual_seed(5)
    z = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (3, 4), generator=g)
    y[1, 2] = -100
    crit.reduction = "none"
    per = crit(z, y)
    assert per.shape == (3, 4) and per[1, 2].item() == 0.0
    # the same as the flattened (N*d, C) problem without the ignored element
    flat_z = z.movedim(1, -1).reshape(-1, 5)
    flat_y = y.reshape(-1)
    keep = flat_y != -100
    crit.reduction = "sum"
    close(crit(z, y), crit(flat_z[keep], flat_y[keep]).item(), 1e-12)
    crit.ignore_index = 7  # any id may be the ignored one, even outside [0, C)
    y2 = y.clone()
    y2[y2 == -100] = 7
    close(crit(z, y2), crit(flat_z[keep], flat_y[keep]).item(), 1e-12)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_all_ignored_batch_gives_zero_not_nan(name):
    crit = make_losses()[name]
    z = torch.randn(3, 5, requires_grad=True)
    loss = crit(z, torch.full((3,), -100))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(z.grad).all()


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_buffers_move_with_module_and_forward_never_reads_the_device(name):
    # The "meta" device has shapes but no data: a forward+backward that succeeds there
    # cannot contain a host-device copy or a value-dependent Python branch.
    crit = make_losses()[name].to("meta")
    for buf in crit.buffers():
        assert buf.device.type == "meta"
    z = torch.randn(8, 5, device="meta", requires_grad=True)
    y = torch.zeros(8, dtype=torch.long, device="meta")
    loss = crit(z, y)
    loss.backward()
    assert loss.device.type == "meta" and z.grad.shape == (8, 5)


def test_sbcl_forward_never_reads_the_device():
    f = torch.randn(6, 2, 8, device="meta", requires_grad=True)
    ids = torch.zeros(6, dtype=torch.long, device="meta")
    L.SubclassContrastiveLoss()(f, ids, ids).backward()
    assert f.grad.shape == (6, 2, 8)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_module_dtype_casts_keep_counts_exact_and_state_dict_round_trips(name):
    crit = make_losses([70000, 120, 40, 7, 1])[name]
    z, y = _data(dtype=torch.float32)
    before = crit(z, y)
    crit.half()
    if hasattr(crit, "counts"):
        assert crit.counts.dtype == torch.float64 and crit.counts[0].item() == 70000
    close(crit(z, y), before.item(), 1e-6)
    fresh = make_losses([1, 1, 1, 1, 1])[name]
    fresh.load_state_dict(crit.state_dict())
    close(fresh(z, y), before.item(), 1e-6)


@pytest.mark.parametrize("counts", [COUNTS, np.array(COUNTS, dtype=np.uint16),
                                    torch.tensor(COUNTS, dtype=torch.float32)])
def test_counts_as_list_numpy_tensor(counts):
    z, y = _data()
    base = make_losses(COUNTS)
    for name, crit in make_losses(counts).items():
        close(crit(z, y), base[name](z, y).item(), 1e-12)


def test_very_large_counts_stay_finite():
    counts = [1e15, 1e9, 10, 1]
    z = torch.randn(8, 4, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    for crit in (L.BalancedSoftmaxLoss(counts), L.LogitAdjustedLoss(counts),
                 L.LDAMLoss(counts), L.ClassBalancedLoss(counts, beta=0.999999)):
        loss = crit(z, y)
        (g,) = torch.autograd.grad(loss, z)
        assert torch.isfinite(loss) and torch.isfinite(g).all()


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_bad_logits_and_target_name_the_argument(name):
    crit = make_losses()[name]
    z, y = _data(dtype=torch.float32)
    with pytest.raises(ValueError, match="logits"):
        crit(z[0], y[0])  # 1-D logits
    with pytest.raises(ValueError, match="logits"):
        crit(z[:, :4], y.clamp(max=3))  # 4 classes against 5 counts
    with pytest.raises(ValueError, match="target"):
        crit(z, y[:-1])
    for bad in (5, -1, 99):
        yy = y.clone()
        yy[3] = bad
        with pytest.raises(ValueError, match="target"):
            crit(z, yy)
    with pytest.raises(TypeError, match="target"):
        crit(z, y.float())
    with pytest.raises(TypeError, match="logits"):
        crit(z.long(), y)


def test_focal_without_alpha_checks_target_range_against_logits():
    with pytest.raises(ValueError, match="target"):
        L.FocalLoss()(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="logits"):
        L.FocalLoss()(torch.zeros(3), torch.tensor(0))


@pytest.mark.parametrize(
    "factory, match",
    [
        (lambda: L.ClassBalancedLoss([3, -1]), "counts"),
        (lambda: L.ClassBalancedLoss([3, 1], beta=1.0), "beta"),
        (lambda: L.ClassBalancedLoss([3, 1], loss_type="hinge"), "loss_type"),
        (lambda: L.ClassBalancedLoss([3, 1], loss_type="focal", gamma=-1.0), "gamma"),
        (lambda: L.ClassBalancedLoss([3, 1], reduction="avg"), "reduction"),
        (lambda: L.FocalLoss(gamma=-0.5), "gamma"),
        (lambda: L.FocalLoss(alpha=[1.0, -1.0]), "alpha"),
        (lambda: L.LDAMLoss([3, -2]), "counts"),
        (lambda: L.LDAMLoss([3, 2], max_m=0.0), "max_m"),
        (lambda: L.LDAMLoss([3, 2], s=-1.0), "s"),
        (lambda: L.LDAMLoss([3, 2], weight=[1.0, 2.0, 3.0]), "weight"),
        (lambda: L.BalancedSoftmaxLoss([0, 0]), "counts"),
        (lambda: L.BalancedSoftmaxLoss([[1, 2]]), "counts"),
        (lambda: L.LogitAdjustedLoss([1, -2]), "counts"),
        (lambda: L.LogitAdjustedLoss([1, 2], tau=float("nan")), "tau"),
    ],
)
def test_bad_constructor_arguments_name_the_argument(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_ldam_state_dict_round_trips_across_the_drw_switch():
    z, y = _data()
    trained = L.LDAMLoss(COUNTS, s=5.0)
    trained.weight = L.deferred_reweighting(trained.counts, 3, start_epoch=2)
    fresh = L.LDAMLoss(COUNTS, s=5.0)
    fresh.load_state_dict(trained.state_dict())
    close(fresh(z, y), trained(z, y).item(), 1e-12)
    fresh.load_state_dict(L.LDAMLoss(COUNTS, s=5.0).state_dict())
    assert fresh.weight is None


def test_wrong_ldam_weight_shape_assigned_later():
    crit = L.LDAMLoss([3, 2])
    crit.weight = torch.ones(3)
    with pytest.raises(ValueError, match="weight"):
        crit(torch.zeros(2, 2), torch.tensor([0, 1]))


def test_target_as_list_is_accepted():
    z, y = _data()
    crit = L.BalancedSoftmaxLoss(COUNTS)
    close(crit(z, y.tolist()), crit(z, y).item(), 1e-12)
