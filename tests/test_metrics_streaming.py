"""Streaming accumulators: batches == the functional metric on the concatenated data,
merge == one accumulator, state_dict round trips, indexes= dedupe, NaN classes, binned
accuracy and memory."""

import math
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_h
from sklearn.exceptions import UndefinedMetricWarning

import longtail.metrics as ltm
from longtail.metrics import streaming as st

C = 4


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _data(n=600, c=C, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + 1.5 * np.eye(c)[y]
    return _softmax(logits), y


def _batches(n, size=97):
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _fn(name):
    # longtail's scikit-learn compatible function
    return getattr(ltm, name)


# One factory per accumulator, with how to compute the functional answer on all data.
def _cases():
    counts = np.array([500, 90, 30, 5])
    return {
        "confmat": (
            lambda: st.ConfusionMatrix(C),
            lambda p, y: p.argmax(1),
            lambda p, y: skm.confusion_matrix(y, p.argmax(1), labels=range(C)),
        ),
        "shot": (
            lambda: st.ShotAccuracy(counts),
            lambda p, y: p.argmax(1),
            lambda p, y: ltm.shot_accuracy(y, p.argmax(1), counts),
        ),
        "ece": (
            lambda: st.CalibrationError(n_bins=10),
            lambda p, y: p,
            lambda p, y: ltm.expected_calibration_error(y, p, n_bins=10),
        ),
        "ece_classwise_l2": (
            lambda: st.CalibrationError(n_bins=8, norm="l2", classwise=True, num_classes=C),
            lambda p, y: p,
            lambda p, y: ltm.expected_calibration_error(y, p, n_bins=8, norm="l2", classwise=True),
        ),
        "auroc_exact": (
            lambda: st.AUROC("multiclass", num_classes=C),
            lambda p, y: p,
            lambda p, y: _fn("roc_auc_score")(y, p, multi_class="ovr", average="macro"),
        ),
        "auroc_binned": (
            lambda: st.AUROC("multiclass", num_classes=C, bins=4096),
            lambda p, y: p,
            lambda p, y: _fn("roc_auc_score")(y, p, multi_class="ovr", average="macro"),
        ),
        "ap_exact": (
            lambda: st.AveragePrecision("multiclass", num_classes=C),
            lambda p, y: p,
            lambda p, y: _fn("average_precision_score")(np.eye(C)[y], p, average="macro"),
        ),
        "ap_binned": (
            lambda: st.AveragePrecision("multiclass", num_classes=C, bins=4096),
            lambda p, y: p,
            lambda p, y: _fn("average_precision_score")(np.eye(C)[y], p, average="macro"),
        ),
        "features": (
            lambda: st.ClassFeatureStats(C, C),
            lambda p, y: p,
            lambda p, y: {
                "count": np.bincount(y, minlength=C),
                "mean": np.stack([p[y == k].mean(0) for k in range(C)]),
                "covariance": np.stack([np.cov(p[y == k], rowvar=False) for k in range(C)]),
            },
        ),
    }


CASES = _cases()


def _close(a, b, tol):
    if isinstance(b, dict):
        assert set(a) == set(b)
        for k in b:
            _close(a[k], b[k], tol)
    elif isinstance(b, float) and math.isnan(b):
        assert math.isnan(a)
    else:
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                                   rtol=0, atol=tol)


def _tol(name):
    return 1e-3 if "binned" in name else 1e-10


@pytest.mark.parametrize("name", sorted(CASES))
def test_batches_equal_functional_on_concatenated_data(name):
    make, prep, ref = CASES[name]
    p, y = _data()
    acc = make()
    for s in _batches(len(y)):
        acc.update(prep(p[s], y[s]), y[s])
    _close(acc.compute(), ref(p, y), _tol(name))


@pytest.mark.parametrize("name", sorted(CASES))
def test_merge_and_state_dict_equal_one_accumulator(name):
    make, prep, _ = CASES[name]
    p, y = _data(seed=1)
    whole, a, b = make(), make(), make()
    whole.update(prep(p, y), y)
    a.update(prep(p[:250], y[:250]), y[:250])
    b.update(prep(p[250:], y[250:]), y[250:])
    restored = make()
    restored.load_state_dict(a.state_dict())
    restored.merge(b)
    _close(restored.compute(), whole.compute(), 1e-10)
    restored.reset()
    assert restored.state_dict()["seen_ids"].size == 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_indexes_count_a_repeated_sample_once(name):
    make, prep, _ = CASES[name]
    p, y = _data(n=300, seed=2)
    ids = np.arange(300)
    plain, dedup = make(), make()
    plain.update(prep(p, y), y)
    # every sample once, then a batch that repeats ids 0..9 (DistributedSampler padding)
    # plus ids repeated inside one batch
    dedup.update(prep(p[:200], y[:200]), y[:200], indexes=ids[:200])
    rep = np.r_[np.arange(200, 300), np.arange(10), [250, 250]]
    dedup.update(prep(p[rep], y[rep]), y[rep], indexes=torch.tensor(rep))
    _close(dedup.compute(), plain.compute(), 1e-10)
    # merge of two halves that share the padded ids of the second one's last update
    a, b = make(), make()
    a.update(prep(p[:150], y[:150]), y[:150], indexes=ids[:150])
    b.update(prep(p[150:], y[150:]), y[150:], indexes=ids[150:])
    last = np.r_[np.arange(3)]
    b.update(prep(p[last], y[last]), y[last], indexes=last)
    _close(a.merge(b).compute(), plain.compute(), 1e-10)


def test_binned_auroc_and_ap_within_1e3_of_exact_and_memory_is_fixed():
    rng = np.random.default_rng(7)
    n = 200_000
    y = (rng.random(n) < 0.1).astype(int)
    score = np.clip(rng.beta(2, 5, n) + 0.25 * y, 0, 1)
    binned_auc = st.AUROC("binary", bins=4096)
    binned_ap = st.AveragePrecision("binary", bins=4096)
    for s in _batches(n, 50_000):
        binned_auc.update(torch.tensor(score[s], dtype=torch.float32), torch.tensor(y[s]))
        binned_ap.update(score[s], y[s])
    assert binned_auc.compute() == pytest.approx(skm.roc_auc_score(y, score), abs=1e-3)
    assert binned_ap.compute() == pytest.approx(skm.average_precision_score(y, score), abs=1e-3)
    # O(bins x classes): the only state is the 2 x 1 x 4096 histogram
    state = binned_auc.state_dict()
    assert state["hist"].shape == (2 * 4096,) and state["hist"].sum() == n


def test_multilabel_and_averages_match_sklearn():
    rng = np.random.default_rng(4)
    y = (rng.random((400, 3)) < [0.5, 0.2, 0.05]).astype(int)
    p = np.clip(rng.random((400, 3)) * 0.7 + 0.3 * y, 0, 1)
    for avg in ("macro", "weighted", "micro", None):
        auc = st.AUROC("multilabel", num_classes=3, average=avg)
        ap = st.AveragePrecision("multilabel", num_classes=3, average=avg, bins=4096)
        auc.update(p, y)
        ap.update(p, y)
        _close(auc.compute(), skm.roc_auc_score(y, p, average=avg), 1e-12)
        _close(ap.compute(), skm.average_precision_score(y, p, average=avg), 2e-3)


def test_class_without_positives_is_nan_and_left_out_with_a_warning():
    p, y = _data(n=300, seed=3)
    y = np.where(y == 2, 0, y)  # class 2 has no positives
    for cls in (st.AUROC, st.AveragePrecision):
        for bins in (None, 512):
            acc = cls("multiclass", num_classes=C, bins=bins, average=None)
            acc.update(p, y)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                per_class = acc.compute()  # average=None: no warning, NaN in place
            assert np.isnan(per_class[2]) and not np.isnan(per_class[[0, 1, 3]]).any()
            acc.average = "macro"
            with pytest.warns(UndefinedMetricWarning, match=r"class\(es\) \[2\]"):
                macro = acc.compute()
            assert macro == pytest.approx(np.mean(per_class[[0, 1, 3]]))
    binary = st.AUROC("binary")
    binary.update([0.2, 0.3], [0, 0])
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(binary.compute())


def test_exact_auroc_equals_functional_binary_with_ties_and_float32():
    rng = np.random.default_rng(9)
    score = np.round(rng.random(1000), 2).astype(np.float32)
    y = (rng.random(1000) < score).astype(int)
    acc = st.AUROC("binary")
    for s in _batches(1000, 128):
        acc.update(torch.from_numpy(score[s]), y[s].tolist())
    assert acc.compute() == pytest.approx(_fn("roc_auc_score")(y, score), abs=1e-12)
    ap = st.AveragePrecision("binary")
    ap.update(score, y)
    assert ap.compute() == pytest.approx(_fn("average_precision_score")(y, score), abs=1e-12)


def test_sync_without_process_group_is_a_no_op():
    p, y = _data(n=100)
    acc = st.AUROC("multiclass", num_classes=C, bins=64)
    acc.update(p, y)
    before = acc.compute()
    assert acc.sync() is acc and acc.compute() == before


@pytest.mark.parametrize(
    "make, preds, target, match",
    [
        (lambda: st.AUROC("binary", bins=16), [0.1, np.nan], [0, 1], "preds"),
        (lambda: st.AUROC("binary"), [0.1, np.nan], [0, 1], "preds"),
        (lambda: st.AUROC("binary"), [0.1, 0.2], [0, 2], "target"),
        (lambda: st.AUROC("binary", bins=16), [0.1, 0.2], [0, 2], "target"),
        (lambda: st.AveragePrecision("binary", bins=16), [0.1, 0.2], [-1, 1], "target"),
        (lambda: st.AUROC("multiclass", num_classes=3), [[0.1, 0.9]], [0], "preds"),
        (lambda: st.AUROC("multiclass", num_classes=2, bins=8), [[0.1, 0.9]], [2], "target"),
        (lambda: st.AUROC("multilabel", num_classes=2), [[0.1, 0.9]], [1], "target"),
        (lambda: st.ConfusionMatrix(2), [0, 1], [0], "target"),
        (lambda: st.ConfusionMatrix(2), [0, 5], [0, 1], "preds"),
        (lambda: st.CalibrationError(), [[0.5, 0.7]], [0, 1], "probs"),
        (lambda: st.ClassFeatureStats(2, 3), [[0.0, 1.0]], [0], "features"),
        (lambda: st.ClassFeatureStats(2, 2), [[0.0, 1.0]], [3], "labels"),
    ],
)
def test_bad_input_names_the_argument(make, preds, target, match):
    with pytest.raises(ValueError, match=match):
        make().update(preds, target)


@pytest.mark.parametrize("indexes", [None, [7, 8, 9]])
def test_rejected_binned_binary_batch_changes_nothing(indexes):
    # The binned binary path checks targets inside the kernel: a bad batch must leave
    # the counts (and, with indexes, the ids seen) as they were.
    acc = st.AUROC("binary", bins=8)
    acc.update([0.2, 0.9], [0, 1])
    before = acc.state_dict()
    for preds, target in [([0.1, 0.5, 0.7], [0, 3, 1]), ([0.1, np.nan, 0.7], [0, 1, 1])]:
        with pytest.raises(ValueError):
            acc.update(preds, target, indexes=indexes)
        after = acc.state_dict()
        assert all(np.array_equal(np.asarray(before[k]), np.asarray(after[k])) for k in before)
    acc.update([0.1, 0.5, 0.7], [0, 0, 1], indexes=indexes)
    ref = st.AUROC("binary", bins=8)
    ref.update([0.2, 0.9, 0.1, 0.5, 0.7], [0, 1, 0, 0, 1])
    assert acc.compute() == ref.compute()


@pytest.mark.parametrize(
    "task, target", [("multiclass", [0, 2]), ("multilabel", [[1, 0, 0], [0, 1, 1]])]
)
def test_rejected_binned_multi_batch_changes_nothing(task, target):
    # NaN in the last row: nothing of the batch may be counted.
    acc = st.AUROC(task, num_classes=3, bins=8)
    acc.update([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]], target)
    before = acc.state_dict()
    with pytest.raises(ValueError, match="preds"):
        acc.update([[0.2, 0.3, 0.5], [0.1, np.nan, 0.8]], target)
    after = acc.state_dict()
    assert all(np.array_equal(np.asarray(before[k]), np.asarray(after[k])) for k in before)


def test_bad_configuration_and_mismatched_merge():
    with pytest.raises(ValueError, match="task"):
        st.AUROC("multi")
    with pytest.raises(ValueError, match="num_classes"):
        st.AUROC("multiclass")
    with pytest.raises(ValueError, match="average"):
        st.AveragePrecision("binary", average="samples")
    with pytest.raises(ValueError, match="num_classes"):
        st.CalibrationError(classwise=True)
    with pytest.raises(ValueError, match="score_range"):
        st.AUROC("binary", bins=10, score_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="other"):
        st.AUROC("binary", bins=10).merge(st.AUROC("binary", bins=20))
    with pytest.raises(ValueError, match="state"):
        st.ConfusionMatrix(2).load_state_dict(st.ConfusionMatrix(3).state_dict())
    with pytest.raises(ValueError, match="indexes"):
        st.ConfusionMatrix(2).update([0, 1], [0, 1], indexes=[0])
    with pytest.raises(ValueError, match="indexes"):
        st.ConfusionMatrix(2).update([0, 1], [0, 1], indexes=[0, -1])
    with pytest.raises(ValueError, match="indexes: sample id .* too large"):
        st.ConfusionMatrix(2).update([0, 1], [0, 1], indexes=[0, 2**40])


def test_scores_outside_range_go_to_end_bins_and_score_range_moves_them():
    # logits: with score_range covering them the binned AUC is exact on distinct bins
    logits = np.array([-3.0, -1.0, 0.5, 2.0])
    y = np.array([0, 1, 0, 1])
    clipped = st.AUROC("binary", bins=8, score_range=(0, 2))
    clipped.update(logits, y)
    wide = st.AUROC("binary", bins=8, score_range=(-4, 4))
    wide.update(logits, y)
    assert wide.compute() == pytest.approx(skm.roc_auc_score(y, logits))
    # clipped: -3 and -1 share the first bin (a tie, 1/2), 2.0 beats both negatives
    assert clipped.compute() == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    # the default [0, 1] range takes them as logits (torchmetrics' rule): a sigmoid
    # spreads them over distinct bins, so the binned AUC is the exact one
    default = st.AUROC("binary", bins=8)
    default.update(logits, y)
    assert default.compute() == pytest.approx(skm.roc_auc_score(y, logits))


def test_class_feature_stats_frechet_and_float32_cuda_free_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3)).astype(np.float32)
    y = rng.integers(0, 2, 300)
    s = st.ClassFeatureStats(2, 3)
    for b in _batches(300, 64):
        s.update(torch.from_numpy(x[b]), torch.from_numpy(y[b]))
    want = ltm.frechet_distance(x[y == 0], x[y == 1])
    assert s.frechet_distance(0, 1) == pytest.approx(want, rel=1e-9)
    with pytest.raises(ValueError, match="class"):
        st.ClassFeatureStats(3, 3).frechet_distance(0, 1)


def test_merge_refuses_duplicates_it_cannot_take_out():
    a, b = st.ConfusionMatrix(2), st.ConfusionMatrix(2)
    a.update([0, 1, 1], [0, 1, 0], indexes=[0, 1, 2])
    b.update([1, 1], [1, 1], indexes=[2, 3])  # id 2 is in b's first update ...
    b.update([0], [0], indexes=[4])  # ... which is no longer its last one
    with pytest.raises(ValueError, match="other"):
        a.merge(b)


@settings(max_examples=60, deadline=None)
@given(
    data=st_h.lists(
        st_h.tuples(st_h.integers(0, 15), st_h.integers(0, 2)), min_size=1, max_size=60
    ),
    bins=st_h.sampled_from([16, 32]),
)
def test_binned_equals_exact_when_scores_sit_on_bin_centres(data, bins):
    # Scores on the centres of 16 levels lose nothing to 16 or 32 bins, so binned AUROC
    # and AP must equal the exact ones (ties included), classes without positives too.
    level = np.array([d[0] for d in data])
    y = np.array([d[1] for d in data])
    score = (level + 0.5) / 16
    probs = np.stack([score, 1 - score, np.full_like(score, 0.5)], axis=1)
    for cls in (st.AUROC, st.AveragePrecision):
        exact = cls("multiclass", num_classes=3, average=None)
        binned = cls("multiclass", num_classes=3, average=None, bins=bins)
        exact.update(probs, y)
        binned.update(probs, y)
        np.testing.assert_allclose(binned.compute(), exact.compute(), rtol=0, atol=1e-12)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_are_accepted():
    p, y = _data(n=200)
    cpu, gpu = st.AUROC("multiclass", num_classes=C, bins=256), st.AUROC(
        "multiclass", num_classes=C, bins=256
    )
    cpu.update(p, y)
    gpu.update(torch.tensor(p, device="cuda"), torch.tensor(y, device="cuda"))
    assert gpu.compute() == cpu.compute()


def test_within_class_variability_matches_papyan_definition():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 3, 400)
    x = rng.normal(size=(400, 5)) * 0.3 + rng.normal(size=(3, 5))[y] * 2
    s = st.ClassFeatureStats(4, 5)  # class 3 never appears: left out
    for b in _batches(400, 50):
        s.update(x[b], y[b])
    mus = np.stack([x[y == k].mean(0) for k in range(3)])
    sw = sum((x[y == k] - mus[k]).T @ (x[y == k] - mus[k]) for k in range(3)) / 400
    sb = np.cov(mus, rowvar=False, bias=True)
    want = np.trace(sw @ np.linalg.pinv(sb)) / 3
    assert s.within_class_variability() == pytest.approx(want, rel=1e-9)
    with pytest.raises(ValueError, match="2 classes"):
        st.ClassFeatureStats(2, 2).within_class_variability()
