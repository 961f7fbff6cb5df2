"""risk_coverage_curve / aurc (Geifman et al.), neural_collapse (Papyan et al.) and
cluster_accuracy against formulas and solvers written out here."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from longtail.metrics import aurc, cluster_accuracy, neural_collapse, risk_coverage_curve
from longtail.metrics.streaming import ClassFeatureStats

SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)

# ------------------------------------------------------------------------------ AURC


def _aurc_over_orders(y, probs):
    """Mean over every order of tied rows of the plain AURC (sort, cumulative error rate)."""
    probs = np.asarray(probs, dtype=float)
    conf, wrong = probs.max(1), (probs.argmax(1) != np.asarray(y)).astype(float)
    values = []
    for perm in itertools.permutations(range(len(y))):
        perm = np.array(perm)
        c = conf[perm]
        if np.any(np.diff(c) > 0):  # keep only orders sorted by confidence, descending
            continue
        risk = np.cumsum(wrong[perm]) / np.arange(1, len(y) + 1)
        values.append(risk.mean())
    return float(np.mean(values))


@SETTINGS
@given(st.integers(1, 7), st.integers(0, 10**6))
def test_aurc_is_the_mean_over_tie_orders(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    # Few distinct confidences, so that ties are common.
    probs = rng.dirichlet(np.ones(3), size=n).round(1)
    probs[:, 0] = 1 - probs[:, 1:].sum(1)
    assert aurc(y, probs) == pytest.approx(_aurc_over_orders(y, probs), abs=1e-12)


def test_risk_coverage_without_ties_is_the_cumulative_error_rate():
    rng = np.random.default_rng(1)
    n = 200
    probs = rng.dirichlet(np.ones(4), size=n)
    y = rng.integers(0, 4, n)
    cov, risk = risk_coverage_curve(y, probs)
    order = np.argsort(-probs.max(1))
    wrong = probs.argmax(1)[order] != y[order]
    np.testing.assert_allclose(cov, np.arange(1, n + 1) / n)
    np.testing.assert_allclose(risk, np.cumsum(wrong) / np.arange(1, n + 1), atol=1e-15)
    assert risk[-1] == pytest.approx(np.mean(probs.argmax(1) != y))
    # float32 input and the binary 1-D form.
    assert aurc(y, probs.astype(np.float32)) == pytest.approx(aurc(y, probs), abs=1e-6)
    yb, pb = rng.integers(0, 2, 50), rng.random(50)
    assert aurc(yb, pb) == pytest.approx(aurc(yb, np.stack([1 - pb, pb], 1)), abs=1e-15)


def test_aurc_errors():
    with pytest.raises(ValueError, match="y_true"):
        aurc([0, 3], [[0.5, 0.5], [0.2, 0.8]])
    with pytest.raises(ValueError, match="probs"):
        aurc([0, 1], [[0.5, 0.5]])
    with pytest.raises(ValueError, match="probs"):
        aurc([0, 1], [[0.5, np.nan], [0.2, 0.8]])


# ---------------------------------------------------------------------- neural collapse


def _nc_reference(x, y, w):
    """NC1-NC4 written from the definitions, with loops and numpy's SVD pseudo-inverse."""
    classes = np.unique(y)
    c = classes.size
    mus = np.array([x[y == k].mean(0) for k in classes])
    mu_g = mus.mean(0)
    m = mus - mu_g
    s_w = sum(np.cov(x[y == k].T, bias=True).reshape(x.shape[1], -1) for k in classes) / c
    s_b = sum(np.outer(v, v) for v in m) / c
    nc1 = np.trace(s_w @ np.linalg.pinv(s_b, rcond=1e-10)) / c
    norms = np.array([np.linalg.norm(v) for v in m])
    cos = [
        m[i] @ m[j] / (norms[i] * norms[j]) for i in range(c) for j in range(i + 1, c)
    ]
    out = {
        "nc1": nc1,
        "nc2_equinorm": norms.std() / norms.mean(),
        "nc2_equiangular": np.std(cos),
    }
    if w is not None:
        wp = w[classes]
        out["nc3"] = np.sum((wp / np.linalg.norm(wp) - m / np.linalg.norm(m)) ** 2)
        pred = np.argmax(x @ w.T, axis=1)
        dist = ((x[:, None, :] - mus[None]) ** 2).sum(-1)
        out["nc4"] = np.mean(classes[dist.argmin(1)] != pred)
    return out


@SETTINGS
@given(st.integers(0, 10**6), st.integers(2, 5), st.integers(2, 6))
def test_neural_collapse_matches_the_formulas(seed, c, d):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 40, c)  # imbalanced
    y = np.repeat(np.arange(c), sizes)
    centres = rng.normal(size=(c, d)) * 3
    x = centres[y] + rng.normal(size=(y.size, d))
    w = rng.normal(size=(c, d))
    got = neural_collapse(x, y, classifier_weight=w)
    ref = _nc_reference(x, y, w)
    for key, v in ref.items():
        assert got[key] == pytest.approx(v, rel=1e-8, abs=1e-10), key
    plain = neural_collapse(x, y)
    assert np.isnan(plain["nc3"]) and np.isnan(plain["nc4"])
    assert plain["nc1"] == pytest.approx(ref["nc1"], rel=1e-8)


def test_streamed_neural_collapse_equals_the_batch_one():
    rng = np.random.default_rng(3)
    c, d = 4, 5
    y = rng.integers(0, c, 300)
    x = rng.normal(size=(c, d))[y] * 2 + rng.normal(size=(300, d))
    w = rng.normal(size=(c, d))
    s = ClassFeatureStats(c, d)
    for i in range(0, 300, 70):
        s.update(x[i : i + 70], y[i : i + 70])
    got = s.neural_collapse(classifier_weight=w)
    ref = neural_collapse(x, y, classifier_weight=w)
    for key in ("nc1", "nc2_equinorm", "nc2_equiangular", "nc3"):
        assert got[key] == pytest.approx(ref[key], rel=1e-9), key
    assert np.isnan(got["nc4"])


def test_collapsed_simplex_features_score_zero():
    c = 4
    etf = np.eye(c) - 1.0 / c  # simplex ETF, rows centred
    y = np.repeat(np.arange(c), [50, 20, 5, 2])  # imbalance must not matter
    r = neural_collapse(etf[y].astype(np.float32), y, classifier_weight=etf * 3)
    for key in ("nc1", "nc2_equinorm", "nc2_equiangular", "nc3", "nc4"):
        assert r[key] == pytest.approx(0.0, abs=1e-6), key


def test_neural_collapse_errors():
    with pytest.raises(ValueError, match="labels"):
        neural_collapse([[0.0], [1.0]], [0, 0])
    with pytest.raises(ValueError, match="labels"):
        neural_collapse([[0.0], [1.0]], [0])
    with pytest.raises(ValueError, match="classifier_weight"):
        neural_collapse([[0.0], [1.0]], [0, 1], classifier_weight=[[1.0, 2.0]] * 2)
    with pytest.raises(ValueError, match="labels"):
        neural_collapse([[0.0], [1.0]], [0, 5], classifier_weight=[[1.0], [2.0]])
    with pytest.raises(ValueError, match="features"):
        neural_collapse([[0.0], [np.inf]], [0, 1])
    with pytest.raises(ValueError, match="classifier_weight"):
        ClassFeatureStats(2, 1).neural_collapse(classifier_weight=[[1.0]] * 3)


# --------------------------------------------------------------------- cluster accuracy


@SETTINGS
@given(st.integers(0, 10**6), st.integers(1, 4), st.integers(1, 5))
def test_cluster_accuracy_matches_brute_force_and_scipy(seed, k, m):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, 40) * 3 + 1  # non-contiguous class ids
    cl = rng.integers(0, m, 40) + 10
    acc, mapping = cluster_accuracy(y, cl)
    classes, clusters = np.unique(y), np.unique(cl)
    table = np.array([[np.sum((cl == a) & (y == b)) for b in classes] for a in clusters])
    # Brute force over injective assignments of the smaller side.
    best = 0
    if clusters.size <= classes.size:
        for perm in itertools.permutations(range(classes.size), clusters.size):
            best = max(best, sum(table[i, j] for i, j in enumerate(perm)))
    else:
        for perm in itertools.permutations(range(clusters.size), classes.size):
            best = max(best, sum(table[i, j] for j, i in enumerate(perm)))
    r, c = linear_sum_assignment(-table)
    assert acc == pytest.approx(best / 40) and acc == pytest.approx(table[r, c].sum() / 40)
    assert len(mapping) == min(classes.size, clusters.size)
    assert len(set(mapping.values())) == len(mapping)
    matched = sum(np.sum((cl == a) & (y == b)) for a, b in mapping.items())
    assert matched / 40 == pytest.approx(acc)


def test_cluster_accuracy_segmentation_maps_and_errors():
    y = np.array([[0, 0], [1, 1]])
    assert cluster_accuracy(y, y + 5) == (1.0, {5: 0, 6: 1})
    with pytest.raises(ValueError, match="cluster_ids"):
        cluster_accuracy([0, 1], [0])
    with pytest.raises(TypeError, match="y_true"):
        cluster_accuracy(["a", "b"], [0, 1])
