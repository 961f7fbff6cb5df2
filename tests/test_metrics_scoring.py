"""accuracy_score, log_loss, brier_score_loss against scikit-learn (results and errors)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from longtail.metrics import accuracy_score, brier_score_loss, log_loss

SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def _probs(rng, n, c, dtype=np.float64):
    p = rng.dirichlet(np.ones(c), size=n).astype(dtype)
    return p


def _same(ours, theirs):
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-12)


@SETTINGS
@given(st.integers(1, 60), st.integers(2, 5), st.integers(0, 10**6), st.booleans())
def test_accuracy_matches_sklearn(n, c, seed, weighted):
    rng = np.random.default_rng(seed)
    y, p = rng.integers(0, c, n), rng.integers(0, c, n)
    w = rng.random(n) if weighted else None
    for normalize in (True, False):
        _same(
            accuracy_score(y, p, normalize=normalize, sample_weight=w),
            skm.accuracy_score(y, p, normalize=normalize, sample_weight=w),
        )


def test_accuracy_multilabel_and_strings():
    yt = np.array([[0, 1], [1, 1], [1, 0]])
    yp = np.array([[0, 1], [1, 0], [1, 0]])
    _same(accuracy_score(yt, yp), skm.accuracy_score(yt, yp))
    a, b = ["cat", "dog", "dog"], ["cat", "cat", "dog"]
    _same(accuracy_score(a, b), skm.accuracy_score(a, b))


@SETTINGS
@given(
    st.integers(2, 60),
    st.integers(2, 6),
    st.integers(0, 10**6),
    st.booleans(),
    st.sampled_from([np.float64, np.float32]),
)
def test_log_loss_matches_sklearn(n, c, seed, weighted, dtype):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    y[:2] = [0, c - 1]
    labels = np.arange(c)
    p = _probs(rng, n, c, dtype)
    p[0, 0] = 0.0  # exercises the clipping at eps of the dtype
    p[0] /= p[0].sum()
    w = rng.random(n) if weighted else None
    for normalize in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # float32 rows may not sum to 1
            ours = log_loss(y, p, normalize=normalize, sample_weight=w, labels=labels)
            theirs = skm.log_loss(y, p, normalize=normalize, sample_weight=w, labels=labels)
        _same(ours, theirs)


def test_log_loss_binary_1d_strings_and_labels():
    y = ["spam", "ham", "ham", "spam"]
    p = [[0.1, 0.9], [0.9, 0.1], [0.8, 0.2], [0.35, 0.65]]
    _same(log_loss(y, p), skm.log_loss(y, p))
    yb, pb = [0, 1, 1, 0], [0.2, 0.7, 1.0, 0.0]
    _same(log_loss(yb, pb), skm.log_loss(yb, pb))
    # A class missing from y_true: labels= says which columns there are.
    y3, p3 = [0, 1, 1], [[0.5, 0.3, 0.2], [0.1, 0.8, 0.1], [0.2, 0.6, 0.2]]
    _same(log_loss(y3, p3, labels=[0, 1, 2]), skm.log_loss(y3, p3, labels=[0, 1, 2]))


def test_log_loss_y_pred_is_deprecated():
    with pytest.warns(FutureWarning, match="y_proba"):
        v = log_loss([0, 1], y_pred=[0.2, 0.7])
    _same(v, skm.log_loss([0, 1], [0.2, 0.7]))
    with pytest.raises(ValueError, match="both"):
        log_loss([0, 1], [0.2, 0.7], y_pred=[0.2, 0.7])


def test_log_loss_warns_when_rows_do_not_sum_to_one():
    with pytest.warns(UserWarning, match="do not sum to one"):
        ours = log_loss([0, 1], [[0.5, 0.2], [0.3, 0.3]])
    with pytest.warns(UserWarning, match="do not sum to one"):
        theirs = skm.log_loss([0, 1], [[0.5, 0.2], [0.3, 0.3]])
    _same(ours, theirs)


@pytest.mark.parametrize(
    "y, p, kwargs",
    [
        ([0, 0], [0.5, 0.5], {}),  # one class in y_true
        ([0, 1, 2], [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]], {}),  # classes vs columns
        ([0, 1], [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]], {"labels": [0, 1]}),
        ([0, 1], [1.5, 0.5], {}),
        ([0, 1], [-0.5, 0.5], {}),
        ([0, 1, 3], [[0.5, 0.5]] * 3, {"labels": [0, 1]}),  # y_true outside labels
        ([0, 1], [0.5], {}),  # lengths
        ([0, 1], [np.nan, 0.5], {}),
        ([0, 1], [[[0.5]]] * 2, {}),
    ],
)
def test_log_loss_errors_like_sklearn(y, p, kwargs):
    with pytest.raises(ValueError):
        skm.log_loss(y, p, **kwargs)
    with pytest.raises(ValueError):
        log_loss(y, p, **kwargs)


@SETTINGS
@given(st.integers(1, 60), st.integers(0, 10**6), st.booleans())
def test_brier_binary_matches_sklearn(n, seed, weighted):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = rng.random(n)
    w = rng.random(n) if weighted else None
    _same(brier_score_loss(y, p, sample_weight=w), skm.brier_score_loss(y, p, sample_weight=w))
    for pos in (0, 1):
        _same(
            brier_score_loss(y, p, pos_label=pos, sample_weight=w),
            skm.brier_score_loss(y, p, pos_label=pos, sample_weight=w),
        )


@SETTINGS
@given(
    st.integers(3, 60),
    st.integers(2, 6),
    st.integers(0, 10**6),
    st.sampled_from([True, False, "auto"]),
)
def test_brier_multiclass_matches_sklearn(n, c, seed, half):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    y[:2] = [0, c - 1]
    p = _probs(rng, n, c)
    labels = np.arange(c)
    _same(
        brier_score_loss(y, p, labels=labels, scale_by_half=half),
        skm.brier_score_loss(y, p, labels=labels, scale_by_half=half),
    )


def test_brier_pos_label_rules():
    # {-1, 1}: pos_label 1; other numbers: the larger label; strings need pos_label.
    for y in ([-1, 1, 1, -1], [2, 7, 7, 2], [1, 1, 1, 1], [0, 0, 0, 0]):
        p = [0.1, 0.9, 0.6, 0.3]
        _same(brier_score_loss(y, p), skm.brier_score_loss(y, p))
    ys, p = ["a", "b", "b"], [0.2, 0.7, 0.9]
    with pytest.raises(ValueError, match="pos_label"):
        skm.brier_score_loss(ys, p)
    with pytest.raises(ValueError, match="pos_label"):
        brier_score_loss(ys, p)
    _same(brier_score_loss(ys, p, pos_label="b"), skm.brier_score_loss(ys, p, pos_label="b"))


@pytest.mark.parametrize(
    "y, p",
    [
        ([0, 1, 2], [0.1, 0.2, 0.3]),  # multiclass target with 1-D probabilities
        ([0, 1], [1.2, 0.3]),
        ([0, 1], [-0.2, 0.3]),
        ([0, 1], [0.3]),
        ([0.5, 1], [0.3, 0.2]),
    ],
)
def test_brier_errors_like_sklearn(y, p):
    with pytest.raises(ValueError):
        skm.brier_score_loss(y, p)
    with pytest.raises(ValueError):
        brier_score_loss(y, p)


_WEIGHT_CASES = {
    "nan": [1, np.nan, 1, 1],
    "strings": np.array(["1", "1", "1", "1"]),
    "complex": np.array([1, 1, 1, 1j]),
    "column": [[1], [2], [1], [1]],
    "all zero": [0, 0, 0, 0],
    "2-D": [[1, 1]] * 4,
    "short": [1, 1],
    "scalar": 3.0,
    "float32": np.array([1, 2, 1, 1], np.float32),
    "bool": [True, False, True, True],
}


@pytest.mark.parametrize("case", sorted(_WEIGHT_CASES))
@pytest.mark.parametrize("name", ["accuracy_score", "log_loss", "brier_score_loss"])
def test_sample_weight_edge_cases_as_sklearn(name, case):
    """The shared weight reader gives scikit-learn's result or its kind of exception."""
    import longtail.metrics as lm

    y = np.array([0, 1, 1, 0])
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]])
    pred = {"accuracy_score": np.array([0, 1, 0, 0]), "log_loss": probs,
            "brier_score_loss": probs[:, 1]}[name]
    w = _WEIGHT_CASES[case]

    def run(f):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return float(f(y, pred, sample_weight=w))
        except Exception as e:  # noqa: BLE001 - the exception type is the result
            return type(e)

    want, got = run(getattr(skm, name)), run(getattr(lm, name))
    if isinstance(want, type):
        assert isinstance(got, type), got
        assert issubclass(got, want) or (
            issubclass(want, ValueError) and issubclass(got, ValueError)
        ), (want, got)
    else:
        assert got == pytest.approx(want, rel=1e-12)
