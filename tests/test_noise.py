"""longtail.noise against cleanlab 2.x (the oracle) on long-tailed inputs.

Inputs: Zipf class sizes, a class with a single example, a class the model never
predicts, sometimes a class absent from the labels (cleanlab's float64-threshold path),
float32 and float64. The oracle runs with n_jobs=1 (no fork) and its warnings silenced.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from longtail import noise

cleanlab = pytest.importorskip("cleanlab")
from cleanlab import count as cl_count  # noqa: E402
from cleanlab import filter as cl_filter  # noqa: E402
from cleanlab import rank as cl_rank  # noqa: E402

SETTINGS = settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def make_data(seed, c, n_head, alpha, dtype, missing=False, ties=False, temperature=1.0):
    """Long-tailed labels and noisy softmax predictions.

    Class sizes follow Zipf(alpha) from n_head down; the last class has one example;
    class 1 is never the argmax (its logit is pushed down); with ``missing`` class
    c - 2 has no example; with ``ties`` probabilities are multiples of 1/16.
    """
    rng = np.random.default_rng(seed)
    sizes = np.maximum(1, (n_head / np.arange(1, c + 1) ** alpha).astype(int))
    sizes[-1] = 1
    if missing and c >= 4:
        sizes[c - 2] = 0
    y_true = np.repeat(np.arange(c), sizes)
    rng.shuffle(y_true)
    n = y_true.size
    logits = rng.normal(size=(n, c)) * temperature
    logits[np.arange(n), y_true] += 2.0
    logits[:, 1] -= 8.0  # class 1: never predicted
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    if ties:
        p = np.round(p * 16) / 16
        p[:, 0] += 1 - p.sum(1)
        p = np.clip(p, 0, 1)
    y = y_true.copy()
    flip = rng.random(n) < 0.2
    y[flip] = rng.integers(0, c, flip.sum())
    if missing and c >= 4:
        y[y == c - 2] = 0
    return y.astype(np.int64), p.astype(dtype)


@st.composite
def long_tailed(draw, ties=False):
    seed = draw(st.integers(0, 2**32 - 1))
    c = draw(st.integers(2, 9))
    n_head = draw(st.integers(5, 120))
    alpha = draw(st.floats(0.5, 2.0))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    missing = draw(st.booleans())
    temperature = draw(st.sampled_from([0.5, 1.0, 3.0]))
    y, p = make_data(seed, c, n_head, alpha, dtype, missing, ties, temperature)
    if len(np.unique(y)) < 2:
        y[0] = 1 - y[0] if y[0] in (0, 1) else 0
    return y, p


def oracle(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ----------------------------------------------------------------- confident joint


@SETTINGS
@given(long_tailed(), st.booleans())
def test_confident_joint_equals_cleanlab(data, calibrate):
    y, p = data
    want = oracle(cl_count.compute_confident_joint, y, p, calibrate=calibrate)
    got = noise.confident_joint(y, p, calibrate=calibrate)
    np.testing.assert_array_equal(got, want)


def test_thresholds_reproduce_numpy_mean_bit_for_bit():
    rng = np.random.default_rng(0)
    for n in (3, 7, 8, 11, 129, 1000, 70_001):
        for dtype in (np.float32, np.float64):
            p = rng.random((n, 3)).astype(dtype) ** 3
            y = rng.integers(0, 3, n)
            y[:3] = [0, 1, 2]
            from longtail import _core

            counts, sums = _core.noise_class_sums(y, p)
            got = noise._thresholds(np.asarray(counts), np.asarray(sums), p.dtype.type)
            want = cl_count.get_confident_thresholds(y, p)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


def test_row_exactly_on_a_threshold_is_counted_like_cleanlab():
    # float32 rows whose probability equals the (threshold - 1e-6) boundary exactly
    p = np.array([[0.75, 0.25], [0.25, 0.75], [0.5, 0.5], [0.7499990463, 0.2500009537]])
    p = p.astype(np.float32)
    y = np.array([0, 1, 0, 1])
    for calibrate in (True, False):
        want = cl_count.compute_confident_joint(y, p, calibrate=calibrate)
        np.testing.assert_array_equal(noise.confident_joint(y, p, calibrate=calibrate), want)


# ------------------------------------------------------------- find_label_issues


@SETTINGS
@given(long_tailed(), st.sampled_from(noise.FILTERS))
def test_find_label_issues_equals_cleanlab(data, filter_by):
    y, p = data
    want = oracle(cl_filter.find_label_issues, y, p, filter_by=filter_by, n_jobs=1)
    got = noise.find_label_issues(y, p, filter_by=filter_by)
    np.testing.assert_array_equal(got, want)


@SETTINGS
@given(
    long_tailed(),
    st.sampled_from(["prune_by_noise_rate", "prune_by_class", "both"]),
    st.sampled_from([1.0, 0.5, 0.1]),
    st.integers(0, 12),
)
def test_frac_noise_and_min_examples_equal_cleanlab(data, filter_by, frac_noise, min_examples):
    y, p = data
    kw = dict(filter_by=filter_by, frac_noise=frac_noise, min_examples_per_class=min_examples)
    want = oracle(cl_filter.find_label_issues, y, p, n_jobs=1, **kw)
    np.testing.assert_array_equal(noise.find_label_issues(y, p, **kw), want)


@SETTINGS
@given(long_tailed(), st.sampled_from(["prune_by_noise_rate", "prune_by_class", "both"]))
def test_num_to_remove_per_class_equals_cleanlab(data, filter_by):
    y, p = data
    c = p.shape[1]
    counts = np.bincount(y, minlength=c)
    remove = (counts // 4).tolist()
    kw = dict(filter_by=filter_by, num_to_remove_per_class=remove)
    want = oracle(cl_filter.find_label_issues, y, p, n_jobs=1, **kw)
    np.testing.assert_array_equal(noise.find_label_issues(y, p, **kw), want)


@SETTINGS
@given(long_tailed(), st.sampled_from(noise.RANK_METHODS), st.sampled_from(noise.FILTERS))
def test_ranked_indices_equal_cleanlab(data, rank_by, filter_by):
    y, p = data
    want = oracle(
        cl_filter.find_label_issues, y, p, filter_by=filter_by, return_indices_ranked_by=rank_by,
        n_jobs=1,
    )
    got = noise.find_label_issues(y, p, filter_by=filter_by, return_indices_ranked_by=rank_by)
    scores = noise.label_quality_scores(y, p, method=rank_by)
    if np.unique(scores[got]).size == got.size:  # no tied scores: the order is unique
        np.testing.assert_array_equal(got, want)
    else:  # ties: cleanlab's quicksort order is unspecified; the sorted scores agree
        np.testing.assert_array_equal(np.sort(got), np.sort(want))
        np.testing.assert_array_equal(scores[got], scores[want])


def test_ranking_breaks_score_ties_by_index():
    p = np.array([[0.2, 0.8], [0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.8, 0.2], [0.95, 0.05]])
    y = np.array([0, 0, 0, 1, 1, 1])
    got = noise.find_label_issues(
        y, p, filter_by="predicted_neq_given", return_indices_ranked_by="self_confidence"
    )
    assert got.tolist() == [5, 0, 2, 4]


# ---------------------------------------------------------------- quality scores


@SETTINGS
@given(long_tailed(), st.sampled_from(noise.RANK_METHODS))
def test_label_quality_scores_equal_cleanlab(data, method):
    y, p = data
    want = oracle(cl_rank.get_label_quality_scores, y, p, method=method)
    got = noise.label_quality_scores(y, p, method=method)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------------- ties


@SETTINGS
@given(long_tailed(ties=True), st.sampled_from([0, 1, 3]))
def test_with_exact_ties_every_pair_selects_the_same_count_and_margins(data, min_examples):
    y, p = data
    c = p.shape[1]
    label_counts = np.bincount(y, minlength=c)
    cj = oracle(cl_count.compute_confident_joint, y, p)
    np.testing.assert_array_equal(noise.confident_joint(y, p), cj)
    want_pcm = oracle(cl_filter._keep_at_least_n_per_class, cj.T, min_examples)
    pcm = noise._prune_counts(cj, label_counts, min_examples, 1.0, None)
    np.testing.assert_array_equal(pcm, want_pcm)
    pk, pj, pc, cc = noise._selection_spec(pcm, label_counts, min_examples, "both")
    from longtail import _core

    slot, key, index, flag = _core.noise_select(y, p, pk, pj, pc, cc, 0, 1e-6, -1e-6, 1 + 1e-6)
    for s, (k, j, m) in enumerate(zip(pk, pj, pc)):
        rows = np.flatnonzero(y == k)
        margin = p[rows, j] - p[rows, k]
        order = np.argsort(-margin)[: pcm[j, k]]  # cleanlab's _prune_by_count for (k, j)
        ours = index[slot == s]
        assert ours.size == order.size == m
        np.testing.assert_array_equal(np.sort(p[ours, j] - p[ours, k]), np.sort(margin[order]))
        # the documented rule: ties at the boundary go to the smaller index
        stable = rows[np.argsort(-margin, kind="stable")[:m]]
        np.testing.assert_array_equal(ours, stable)
    for s, k in enumerate(np.flatnonzero(cc > 0), start=len(pk)):
        rows = np.flatnonzero(y == k)
        ours = index[slot == s]
        want = rows[np.argsort(p[rows, k])[: label_counts[k] - pcm[k, k]]]
        assert ours.size == want.size
        np.testing.assert_array_equal(np.sort(p[ours, k]), np.sort(p[want, k]))


# -------------------------------------------------------------------- bad input


def test_bad_input_names_the_argument():
    y, p = make_data(0, 4, 30, 1.0, np.float64)
    with pytest.raises(ValueError, match="^labels"):
        noise.find_label_issues(y[:-1], p)
    with pytest.raises(ValueError, match="^labels"):
        noise.find_label_issues(np.r_[y[:-1], 4], p)
    with pytest.raises(ValueError, match="^labels"):
        noise.find_label_issues(np.r_[y[:-1], -1], p)
    with pytest.raises(ValueError, match="^labels"):
        noise.find_label_issues(np.ones_like(y), p)  # one class (cleanlab refuses too)
    with pytest.raises((ValueError, TypeError), match="^labels"):
        noise.find_label_issues(y.astype(float) + 0.5, p)
    with pytest.raises(ValueError, match="^pred_probs"):
        noise.find_label_issues(y, p[:, 0])  # 1-D
    bad = p.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="^pred_probs"):
        noise.find_label_issues(y, bad)
    with pytest.raises(ValueError, match="^pred_probs"):
        noise.confident_joint(y, bad)
    with pytest.raises(ValueError, match="^pred_probs"):
        noise.find_label_issues(y, p * 1.5)  # outside [0, 1]: cleanlab refuses too
    with pytest.raises(ValueError, match="^pred_probs"):
        noise.label_quality_scores(y, p - 0.5)
    with pytest.raises(ValueError, match="^filter_by"):
        noise.find_label_issues(y, p, filter_by="nope")
    with pytest.raises(ValueError, match="^frac_noise"):
        noise.find_label_issues(y, p, frac_noise=1.5)
    with pytest.raises(TypeError, match="^min_examples_per_class"):
        noise.find_label_issues(y, p, min_examples_per_class=1.5)
    with pytest.raises(ValueError, match="^num_to_remove_per_class"):
        noise.find_label_issues(y, p, num_to_remove_per_class=[1, 2])
    with pytest.raises(ValueError, match="^num_to_remove_per_class"):
        noise.find_label_issues(
            y, p, filter_by="confident_learning", num_to_remove_per_class=[1] * 4
        )
    with pytest.raises(ValueError, match="^return_indices_ranked_by"):
        noise.find_label_issues(y, p, return_indices_ranked_by="nope")
    with pytest.raises(ValueError, match="^method"):
        noise.label_quality_scores(y, p, method="nope")
    with pytest.raises(TypeError, match="^pred_probs"):
        noise.find_label_issues(y, np.array([["a", "b"]] * len(y)))


def test_cleanlab_refuses_the_same_inputs():
    y, p = make_data(0, 4, 30, 1.0, np.float64)
    for args in [(y[:-1], p), (y, p[:, 0]), (y, p * 1.5), (np.ones_like(y), p)]:
        with pytest.raises((ValueError, AssertionError)):
            oracle(cl_filter.find_label_issues, *args, n_jobs=1)
    with pytest.raises(AssertionError):
        oracle(cl_filter.find_label_issues, y, p, filter_by="nope", n_jobs=1)


def test_inputs_in_other_forms():
    import torch

    y, p = make_data(3, 5, 40, 1.0, np.float32)
    want = noise.find_label_issues(y, p)
    np.testing.assert_array_equal(noise.find_label_issues(y.tolist(), torch.from_numpy(p)), want)

    class DS:
        targets = y

    np.testing.assert_array_equal(noise.find_label_issues(DS(), p), want)
    np.testing.assert_array_equal(noise.find_label_issues(y, np.asfortranarray(p)), want)


def test_many_classes_use_the_sparse_selection_path():
    # more than 1024 classes: the selection kernel keeps its bars per pair, not dense
    y, p = make_data(4, 1100, 40, 0.6, np.float32)
    for filter_by in ("prune_by_noise_rate", "both"):
        want = oracle(cl_filter.find_label_issues, y, p, filter_by=filter_by, n_jobs=1)
        got = noise.find_label_issues(y, p, filter_by=filter_by)
        assert want.sum() > 0
        np.testing.assert_array_equal(got, want)
