"""longtail.losses.noise_robust (GCE) against the formula written here, and its limits."""

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


def ref_gce(z, y, q, ignore=-100, reduction="mean"):
    out, kept = [], 0
    for row, lab in zip(np.asarray(z), np.asarray(y)):
        if lab == ignore:
            out.append(0.0)
            continue
        kept += 1
        e = [math.exp(v) for v in row]
        p = e[lab] / sum(e)
        out.append((1 - p**q) / q)
    out = np.array(out)
    return {"none": out, "sum": out.sum(), "mean": out.sum() / max(kept, 1)}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("q", [0.1, 0.5, 0.7, 1.0])
def test_gce_matches_formula(reduction, q):
    z, y = data()
    y[4] = -100
    close(L.GCELoss(q, reduction=reduction)(z, y), ref_gce(z, y, q, reduction=reduction))
    close(L.gce_loss(z, y, q=q, reduction=reduction), ref_gce(z, y, q, reduction=reduction))


def test_gce_limits():
    z, y = data()
    p = torch.softmax(z, 1).gather(1, y[:, None]).squeeze(1)
    close(L.GCELoss(1.0, reduction="none")(z, y), (1 - p).numpy(), 1e-12)
    ce = F.cross_entropy(z, y, reduction="none")
    for q, tol in [(1e-3, 1e-2), (1e-6, 1e-5), (1e-9, 1e-8)]:
        # (1 - p**q) / q = -log p - q (log p)**2 / 2 - ...: the gap shrinks like q
        got = L.GCELoss(q, reduction="none")(z, y)
        assert (got <= ce + 1e-12).all()
        np.testing.assert_allclose(got.numpy(), ce.numpy(), rtol=tol)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.floats(0.01, 1.0), st.integers(1, 8), st.integers(2, 6), st.integers(0, 10**6))
def test_gce_is_bounded_by_one_over_q_and_monotone_in_q(q, n, c, seed):
    z, y = data(n=n, c=c, seed=seed, scale=5.0)
    a = L.GCELoss(q, reduction="none")(z, y)
    assert (a >= 0).all() and (a <= 1 / q + 1e-12).all()
    b = L.GCELoss(min(1.0, q * 1.5), reduction="none")(z, y)
    assert (b <= a + 1e-12).all()


def test_gce_gradcheck_and_dense_inputs():
    z, y = data(n=6, scale=1.0)
    y[1] = -100
    z.requires_grad_()
    for q in (0.3, 1.0):
        crit = L.GCELoss(q, reduction="none")
        assert torch.autograd.gradcheck(lambda x, crit=crit: crit(x, y), (z,))
    zd = torch.randn(2, 3, 4, dtype=torch.float64)
    yd = torch.randint(0, 3, (2, 4))
    per = L.GCELoss(0.7, reduction="none")(zd, yd)
    assert per.shape == (2, 4)
    close(per.reshape(-1)[0], ref_gce(zd[:1, :, 0], yd[:1, 0], 0.7, reduction="sum"))


def test_gce_bad_q_and_target():
    z, y = data()
    for q in (0.0, -0.5, 1.5, float("nan")):
        with pytest.raises(ValueError, match="q"):
            L.GCELoss(q)
    with pytest.raises(ValueError, match="q"):
        L.gce_loss(z, y, q=2.0)
    with pytest.raises(ValueError, match="target"):
        L.GCELoss()(z, y[:-1])
    with pytest.raises(ValueError, match="target"):
        L.GCELoss()(z, y + 5)
    with pytest.raises(TypeError, match="q"):
        L.GCELoss("0.7")
