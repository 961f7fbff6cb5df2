"""longtail.losses.mixing (Remix, Chou et al. 2020): the label rule written here, seeds, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from longtail import losses as L


def recover(x_mix, n):
    """With x = eye(n), row i of x_mix is lam e_i + (1 - lam) e_perm(i)."""
    m = x_mix.numpy()
    perm = np.empty(n, dtype=np.int64)
    lam = None
    for i in range(n):
        row = m[i].copy()
        others = np.flatnonzero(np.arange(n) != i)
        j = others[np.argmax(row[others])] if row[others].max() > 0 else i
        perm[i] = j
        if j != i:
            lam = row[i]
    return (lam if lam is not None else 0.5), perm


def ref_label_lambda(lam, ni, nj, kappa, tau):
    if ni / nj >= kappa and lam < tau:
        return 0.0
    if ni / nj <= 1 / kappa and 1 - lam < tau:
        return 1.0
    return lam


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(2, 12), st.integers(0, 10**6), st.floats(0.2, 4.0), st.floats(1.0, 10.0),
       st.floats(0.0, 1.0))
def test_remix_labels_follow_the_rule(n, seed, alpha, kappa, tau):
    counts = [1000, 300, 40, 5]
    y = torch.from_numpy(np.random.default_rng(seed).integers(0, 4, n))
    x = torch.eye(n, dtype=torch.float64)
    x_mix, y_soft = L.remix(x, y, counts, alpha=alpha, kappa=kappa, tau=tau, seed=seed)
    lam, perm = recover(x_mix, n)
    np.testing.assert_allclose(y_soft.sum(1).numpy(), np.ones(n), atol=1e-12)
    for i in range(n):
        j = perm[i]
        if j == i:
            continue
        lam_y = ref_label_lambda(lam, counts[y[i]], counts[y[j]], kappa, tau)
        want = np.zeros(4)
        want[y[i]] += lam_y
        want[y[j]] += 1 - lam_y
        np.testing.assert_allclose(y_soft[i].numpy(), want, atol=1e-9)


def test_remix_is_deterministic_per_seed_and_keeps_shape_and_dtype():
    x = torch.randn(16, 3, 8, 8)
    y = torch.randint(0, 5, (16,))
    a = L.remix(x, y, [100, 50, 20, 5, 1], seed=3)
    b = L.remix(x, y, [100, 50, 20, 5, 1], seed=3)
    c = L.remix(x, y, [100, 50, 20, 5, 1], seed=4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert a[0].shape == x.shape and a[0].dtype == x.dtype and a[1].shape == (16, 5)
    torch.manual_seed(0)
    d = L.remix(x, y, [100, 50, 20, 5, 1])
    torch.manual_seed(0)
    e = L.remix(x, y, [100, 50, 20, 5, 1])
    assert torch.equal(d[0], e[0]) and torch.equal(d[1], e[1])
    # the soft targets train with cross_entropy directly
    loss = torch.nn.functional.cross_entropy(torch.randn(16, 5), a[1])
    assert torch.isfinite(loss)


def test_remix_minority_takes_the_label_from_a_much_larger_class():
    # two samples, head class 0 (n=1000) and tail class 1 (n=10): whatever lam is, one of
    # the two rules applies to the sample whose own share is below tau = 1 (always)
    x = torch.eye(2, dtype=torch.float64)
    y = torch.tensor([0, 1])
    swapped = 0
    for seed in range(20):
        x_mix, y_soft = L.remix(x, y, [1000, 10], tau=1.0, seed=seed)
        lam, perm = recover(x_mix, 2)
        if perm[0] == 1:  # a real pair: both rows get the tail label alone
            swapped += 1
            np.testing.assert_allclose(y_soft.numpy(), [[0.0, 1.0], [0.0, 1.0]], atol=1e-12)
    assert swapped > 0


def test_remix_bad_arguments():
    x = torch.randn(4, 2)
    y = torch.tensor([0, 1, 1, 0])
    with pytest.raises(ValueError, match="counts"):
        L.remix(x, y, [3, -1])
    with pytest.raises(ValueError, match="y"):
        L.remix(x, y[:3], [3, 1])
    with pytest.raises(ValueError, match="y"):
        L.remix(x, y + 1, [3, 1])
    with pytest.raises(ValueError, match="alpha"):
        L.remix(x, y, [3, 1], alpha=0)
    with pytest.raises(ValueError, match="kappa"):
        L.remix(x, y, [3, 1], kappa=0.5)
    with pytest.raises(ValueError, match="tau"):
        L.remix(x, y, [3, 1], tau=1.5)
    with pytest.raises(TypeError, match="x"):
        L.remix(y, y, [3, 1])
    with pytest.raises(TypeError, match="seed"):
        L.remix(x, y, [3, 1], seed=1.5)
