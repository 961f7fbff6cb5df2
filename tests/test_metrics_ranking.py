"""Ranking metrics against scikit-learn: same results to 1e-12, same errors, same warnings."""

import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning

import longtail.metrics as lm

TOL = 1e-12
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def same(a, b):
    """Equal to 1e-12, NaN where the reference is NaN, same shapes."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=0, atol=TOL)


def both(fn, *args, **kw):
    """Run longtail and scikit-learn with warnings recorded; return both results."""
    with warnings.catch_warnings(record=True) as wl:
        warnings.simplefilter("always")
        ours = getattr(lm, fn)(*args, **kw)
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        ref = getattr(skm, fn)(*args, **kw)
    cats = lambda ws: sorted({w.category.__name__ for w in ws})  # noqa: E731
    assert cats(wl) == cats(ws), (wl, ws)
    return ours, ref


@st.composite
def binary_problem(draw, weighted=False):
    n = draw(st.integers(2, 60))
    levels = draw(st.sampled_from([2, 3, 5, 1000]))  # few levels = many ties
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    s = np.array(draw(st.lists(st.integers(0, levels - 1), min_size=n, max_size=n))) / levels
    if draw(st.booleans()):
        s = s - 0.5  # negative scores, -0.0 vs 0.0
    w = None
    if weighted:
        w = np.array(
            draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.25]), min_size=n, max_size=n))
        )
    return y, s, w


@SETTINGS
@given(binary_problem(weighted=False), st.sampled_from([None, 1.0, 0.3, 0.77]))
def test_binary_roc_auc_and_ap(problem, max_fpr):
    y, s, _ = problem
    same(*both("roc_auc_score", y, s, max_fpr=max_fpr))
    same(*both("average_precision_score", y, s))


@SETTINGS
@given(binary_problem(weighted=True))
def test_binary_weighted(problem):
    y, s, w = problem
    if w.sum() == 0:
        return
    same(*both("roc_auc_score", y, s, sample_weight=w))
    same(*both("average_precision_score", y, s, sample_weight=w))


@SETTINGS
@given(binary_problem(weighted=True), st.booleans(), st.booleans())
def test_curves(problem, drop, use_weight):
    y, s, w = problem
    w = w if use_weight else None
    if w is not None and w.sum() == 0:
        return  # both libraries raise (tested with the other errors)
    for fn in ("roc_curve", "precision_recall_curve"):
        ours, ref = both(fn, y, s, sample_weight=w, drop_intermediate=drop)
        assert len(ours) == 3
        for a, b in zip(ours, ref):
            same(a, b)


@st.composite
def multiclass_problem(draw):
    n = draw(st.integers(6, 80))
    c = draw(st.integers(3, 6))
    y = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    y[:c] = np.arange(c)  # every class present
    raw = np.array(draw(st.lists(st.integers(1, 4), min_size=n * c, max_size=n * c)), float)
    p = raw.reshape(n, c)
    p /= p.sum(axis=1, keepdims=True)
    return y, p


@SETTINGS
@given(multiclass_problem(), st.sampled_from(["macro", "weighted", "micro", None]))
def test_ovr(problem, average):
    y, p = problem
    same(*both("roc_auc_score", y, p, multi_class="ovr", average=average))
    w = np.linspace(0.0, 2.0, y.shape[0])
    same(*both("roc_auc_score", y, p, multi_class="ovr", average=average, sample_weight=w))
    same(*both("average_precision_score", y, p, average=average))
    same(*both("average_precision_score", y, p, average=average, sample_weight=w))


@SETTINGS
@given(multiclass_problem(), st.sampled_from(["macro", "weighted"]))
def test_ovo(problem, average):
    y, p = problem
    same(*both("roc_auc_score", y, p, multi_class="ovo", average=average))


def test_labels_with_absent_class_and_string_targets():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 50)
    p = rng.random((50, 4))
    p /= p.sum(1, keepdims=True)
    for mc in ("ovr", "ovo"):
        same(*both("roc_auc_score", y, p, multi_class=mc, labels=[0, 1, 2, 3]))
    ys = np.array(["cat", "dog", "eel"])[y]
    q = p[:, :3] / p[:, :3].sum(1, keepdims=True)
    same(*both("roc_auc_score", ys, q, multi_class="ovr"))
    yb = np.array(["no", "yes"])[rng.integers(0, 2, 50)]
    same(*both("roc_auc_score", yb, p[:, 0]))
    same(*both("average_precision_score", yb, p[:, 0], pos_label="yes"))
    ours, ref = both("roc_curve", yb, p[:, 0], pos_label="no")
    for a, b in zip(ours, ref):
        same(a, b)


@SETTINGS
@given(
    st.integers(4, 40),
    st.integers(2, 5),
    st.sampled_from(["macro", "weighted", "micro", "samples", None]),
)
def test_multilabel(n, c, average):
    rng = np.random.default_rng(n * 7 + c)
    y = (rng.random((n, c)) > 0.5).astype(int)
    s = rng.integers(0, 4, (n, c)) / 4
    same(*both("roc_auc_score", y, s, average=average))
    same(*both("average_precision_score", y, s, average=average))


def test_one_class_warns_and_returns_nan():
    with pytest.warns(UndefinedMetricWarning, match="Only one class"):
        assert np.isnan(lm.roc_auc_score([1, 1, 1], [0.2, 0.3, 0.4]))
    with pytest.warns(UndefinedMetricWarning):
        skm_val = skm.roc_auc_score([1, 1, 1], [0.2, 0.3, 0.4])
    assert np.isnan(skm_val)
    with pytest.warns(UserWarning, match="No positive class"):
        assert lm.average_precision_score([0, 0], [0.1, 0.2]) == 0.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: lm.roc_auc_score([0, 1, 1], [0.1, np.nan, 0.3]),
        lambda: lm.roc_auc_score([0, 1, 1], [0.1, np.inf, 0.3]),
        lambda: lm.roc_auc_score([0, 1, 1], [0.1, 0.2]),
        lambda: lm.roc_auc_score([0, 1], [0.1, 0.2], sample_weight=[1.0]),
        lambda: lm.roc_auc_score([0, 1, 2], np.full((3, 3), 0.5), multi_class="ovr"),
        lambda: lm.roc_auc_score([0, 1, 2], np.full((3, 3), 1 / 3)),
        lambda: lm.roc_auc_score([0, 1, 2], np.full((3, 3), 1 / 3), multi_class="ovr", max_fpr=0.5),
        lambda: lm.roc_auc_score([0, 1, 2], np.full((3, 4), 0.25), multi_class="ovr"),
        lambda: lm.roc_auc_score(
            [0, 1, 2], np.full((3, 3), 1 / 3), multi_class="ovo", sample_weight=[1, 1, 1]
        ),
        lambda: lm.roc_auc_score(
            [0, 1, 2], np.full((3, 3), 1 / 3), multi_class="ovr", labels=[0, 2, 1]
        ),
        lambda: lm.roc_auc_score([0, 1], [0.1, 0.2], max_fpr=0.0),
        lambda: lm.roc_auc_score([0.5, 1.0], [0.1, 0.2]),
        lambda: lm.average_precision_score([0, 2], [0.1, 0.2]),
        lambda: lm.roc_curve([0, 2], [0.1, 0.2]),
        lambda: lm.roc_auc_score([], []),
    ],
)
def test_errors_where_sklearn_raises(call):
    with pytest.raises(ValueError):
        call()


def test_error_names_argument():
    with pytest.raises(ValueError, match="y_score"):
        lm.roc_auc_score([0, 1, 1], [0.1, np.nan, 0.3])


def test_input_kinds_agree():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = rng.random(500).astype(np.float32)
    want = skm.roc_auc_score(y, s)
    strided = np.repeat(s, 2)[::2]
    for ys, ss in [
        (y.tolist(), s.tolist()),
        (y.astype(np.int8), strided),
        (torch.from_numpy(y), torch.from_numpy(s)),
        (y.astype(bool), s.astype(np.float16).astype(np.float64)),
    ]:
        got = lm.roc_auc_score(ys, ss)
        ref = skm.roc_auc_score(np.asarray(ys), np.asarray(ss, dtype=np.float64))
        assert abs(got - ref) < TOL
    assert abs(lm.roc_auc_score(torch.from_numpy(y), torch.from_numpy(s)) - want) < TOL
    if torch.cuda.is_available():
        got = lm.roc_auc_score(torch.from_numpy(y).cuda(), torch.from_numpy(s).cuda())
        assert abs(got - want) < TOL


@pytest.mark.parametrize(
    "labels, dtype",
    [
        ((0, 1), np.int64),
        ((-1, 1), np.int32),
        ((1, 2), np.int64),
        ((0, 5), np.int16),
        ((3, 4), np.uint8),
        ((0, 1), np.uint64),
        ((0, 1), bool),
    ],
)
def test_label_encodings_and_pos_label(labels, dtype):
    # Integer labels take a fused range-and-mask pass that guesses the positive label;
    # a wrong guess must fall back, so every encoding and pos_label agrees with sklearn.
    rng = np.random.default_rng(5)
    y = np.asarray(labels, dtype=dtype)[rng.integers(0, 2, 400)]
    s = np.round(rng.random(400), 2)
    same(*both("roc_auc_score", y, s))
    for pos in [labels[1], np.int64(labels[0]), float(labels[1])]:
        pos = bool(pos) if dtype is bool else pos
        same(*both("average_precision_score", y, s, pos_label=pos))
        for a, b in zip(lm.roc_curve(y, s, pos_label=pos), skm.roc_curve(y, s, pos_label=pos)):
            same(a, b)
        for a, b in zip(
            lm.precision_recall_curve(y, s, pos_label=pos),
            skm.precision_recall_curve(y, s, pos_label=pos),
        ):
            same(a, b)


@pytest.mark.slow
def test_large_binary_matches_exactly():
    rng = np.random.default_rng(3)
    n = 300_000  # above the parallel-sort threshold
    y = rng.integers(0, 2, n)
    s = np.round(rng.normal(size=n), 3)
    same(lm.roc_auc_score(y, s), skm.roc_auc_score(y, s))
    same(lm.average_precision_score(y, s), skm.average_precision_score(y, s))
    for a, b in zip(lm.roc_curve(y, s), skm.roc_curve(y, s)):
        same(a, b)


@pytest.mark.slow
@pytest.mark.parametrize(
    "dist",
    ["uniform", "sigmoid", "logits", "ties", "wide", "tiny"],
)
def test_large_binary_score_distributions(dist):
    """The bucketed kernel (unit weights) on skewed scores and labels other than 0/1."""
    rng = np.random.default_rng(11)
    n = 200_000
    z = rng.normal(size=n)
    s = {
        "uniform": rng.random(n),
        "sigmoid": 1 / (1 + np.exp(-8 * z)),
        "logits": 12 * z,
        "ties": np.round(z, 1),
        "wide": z * 1e300,
        "tiny": np.exp(-700 * rng.random(n)),
    }[dist]
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-z)), 7, 3)
    same(lm.roc_auc_score(y, s), skm.roc_auc_score(y, s))
    for pos in (3, 7):
        same(
            lm.average_precision_score(y, s, pos_label=pos),
            skm.average_precision_score(y, s, pos_label=pos),
        )
