"""Classification metrics against scikit-learn / imbalanced-learn: results to 1e-12,
same warnings, same errors."""

import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imblearn.metrics import geometric_mean_score as imb_gmean

import longtail.metrics as lm

TOL = 1e-12
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))


def same(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=0, atol=TOL)


def run(fn, *args, **kw):
    """(result or exception type, warning categories)."""
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        try:
            out = fn(*args, **kw)
        except ValueError:
            out = ValueError
    return out, sorted({w.category.__name__ for w in ws})


def both(name, *args, ref=None, **kw):
    ours, wl = run(getattr(lm, name), *args, **kw)
    theirs, ws = run(ref or getattr(skm, name), *args, **kw)
    assert wl == ws, (wl, ws)
    if theirs is ValueError or ours is ValueError:
        assert ours is theirs
        return
    if isinstance(theirs, tuple):
        for a, b in zip(ours, theirs):
            if b is None:
                assert a is None
            else:
                same(a, b)
    else:
        same(ours, theirs)


@st.composite
def labels_problem(draw):
    n = draw(st.integers(1, 50))
    c = draw(st.integers(1, 5))
    yt = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    yp = np.array(draw(st.lists(st.integers(0, c), min_size=n, max_size=n)))
    w = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=n, max_size=n)))
    return yt, yp, w


@SETTINGS
@given(labels_problem(), st.booleans(), st.sampled_from([None, "true", "pred", "all"]))
def test_confusion_matrix(problem, weighted, normalize):
    yt, yp, w = problem
    w = w if weighted else None
    both("confusion_matrix", yt, yp, sample_weight=w, normalize=normalize)
    both("confusion_matrix", yt, yp, labels=[2, 0, 7], sample_weight=w)
    wi = None if w is None else w.astype(int)
    ours, _ = run(lm.confusion_matrix, yt, yp, sample_weight=wi)
    ref, _ = run(skm.confusion_matrix, yt, yp, sample_weight=wi)
    if ref is ValueError:
        assert ours is ValueError
    else:
        assert ours.dtype == ref.dtype and np.array_equal(ours, ref)


@SETTINGS
@given(
    labels_problem(),
    st.booleans(),
    st.sampled_from([None, "binary", "micro", "macro", "weighted"]),
    st.sampled_from(["warn", 0.0, 1.0, np.nan]),
)
def test_prf_family(problem, weighted, average, zero_division):
    yt, yp, w = problem
    w = w if weighted else None
    kw = dict(average=average, sample_weight=w, zero_division=zero_division)
    both("precision_recall_fscore_support", yt, yp, **kw)
    both("precision_recall_fscore_support", yt, yp, beta=0.5, labels=[1, 0, 3], **kw)
    for name in ("f1_score", "precision_score", "recall_score"):
        both(name, yt, yp, **kw)


@SETTINGS
@given(labels_problem(), st.booleans())
def test_matrix_summaries(problem, weighted):
    yt, yp, w = problem
    w = w if weighted else None
    both("balanced_accuracy_score", yt, yp, sample_weight=w)
    both("balanced_accuracy_score", yt, yp, sample_weight=w, adjusted=True)
    both("matthews_corrcoef", yt, yp, sample_weight=w)
    for weights in (None, "linear", "quadratic"):
        both("cohen_kappa_score", yt, yp, weights=weights, sample_weight=w)


@SETTINGS
@given(
    labels_problem(), st.sampled_from(["multiclass", "binary", "macro", "weighted", "micro", None])
)
def test_geometric_mean(problem, average):
    yt, yp, _ = problem
    both("geometric_mean_score", yt, yp, average=average, ref=imb_gmean)
    both("geometric_mean_score", yt, yp, average=average, correction=0.001, ref=imb_gmean)


@SETTINGS
@given(st.integers(3, 60), st.integers(3, 6), st.integers(1, 6), st.booleans())
def test_top_k(n, c, k, weighted):
    n = max(n, c)
    rng = np.random.default_rng(n * 31 + c)
    y = rng.integers(0, c, n)
    y[:c] = np.arange(c)
    s = rng.integers(0, 3, (n, c)) / 3.0  # many ties
    w = rng.random(n) if weighted else None
    both("top_k_accuracy_score", y, s, k=k, sample_weight=w)
    both("top_k_accuracy_score", y, s, k=k, sample_weight=w, normalize=False)


def test_multilabel_and_string_targets():
    rng = np.random.default_rng(0)
    yt = (rng.random((40, 4)) > 0.5).astype(int)
    yp = (rng.random((40, 4)) > 0.5).astype(int)
    for average in (None, "micro", "macro", "weighted", "samples"):
        both("precision_recall_fscore_support", yt, yp, average=average)
        both("f1_score", yt, yp, average=average, labels=[0, 2])
    a = np.array(["ant", "bee", "cat"])
    st_, sp_ = a[rng.integers(0, 3, 60)], a[rng.integers(0, 3, 60)]
    both("confusion_matrix", st_, sp_)
    both("confusion_matrix", st_, sp_, labels=["cat", "ant"])
    both("f1_score", st_, sp_, average="macro")
    both("cohen_kappa_score", st_, sp_)
    both("matthews_corrcoef", st_, sp_)
    both("precision_score", st_[:10] == "ant", sp_[:10] == "ant")


@pytest.mark.parametrize(
    "call",
    [
        lambda: lm.confusion_matrix([0, 1], [0]),
        lambda: lm.confusion_matrix([0, 1], [0.5, 1.0]),
        lambda: lm.confusion_matrix([0, 1], [0, 1], labels=[]),
        lambda: lm.confusion_matrix([0, 1], [0, 1], labels=[5]),
        lambda: lm.confusion_matrix([0, 1], [0, 1], normalize="rows"),
        lambda: lm.f1_score([0, 1, 2], [0, 1, 2]),
        lambda: lm.f1_score([0, 1], [0, 1], average="bogus"),
        lambda: lm.f1_score([0, 2], [0, 2], pos_label=1),
        lambda: lm.precision_score([0, 1], [0, 1], zero_division="x"),
        lambda: lm.top_k_accuracy_score([0, 1, 2], np.ones((3, 4)), k=1),
        lambda: lm.top_k_accuracy_score([0, 1, 2], np.ones((3, 3)), k=1, labels=[0, 2, 1]),
        lambda: lm.matthews_corrcoef([[0, 1]], [[0, 1]]),
    ],
)
def test_errors_where_sklearn_raises(call):
    with pytest.raises(ValueError):
        call()


def test_input_kinds_and_large_counts():
    rng = np.random.default_rng(1)
    yt = rng.integers(0, 20, 200_000)
    yp = rng.integers(-1, 19, 200_000)
    want = skm.confusion_matrix(yt, yp)
    for a, b in [
        (torch.from_numpy(yt), torch.from_numpy(yp)),
        (yt.astype(np.int16), yp.astype(np.int32)[::-1][::-1]),
        (np.repeat(yt, 2)[::2], np.repeat(yp, 2)[::2]),
    ]:
        assert np.array_equal(lm.confusion_matrix(a, b), want)
    wide = yt * 10_000_000  # range too wide for the dense path: bitmap + lookup table
    assert np.array_equal(
        lm.confusion_matrix(wide, yp * 10_000_000), skm.confusion_matrix(wide, yp * 10_000_000)
    )
