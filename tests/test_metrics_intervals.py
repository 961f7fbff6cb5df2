"""Per-class intervals, bootstrap intervals, paired comparisons and group disparity,
checked against independent computations (scipy.stats, scikit-learn, numpy bootstraps
that resample examples, formulas written out here)."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from longtail import _core
from longtail.metrics import (
    bootstrap_interval,
    class_intervals,
    compare_predictions,
    expected_calibration_error,
    group_report,
)
from longtail.metrics.intervals import holm, mcnemar_exact

SETTINGS = settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def _data(seed, n=300, c=5, acc=0.7):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    p = np.where(rng.random(n) < acc, y, rng.integers(0, c, n))
    return y, p


# ------------------------------------------------------------------------------ Wilson


@SETTINGS
@given(st.integers(0, 10**6), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_matches_scipy(seed, confidence):
    y, p = _data(seed, n=120, c=4)
    for metric in ("recall", "precision"):
        r = class_intervals(y, p, metric=metric, confidence=confidence)
        cm = skm.confusion_matrix(y, p)
        for k in range(r["classes"].size):
            n = cm[k].sum() if metric == "recall" else cm[:, k].sum()
            ci = stats.binomtest(int(cm[k, k]), int(n)).proportion_ci(
                confidence_level=confidence, method="wilson"
            )
            assert r["low"][k] == pytest.approx(ci.low, abs=1e-12)
            assert r["high"][k] == pytest.approx(ci.high, abs=1e-12)
            assert r["value"][k] == pytest.approx(cm[k, k] / n, abs=1e-15)
        expect = (skm.recall_score if metric == "recall" else skm.precision_score)(
            y, p, average=None, zero_division=0
        )
        np.testing.assert_allclose(r["value"], expect, atol=1e-15)


def test_undefined_classes_are_nan():
    # Class 2 is predicted but never true: its recall (and interval) are undefined.
    r = class_intervals([0, 0, 1, 1], [0, 2, 1, 1])
    assert r["classes"].tolist() == [0, 1, 2]
    assert np.isnan(r["value"][2]) and np.isnan(r["low"][2]) and np.isnan(r["high"][2])
    r = class_intervals([0, 0, 1, 1], [0, 2, 1, 1], method="bootstrap", n_resamples=50)
    assert np.isnan(r["low"][2]) and not np.isnan(r["low"][0])


def test_string_labels():
    r = class_intervals(["b", "a", "a", "b"], ["b", "a", "b", "b"], method="bootstrap")
    assert r["classes"].tolist() == ["a", "b"]
    assert r["value"].tolist() == [0.5, 1.0]


# --------------------------------------------------------------- bootstrap distribution


def test_binomial_sampler_matches_the_binomial_pmf():
    # Chi-square goodness of fit of the kernel's binomial draws, both branches
    # (inversion for np < 10, BTRS above) and p > 1/2 (by symmetry).
    for n, p in [(12, 0.3), (40, 0.1), (500, 0.4), (80, 0.93), (10**6, 0.5)]:
        draws = _core.binomial_draws(n, p, 20000, 1).astype(np.int64)
        assert draws.min() >= 0 and draws.max() <= n
        lo, hi = stats.binom.ppf([1e-4, 1 - 1e-4], n, p).astype(int)
        edges = np.arange(lo, hi + 2)
        observed = np.array([np.sum(draws < lo)] + np.histogram(draws, edges)[0].tolist())
        observed = np.append(observed, np.sum(draws > hi))
        expected = np.concatenate(
            [[stats.binom.cdf(lo - 1, n, p)], stats.binom.pmf(edges[:-1], n, p),
             [stats.binom.sf(hi, n, p)]]
        ) * draws.size
        # Merge sparse bins so the chi-square approximation holds.
        keep_o, keep_e, acc_o, acc_e = [], [], 0.0, 0.0
        for o, e in zip(observed, expected):
            acc_o, acc_e = acc_o + o, acc_e + e
            if acc_e >= 20:
                keep_o.append(acc_o)
                keep_e.append(acc_e)
                acc_o = acc_e = 0.0
        keep_o[-1] += acc_o
        keep_e[-1] += acc_e
        pval = stats.chisquare(keep_o, np.array(keep_e) * sum(keep_o) / sum(keep_e)).pvalue
        assert pval > 1e-4, (n, p, pval)


def _numpy_stratified(y, p, c, metric, n_resamples, seed):
    """Reference: resample examples within each true class, recount."""
    rng = np.random.default_rng(seed)
    idx_by_class = [np.flatnonzero(y == k) for k in range(c)]
    out = np.empty((n_resamples, c))
    for r in range(n_resamples):
        idx = np.concatenate([rng.choice(ix, ix.size) for ix in idx_by_class])
        cm = np.bincount(y[idx] * c + p[idx], minlength=c * c).reshape(c, c)
        tp = np.diag(cm)
        den = {"recall": cm.sum(1), "precision": cm.sum(0), "f1": (cm.sum(1) + cm.sum(0)) / 2}
        with np.errstate(invalid="ignore", divide="ignore"):
            out[r] = tp / den[metric]
    return out


@pytest.mark.parametrize("metric", ["recall", "precision", "f1"])
def test_multinomial_bootstrap_has_the_example_bootstrap_distribution(metric):
    y, p = _data(3, n=200, c=4, acc=0.6)
    ours = class_intervals(y, p, metric=metric, method="bootstrap", n_resamples=4000)
    ref = _numpy_stratified(y, p, 4, metric, 4000, 0)
    lo, hi = np.nanquantile(ref, [0.025, 0.975], axis=0)
    # Percentiles of two independent 4000-resample runs of the same distribution.
    np.testing.assert_allclose(ours["low"], lo, atol=0.035)
    np.testing.assert_allclose(ours["high"], hi, atol=0.035)


def test_bootstrap_is_deterministic_per_seed_and_thread_count():
    y, p = _data(5)
    kw = dict(method="bootstrap", metric="f1", n_resamples=300)
    a = class_intervals(y, p, seed=7, **kw)
    before = _core.get_num_threads()
    try:
        _core.set_num_threads(1)
        b = class_intervals(y, p, seed=7, **kw)
        c = compare_predictions(y, p, y, seed=3, n_resamples=100, metric="precision")
        _core.set_num_threads(3)
        d = compare_predictions(y, p, y, seed=3, n_resamples=100, metric="precision")
    finally:
        _core.set_num_threads(0 if before is None else before)
    for key in ("low", "high"):
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(c[key], d[key])
    e = class_intervals(y, p, seed=8, **kw)
    assert not np.array_equal(a["low"], e["low"]) or not np.array_equal(a["high"], e["high"])


def test_small_class_intervals_cover_the_true_recall():
    """95% Wilson and bootstrap intervals of classes with 10-30 examples cover the true
    recall between 90% and 99% of the time (simulation, seeded)."""
    rng = np.random.default_rng(2024)
    sizes = np.arange(10, 31)
    true_recall = np.linspace(0.45, 0.8, sizes.size)
    c = sizes.size
    y = np.repeat(np.arange(c), sizes)
    hits = {"wilson": 0, "bootstrap": 0}
    trials = 150
    for t in range(trials):
        right = rng.random(y.size) < true_recall[y]
        pred = np.where(right, y, (y + 1 + rng.integers(0, c - 1, y.size)) % c)
        for method in hits:
            r = class_intervals(y, pred, method=method, n_resamples=1000, seed=t)
            hits[method] += int(np.sum((r["low"] <= true_recall) & (true_recall <= r["high"])))
    for method, h in hits.items():
        coverage = h / (trials * c)
        assert 0.90 <= coverage <= 0.99, (method, coverage)


# ------------------------------------------------------------------ bootstrap_interval


@pytest.mark.parametrize("metric", ["balanced_accuracy", "accuracy", "macro_f1"])
@pytest.mark.parametrize("stratify", [True, False])
def test_bootstrap_interval_summary_metrics(metric, stratify):
    y, p = _data(11, n=400, c=6)
    value, lo, hi = bootstrap_interval(y, p, metric=metric, stratify=stratify, n_resamples=1000)
    expect = {
        "balanced_accuracy": skm.balanced_accuracy_score(y, p),
        "accuracy": skm.accuracy_score(y, p),
        "macro_f1": skm.f1_score(y, p, average="macro", zero_division=0),
    }[metric]
    assert value == pytest.approx(expect, abs=1e-12)
    assert lo < value < hi
    # Roughly the normal-theory width of a proportion of 400 examples.
    assert 0.03 < hi - lo < 0.2


def test_bootstrap_interval_stratified_accuracy_matches_numpy():
    y, p = _data(12, n=150, c=3, acc=0.65)
    _, lo, hi = bootstrap_interval(y, p, metric="accuracy", n_resamples=4000)
    ref = _numpy_stratified(y, p, 3, "recall", 1, 0)  # warm the helper's code path
    rng = np.random.default_rng(1)
    idx_by_class = [np.flatnonzero(y == k) for k in range(3)]
    accs = []
    for _ in range(4000):
        idx = np.concatenate([rng.choice(ix, ix.size) for ix in idx_by_class])
        accs.append(np.mean(y[idx] == p[idx]))
    rlo, rhi = np.quantile(accs, [0.025, 0.975])
    assert ref.shape == (1, 3)
    assert lo == pytest.approx(rlo, abs=0.015) and hi == pytest.approx(rhi, abs=0.015)


@pytest.mark.parametrize("metric", ["roc_auc", "average_precision"])
def test_bootstrap_interval_ranking(metric):
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 500)
    s = np.round(y * 0.8 + rng.normal(size=500), 1)  # rounded: many ties
    value, lo, hi = bootstrap_interval(y, s, metric=metric, n_resamples=1000)
    scorer = skm.roc_auc_score if metric == "roc_auc" else skm.average_precision_score
    assert value == pytest.approx(scorer(y, s), abs=1e-12)
    assert lo < value < hi
    # Reference: an ordinary bootstrap of examples with scikit-learn, same width.
    ref = []
    for _ in range(300):
        idx = rng.integers(0, 500, 500)
        ref.append(scorer(y[idx], s[idx]))
    rlo, rhi = np.quantile(ref, [0.025, 0.975])
    assert lo == pytest.approx(rlo, abs=0.03) and hi == pytest.approx(rhi, abs=0.03)
    # Two columns: the positive class's scores are used.
    v2 = bootstrap_interval(y, np.stack([-s, s], 1), metric=metric, n_resamples=1000)
    assert v2 == (value, lo, hi)


def test_bootstrap_interval_ece():
    rng = np.random.default_rng(6)
    probs = rng.dirichlet(np.ones(3) * 0.5, size=400)
    y = np.array([rng.choice(3, p=row) for row in probs])
    value, lo, hi = bootstrap_interval(y, probs, metric="ece", n_resamples=500)
    assert value == pytest.approx(expected_calibration_error(y, probs), abs=1e-12)
    # ECE is biased upwards, and more so on resamples: the percentile interval need not
    # contain the value. Reference: an ordinary bootstrap of examples.
    ref = []
    for _ in range(400):
        idx = rng.integers(0, 400, 400)
        ref.append(expected_calibration_error(y[idx], probs[idx]))
    rlo, rhi = np.quantile(ref, [0.025, 0.975])
    assert lo == pytest.approx(rlo, abs=0.01) and hi == pytest.approx(rhi, abs=0.01)


# ------------------------------------------------------------------ compare_predictions


def _holm_reference(p):
    p = np.asarray(p, dtype=float)
    m = p.size
    order = np.argsort(p)
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


def test_compare_predictions_against_references():
    rng = np.random.default_rng(9)
    c, n = 6, 600
    y = rng.integers(0, c, n)
    a = np.where(rng.random(n) < 0.6, y, rng.integers(0, c, n))
    b = np.where(rng.random(n) < 0.75, y, a)  # b fixes many of a's errors
    r = compare_predictions(y, a, b, n_resamples=1000)
    ra = skm.recall_score(y, a, average=None)
    rb = skm.recall_score(y, b, average=None)
    np.testing.assert_allclose(r["a"], ra, atol=1e-15)
    np.testing.assert_allclose(r["delta"], rb - ra, atol=1e-15)
    for k in range(c):
        m = y == k
        only_a = int(np.sum(m & (a == y) & (b != y)))
        only_b = int(np.sum(m & (b == y) & (a != y)))
        ref = stats.binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
        assert r["p_value"][k] == pytest.approx(ref, rel=1e-10)
    np.testing.assert_allclose(r["p_adjusted"], _holm_reference(r["p_value"]), rtol=1e-12)
    expect = skm.balanced_accuracy_score(y, b) - skm.balanced_accuracy_score(y, a)
    assert r["balanced_accuracy_delta"] == pytest.approx(expect, abs=1e-12)
    assert r["balanced_accuracy_low"] < expect < r["balanced_accuracy_high"]
    assert np.all(r["low"] <= r["delta"]) and np.all(r["delta"] <= r["high"])
    assert np.all(r["low"] > -0.05)  # b only ever fixes errors


def test_compare_identical_models_has_zero_delta_and_p_one():
    y, p = _data(2)
    r = compare_predictions(y, p, p, n_resamples=200)
    assert np.all(r["delta"] == 0) and np.all(r["low"] == 0) and np.all(r["high"] == 0)
    assert np.all(r["p_value"] == 1.0) and np.all(r["p_adjusted"] == 1.0)


@pytest.mark.parametrize("metric", ["precision", "f1"])
def test_compare_other_metrics(metric):
    y, a = _data(21, n=300, c=4)
    _, b = _data(22, n=300, c=4)
    b = np.where(np.arange(300) % 2 == 0, y, b)
    r = compare_predictions(y, a, b, metric=metric, n_resamples=500)
    f = skm.precision_score if metric == "precision" else skm.f1_score
    np.testing.assert_allclose(
        r["delta"], f(y, b, average=None) - f(y, a, average=None), atol=1e-12
    )
    assert np.all(r["low"] <= r["delta"] + 1e-12) and np.all(r["delta"] <= r["high"] + 1e-12)


def test_mcnemar_and_holm_helpers():
    for b_, c_ in [(0, 0), (3, 9), (10, 10), (0, 7), (25, 40)]:
        ref = 1.0 if b_ + c_ == 0 else stats.binomtest(b_, b_ + c_, 0.5).pvalue
        assert mcnemar_exact(b_, c_) == pytest.approx(ref, rel=1e-12)
    p = np.array([0.01, np.nan, 0.04, 0.03, 0.2])
    got = holm(p)
    assert np.isnan(got[1])
    keep = ~np.isnan(p)
    np.testing.assert_allclose(got[keep], _holm_reference(p[keep]))


# ------------------------------------------------------------------------ group_report


def test_group_report_shot_groups_and_mapping():
    y, p = _data(30, n=500, c=6)
    counts = np.array([500, 300, 60, 40, 10, 3])
    r = group_report(y, p, train_counts=counts)
    rec = skm.recall_score(y, p, average=None)
    expect = {"many": rec[:2].mean(), "medium": rec[2:4].mean(), "few": rec[4:].mean()}
    assert r["values"] == pytest.approx(expect, abs=1e-12)
    vals = np.array(list(expect.values()))
    assert r["worst"] == min(expect, key=expect.get)
    assert r["best"] == max(expect, key=expect.get)
    assert r["gap"] == pytest.approx(vals.max() - vals.min())
    assert r["std"] == pytest.approx(vals.std())
    groups = {0: "x", 1: "y", 2: "x", 3: "y", 4: "z", 5: "z"}
    r = group_report(y, p, groups=groups, metric="f1")
    f1 = skm.f1_score(y, p, average=None)
    assert r["values"]["x"] == pytest.approx((f1[0] + f1[2]) / 2)
    assert r["values"]["z"] == pytest.approx((f1[4] + f1[5]) / 2)
    r = group_report(y, p, groups={0: "x", 1: "x"}, metric="precision")
    prec = skm.precision_score(y, p, average=None)
    assert r["values"]["x"] == pytest.approx((prec[0] + prec[1]) / 2)


def test_group_report_empty_group_is_nan():
    r = group_report([0, 0, 1], [0, 1, 1], train_counts=[500, 5, 7])
    assert np.isnan(r["values"]["medium"])
    assert r["worst"] == "many" and r["best"] == "few"


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: class_intervals([0, 1], [0, 1], metric="auc"), "metric"),
        (lambda: class_intervals([0, 1], [0, 1], method="exact"), "method"),
        (lambda: class_intervals([0, 1], [0, 1], metric="f1"), "metric"),
        (lambda: class_intervals([0, 1], [0, 1], confidence=1.0), "confidence"),
        (lambda: class_intervals([0, 1], [0, 1], n_resamples=0), "n_resamples"),
        (lambda: class_intervals([0, 1], [0, 1, 1]), "y_pred"),
        (lambda: class_intervals([], []), "y_true"),
        (lambda: class_intervals([0, 1], [0, 1], seed=-1), "seed"),
        (lambda: bootstrap_interval([0, 1], [0, 1], metric="mcc"), "metric"),
        (lambda: bootstrap_interval([0, 1, 2], [0.1, 0.2, 0.3], metric="roc_auc"), "y_true"),
        (lambda: bootstrap_interval([0, 1], [[0.1, 0.2, 0.7]] * 2, metric="roc_auc"), "y_score"),
        (lambda: bootstrap_interval([0, 1], [[0.5, 0.5]], metric="ece"), "probs"),
        (lambda: compare_predictions([0, 1], [0, 1], [0]), "pred_b"),
        (lambda: group_report([0, 1], [0, 1]), "groups"),
        (lambda: group_report([0, 1], [0, 1], train_counts=[5, 1], few=50, many=10), "few"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_type_errors():
    with pytest.raises(TypeError, match="seed"):
        class_intervals([0, 1], [0, 1], seed=1.5)
    with pytest.raises(TypeError, match="confidence"):
        class_intervals([0, 1], [0, 1], confidence="high")
    with pytest.raises(TypeError, match="groups"):
        group_report([0, 1], [0, 1], groups=[0, 1])


@SETTINGS
@given(st.integers(0, 10**6), st.integers(2, 6))
def test_swapping_the_models_negates_the_delta(seed, c):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, 80)
    a = np.where(rng.random(80) < 0.6, y, rng.integers(0, c, 80))
    b = np.where(rng.random(80) < 0.6, y, rng.integers(0, c, 80))
    ab = compare_predictions(y, a, b, n_resamples=200, seed=1)
    ba = compare_predictions(y, b, a, n_resamples=200, seed=1)
    np.testing.assert_allclose(ab["delta"], -ba["delta"], atol=1e-15)
    np.testing.assert_allclose(ab["p_value"], ba["p_value"], rtol=1e-12)
    # The interval is mirrored up to Monte-Carlo error (cells are drawn in another order).
    np.testing.assert_allclose(ab["low"], -ba["high"], atol=0.15)
    assert ab["balanced_accuracy_delta"] == pytest.approx(-ba["balanced_accuracy_delta"])


def test_torch_and_float_label_inputs():
    torch = pytest.importorskip("torch")
    y, p = _data(40, n=100, c=3)
    ref = class_intervals(y, p, method="bootstrap", n_resamples=100)
    got = class_intervals(
        torch.from_numpy(y), torch.from_numpy(p).double(), method="bootstrap", n_resamples=100
    )
    for key in ("value", "low", "high"):
        np.testing.assert_array_equal(ref[key], got[key])
