"""Native inputs of the metrics (issue 12, criteria 1 and 2).

- The streaming AUROC / AveragePrecision / CalibrationError take logits as torchmetrics
  does (a batch with a value outside [0, 1] gets a sigmoid or softmax), exact and binned.
- float32 scores stay float32 down to the kernels, with scikit-learn's result on the
  same float32 input (to 1e-12), and no float64 copy of an (n, C) matrix.
- The counting accumulators' torch path (used for CUDA tensors) gives the numpy/Rust
  path's result on CPU tensors, keeps indexes= semantics, merges and round-trips, and
  runs on the ``meta`` device (where any host synchronisation would raise).
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
import torch
from hypothesis import given, settings
from hypothesis import strategies as hs
from torchmetrics import classification as tmc

import longtail.metrics as ltm
from longtail.metrics import streaming as st

C = 5


def _stream(acc, preds, target, size=97, indexes=None):
    for i in range(0, preds.shape[0], size):
        ids = None if indexes is None else indexes[i : i + size]
        acc.update(preds[i : i + size], target[i : i + size], indexes=ids)
    return acc.compute()


def _tm(metric, preds, target, size=97):
    for i in range(0, preds.shape[0], size):
        metric.update(preds[i : i + size], target[i : i + size])
    return float(metric.compute())


def _binary(n=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.35).long()
    logits = (torch.randn(n, generator=g) * 2 + 1.3 * y).float()
    return logits, y


def _multiclass(n=1200, c=C, seed=1):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, c, (n,), generator=g)
    logits = (torch.randn(n, c, generator=g) * 1.5 + 1.2 * torch.eye(c)[y]).float()
    return logits, y


# --------------------------------------------------------------------------------------
# criterion 1: logits as torchmetrics takes them


@pytest.mark.parametrize("kind", ["logits", "probs"])
@pytest.mark.parametrize(
    "ours, peer, sk",
    [
        (st.AUROC, tmc.BinaryAUROC, skm.roc_auc_score),
        (st.AveragePrecision, tmc.BinaryAveragePrecision, skm.average_precision_score),
    ],
)
def test_binary_exact_takes_logits_like_torchmetrics(kind, ours, peer, sk):
    logits, y = _binary()
    preds = logits if kind == "logits" else torch.sigmoid(logits)
    got = _stream(ours("binary"), preds, y)
    assert got == pytest.approx(_tm(peer(thresholds=None), preds, y), abs=1e-6)
    # exactly scikit-learn on the probabilities torch's sigmoid gives (same float32 values)
    assert got == pytest.approx(sk(y.numpy(), torch.sigmoid(logits).numpy()), abs=1e-12)


@pytest.mark.parametrize("kind", ["logits", "probs"])
@pytest.mark.parametrize(
    "ours, peer",
    [(st.AUROC, tmc.MulticlassAUROC), (st.AveragePrecision, tmc.MulticlassAveragePrecision)],
)
def test_multiclass_exact_takes_logits_like_torchmetrics(kind, ours, peer):
    logits, y = _multiclass()
    preds = logits if kind == "logits" else torch.softmax(logits, dim=1)
    got = _stream(ours("multiclass", num_classes=C), preds, y)
    ref = _tm(peer(num_classes=C, average="macro", thresholds=None), preds, y)
    assert got == pytest.approx(ref, abs=1e-6)
    probs = torch.softmax(logits, dim=1).numpy()
    if ours is st.AUROC:
        assert got == pytest.approx(skm.roc_auc_score(y.numpy(), probs, multi_class="ovr"))


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("cls", [st.AUROC, st.AveragePrecision])
def test_binned_takes_logits_like_torchmetrics(task, cls):
    if task == "binary":
        logits, y = _binary()
        probs = torch.sigmoid(logits)
        peer = (tmc.BinaryAUROC if cls is st.AUROC else tmc.BinaryAveragePrecision)(
            thresholds=201
        )
        kw = {}
    elif task == "multiclass":
        logits, y = _multiclass()
        probs = torch.softmax(logits, dim=1)
        peer = (tmc.MulticlassAUROC if cls is st.AUROC else tmc.MulticlassAveragePrecision)(
            num_classes=C, thresholds=201
        )
        kw = {"num_classes": C}
    else:
        logits, _ = _multiclass()
        y = (torch.rand(logits.shape, generator=torch.Generator().manual_seed(3)) < 0.3).long()
        logits = logits + 2.0 * y
        probs = torch.sigmoid(logits)
        peer = (tmc.MultilabelAUROC if cls is st.AUROC else tmc.MultilabelAveragePrecision)(
            num_labels=C, thresholds=201
        )
        kw = {"num_classes": C}
    on_logits = _stream(cls(task, bins=200, **kw), logits, y)
    on_probs = _stream(cls(task, bins=200, **kw), probs, y)
    assert on_logits == on_probs  # the same counts: the batch was normalised first
    # torchmetrics with 201 thresholds on linspace(0, 1): bins 1/200 wide put the edges
    # on those thresholds (score_range (0, 201/200)), so the binned curves are the same;
    # logits=True applies the rule with that custom range.
    aligned = cls(task, bins=201, score_range=(0.0, 201 / 200), logits=True, **kw)
    assert _stream(aligned, logits, y) == pytest.approx(_tm(peer, logits, y), abs=1e-5)
    # and it stays close to the exact value
    exact = _stream(cls(task, **kw), logits, y)
    assert on_logits == pytest.approx(exact, abs=2e-2)


def test_each_batch_is_checked_on_its_own_and_custom_range_bins_as_given():
    logits, y = _binary(n=400)
    mixed = torch.cat([logits[:200], torch.sigmoid(logits[200:])])
    ours = _stream(st.AUROC("binary"), mixed, y, size=200)
    peer = _tm(tmc.BinaryAUROC(thresholds=None), mixed, y, size=200)
    assert ours == pytest.approx(peer, abs=1e-6)
    # a batch wholly inside [0, 1] is taken as probabilities, like torchmetrics
    small = torch.tensor([0.1, 0.9, 0.3, 0.6])
    acc = st.AveragePrecision("binary")
    acc.update(small, torch.tensor([0, 1, 0, 1]))
    assert acc.compute() == 1.0
    raw = st.AUROC("binary", bins=8, score_range=(-4.0, 4.0))
    raw.update(torch.tensor([-3.0, -1.0, 0.5, 2.0]), torch.tensor([0, 1, 0, 1]))
    assert raw.compute() == 0.75
    with pytest.raises(TypeError, match="logits"):
        st.AUROC("binary", logits="yes")


@pytest.mark.parametrize("n_bins", [10, 15])
def test_calibration_error_takes_logits_like_torchmetrics(n_bins):
    logits, y = _multiclass()
    for preds in (logits, torch.softmax(logits, dim=1)):
        ours = _stream(st.CalibrationError(n_bins=n_bins), preds, y)
        peer = _tm(tmc.MulticlassCalibrationError(num_classes=C, n_bins=n_bins), preds, y)
        assert ours == pytest.approx(peer, abs=1e-5)
    # binary (n,) logits: a sigmoid first, then the same top-label error as on P(y = 1)
    b_logits, b_y = _binary()
    a = _stream(st.CalibrationError(n_bins=n_bins), b_logits, b_y)
    b = _stream(st.CalibrationError(n_bins=n_bins), torch.sigmoid(b_logits), b_y)
    assert a == b
    classwise = st.CalibrationError(n_bins=n_bins, classwise=True, num_classes=C)
    expect = ltm.expected_calibration_error(
        y.numpy(), torch.softmax(logits, 1).numpy(), n_bins=n_bins, classwise=True
    )
    assert _stream(classwise, logits, y) == pytest.approx(expect, abs=1e-12)


# --------------------------------------------------------------------------------------
# criterion 2: float32 down to the kernels, scikit-learn's results on float32


def _f32_data(n=3000, c=7, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    z = rng.normal(size=(n, c)) + np.eye(c)[y]
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    p = np.round(p, 3).astype(np.float32)  # many ties
    p /= p.sum(1, keepdims=True)
    return y, p


@pytest.mark.parametrize("container", ["numpy", "torch"])
def test_float32_results_equal_sklearn_on_the_same_float32(container):
    y, p = _f32_data()
    wrap = torch.from_numpy if container == "torch" else (lambda a: a)
    yb, s = (y == 0).astype(int), np.ascontiguousarray(p[:, 0])
    tol = 1e-12
    assert ltm.roc_auc_score(yb, wrap(s)) == pytest.approx(skm.roc_auc_score(yb, s), abs=tol)
    w = np.random.default_rng(1).random(y.shape[0])
    assert ltm.roc_auc_score(yb, wrap(s), sample_weight=w) == pytest.approx(
        skm.roc_auc_score(yb, s, sample_weight=w), abs=tol
    )
    assert ltm.average_precision_score(yb, wrap(s)) == pytest.approx(
        skm.average_precision_score(yb, s), abs=tol
    )
    for ours, ref in [(ltm.roc_curve, skm.roc_curve), (ltm.precision_recall_curve,
                                                       skm.precision_recall_curve)]:
        for a, b in zip(ours(yb, wrap(s)), ref(yb, s)):
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=0, atol=tol)
    for mc in ("ovr", "ovo"):
        for avg in ("macro", "weighted"):
            assert ltm.roc_auc_score(y, wrap(p), multi_class=mc, average=avg) == pytest.approx(
                skm.roc_auc_score(y, p, multi_class=mc, average=avg), abs=tol
            )
    np.testing.assert_allclose(
        ltm.roc_auc_score(y, wrap(p), multi_class="ovr", average=None),
        skm.roc_auc_score(y, p, multi_class="ovr", average=None),
        rtol=0,
        atol=tol,
    )
    assert ltm.average_precision_score(y, wrap(p)) == pytest.approx(
        skm.average_precision_score(y, p), abs=tol
    )
    ind = np.eye(p.shape[1], dtype=int)[y]
    for avg in ("macro", "micro", "samples", "weighted"):
        assert ltm.roc_auc_score(ind, wrap(p), average=avg) == pytest.approx(
            skm.roc_auc_score(ind, p, average=avg), abs=tol
        )
    for k in (1, 3):
        assert ltm.top_k_accuracy_score(y, wrap(p), k=k) == skm.top_k_accuracy_score(y, p, k=k)
    assert ltm.expected_calibration_error(y, wrap(p)) == pytest.approx(
        ltm.expected_calibration_error(y, p.astype(np.float64)), abs=tol
    )


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    rows=hs.lists(
        hs.tuples(hs.integers(0, 3), hs.lists(hs.integers(0, 6), min_size=4, max_size=4)),
        min_size=2,
        max_size=40,
    ),
    scale=hs.sampled_from([1.0, 1e-3, 3.0e5]),
)
def test_float32_equals_sklearn_on_the_same_float32_property(rows, scale):
    # Few score levels (many ties) in float32, binary and one-vs-rest: longtail's result
    # on float32 is scikit-learn's on the same float32 array, to 1e-12.
    y = np.array([r[0] for r in rows])
    s = (np.array([r[1] for r in rows], dtype=np.float32) + 1) * np.float32(scale)
    yb = (y == y[0]).astype(int)
    col = np.ascontiguousarray(s[:, 0])
    if 0 < yb.sum() < yb.size:
        assert ltm.roc_auc_score(yb, col) == pytest.approx(skm.roc_auc_score(yb, col), abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = ltm.average_precision_score(yb, col)
        ref = skm.average_precision_score(yb, col)
    assert ours == pytest.approx(ref, abs=1e-12)
    present = np.unique(y)
    if present.size > 2:
        p = s[:, present] / s[:, present].sum(1, keepdims=True)
        enc = np.searchsorted(present, y)
        for mc in ("ovr", "ovo"):
            assert ltm.roc_auc_score(enc, p, multi_class=mc) == pytest.approx(
                skm.roc_auc_score(enc, p, multi_class=mc), abs=1e-12
            )


def _numpy_peak(fn):
    """Peak bytes numpy (and Python) allocated during ``fn()`` (tracemalloc sees numpy's
    data buffers; a float64 copy of the scores would show as 2x their bytes)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_no_float64_copy_of_a_float32_score_matrix():
    rng = np.random.default_rng(0)
    n, c = 60_000, 50
    y = rng.integers(0, c, n)
    p = rng.random((n, c), dtype=np.float32)
    p /= p.sum(1, keepdims=True)
    t = torch.from_numpy(p)
    budget = p.nbytes // 4
    calls = {
        "ovr": lambda: ltm.roc_auc_score(y, p, multi_class="ovr"),
        "ovr torch": lambda: ltm.roc_auc_score(y, t, multi_class="ovr"),
        "ovo": lambda: ltm.roc_auc_score(y, p, multi_class="ovo"),
        "ap": lambda: ltm.average_precision_score(y, p),
        "top-k": lambda: ltm.top_k_accuracy_score(y, p, k=5),
        "ece": lambda: ltm.expected_calibration_error(y, p),
        "ece classwise": lambda: ltm.expected_calibration_error(y, p, classwise=True),
    }
    for name, call in calls.items():
        call()  # warm (imports, caches)
        assert _numpy_peak(call) < budget, name
    # a non-contiguous view is copied once (to float32), not to float64
    view = np.asfortranarray(p)
    assert _numpy_peak(lambda: ltm.roc_auc_score(y, view, multi_class="ovr")) < 1.25 * p.nbytes
    # the streaming accumulators keep float32 batches as float32
    for acc in (st.AUROC("multiclass", num_classes=c), st.CalibrationError()):
        acc.update(t[:100], torch.from_numpy(y[:100]))
        peak = _numpy_peak(lambda acc=acc: acc.update(t, torch.from_numpy(y)))
        assert peak < 1.25 * p.nbytes
    exact = st.AUROC("multiclass", num_classes=c)
    exact.update(t, torch.from_numpy(y))
    assert exact.state_dict()["preds"].dtype == np.float32


def test_nan_and_inf_are_still_errors_on_float32():
    y, p = _f32_data(n=200)
    for bad in (np.nan, np.inf):
        q = p.copy()
        q[17, 3] = bad
        with pytest.raises(ValueError, match="y_score"):
            ltm.roc_auc_score(y == 3, q[:, 3])
        with pytest.raises(ValueError, match="y_score"):
            ltm.top_k_accuracy_score(y, q, k=2)
        with pytest.raises(ValueError, match="probs"):
            ltm.expected_calibration_error(y, q)


# --------------------------------------------------------------------------------------
# criterion 2: the device (torch) path of the counting accumulators, on CPU tensors


def _counting_cases():
    counts = np.array([500, 90, 30, 5, 1])
    return {
        "confmat": (lambda: st.ConfusionMatrix(C), "scores"),
        "confmat ids": (lambda: st.ConfusionMatrix(C), "ids"),
        "shot": (lambda: st.ShotAccuracy(counts), "scores"),
        "ece": (lambda: st.CalibrationError(n_bins=10), "logits"),
        "ece classwise": (
            lambda: st.CalibrationError(n_bins=7, classwise=True, num_classes=C),
            "scores",
        ),
        "ece binary": (lambda: st.CalibrationError(n_bins=10), "binary"),
        "auroc binned": (lambda: st.AUROC("multiclass", num_classes=C, bins=64), "logits"),
        "ap binned": (
            lambda: st.AveragePrecision("multiclass", num_classes=C, bins=50, average=None),
            "scores",
        ),
        "auroc binary binned": (lambda: st.AUROC("binary", bins=100), "binary"),
        "auroc multilabel binned": (
            lambda: st.AUROC("multilabel", num_classes=C, bins=33, average="micro"),
            "multilabel",
        ),
        "features": (lambda: st.ClassFeatureStats(C, 3), "features"),
    }


def _inputs(kind, seed=0):
    logits, y = _multiclass(n=700, seed=seed)
    if kind == "logits":
        return logits, y
    if kind == "scores":
        return torch.softmax(logits, 1), y
    if kind == "ids":
        return logits.argmax(1), y
    if kind == "binary":
        b, yb = _binary(n=700, seed=seed)
        return b, yb
    if kind == "multilabel":
        ind = (torch.rand(logits.shape, generator=torch.Generator().manual_seed(seed)) < 0.3)
        return torch.sigmoid(logits + 2 * ind), ind.long()
    return logits[:, :3] * 3 + 10, y  # features


def _same(a, b, rtol=1e-10):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k], rtol)
        return
    np.testing.assert_allclose(
        np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rtol, atol=1e-12
    )


@pytest.mark.parametrize("name", list(_counting_cases()))
def test_device_path_equals_host_path(name):
    make, kind = _counting_cases()[name]
    preds, y = _inputs(kind)
    host, dev = make(), make().to("cpu")
    ids = torch.arange(preds.shape[0]) % 650  # repeats: counted once
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = _stream(host, preds, y, indexes=ids)
        got = _stream(dev, preds, y, indexes=ids)
        _same(got, want)
        assert all(torch.is_tensor(v) for v in dev._state.values())
        # merge device <- host and host <- device, state_dict round trip into a device acc
        extra_p, extra_y = _inputs(kind, seed=5)
        other = make()
        other.update(extra_p, extra_y)
        a = make().to("cpu")
        a.load_state_dict(host.state_dict())
        a.merge(other)
        b = make()
        b.load_state_dict(host.state_dict())
        b.merge(make().to("cpu").merge(other))
        _same(a.compute(), b.compute())
        host.update(extra_p, extra_y)
        _same(a.compute(), host.compute())
        _same(a.state_dict()["seen_ids"], host.state_dict()["seen_ids"])


def test_device_path_defers_bad_rows_to_compute():
    cm = st.ConfusionMatrix(3).to("cpu")
    cm.update(torch.tensor([0, 1, 2]), torch.tensor([0, 7, 2]))  # no raise in update
    with pytest.raises(ValueError, match="target: 1 row"):
        cm.compute()
    with pytest.raises(ValueError, match="target"):
        cm.state_dict()
    cm.reset()
    cm.update(torch.tensor([0, 1]), torch.tensor([0, 1]))
    assert cm.compute().trace() == 2
    auroc = st.AUROC("multiclass", num_classes=3, bins=10).to("cpu")
    auroc.update(torch.tensor([[0.2, 0.3, float("nan")]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="preds: 1 row"):
        auroc.compute()
    feats = st.ClassFeatureStats(2, 2).to("cpu")
    feats.update(torch.tensor([[1.0, 2.0]]), torch.tensor([5]))
    with pytest.raises(ValueError, match="labels"):
        feats.compute()
    with pytest.raises(ValueError, match="preds: expected 3 score columns"):
        st.ConfusionMatrix(3).to("cpu").update(torch.zeros(2, 4), torch.zeros(2))


@pytest.mark.parametrize("name", list(_counting_cases()))
def test_device_update_never_reads_data_back(name):
    # On the meta device a tensor has no data: .item(), bool(), .cpu() and data-dependent
    # shapes all raise, so an update that runs there never synchronises.
    make, kind = _counting_cases()[name]
    preds, y = _inputs(kind)
    acc = make().to("meta")
    acc.update(preds.to("meta"), y.to("meta"), indexes=np.arange(preds.shape[0]))
    acc.update(preds.to("meta"), y.to("meta"))
    assert all(v.device.type == "meta" for v in acc._state.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", list(_counting_cases()))
def test_cuda_update_does_not_synchronise(name):
    make, kind = _counting_cases()[name]
    preds, y = _inputs(kind)
    host, dev = make(), make()
    want = _stream(host, preds, y, indexes=torch.arange(preds.shape[0]))
    gp, gy = preds.cuda(), y.cuda()
    dev.update(gp[:1], gy[:1], indexes=[0])  # first batch: moves the state, warms caches
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        n = preds.shape[0]
        for i in range(1, n, 97):
            ids = torch.arange(i, min(i + 97, n))  # on the host, as a DataLoader gives them
            dev.update(gp[i : i + 97], gy[i : i + 97], indexes=ids)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(v.device.type == "cuda" for v in dev._state.values())
    # Logits go through softmax/sigmoid in float32 on the device: CUDA's kernels round a
    # few probabilities one ulp away from the CPU's, which moves a mean confidence by
    # ~1e-9 relative (measured on an H200). Counts and probabilities given as such match
    # to 1e-10.
    rtol = 1e-6 if kind in ("logits", "binary") else 1e-10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(dev.compute(), want, rtol)


# --------------------------------------------------------------------------------------
# criterion 2, last clause: float16 / bfloat16 reach the kernels at 2 bytes per element

HALVES = ["numpy float16", "torch float16", "torch bfloat16"]


def _to_half(a, kind):
    """``a`` (float32 numpy) as the half container ``kind``, and the float32 numpy array
    of exactly the values that container holds (the widened reference)."""
    if kind == "numpy float16":
        h = a.astype(np.float16)
        return h, h.astype(np.float32)
    t = torch.from_numpy(np.ascontiguousarray(a))
    h = t.half() if kind == "torch float16" else t.bfloat16()
    return h, h.float().numpy()


def _half_probs(n=2000, c=6, seed=0):
    """Probabilities k/64 (exact in float16 and bfloat16, rows sum to exactly 1, many
    ties) with the true class favoured."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    w = rng.random((n, c)) + 2.0 * np.eye(c)[y]
    k = np.floor(w / w.sum(1, keepdims=True) * 64).astype(np.int64)
    k[np.arange(n), k.argmax(1)] += 64 - k.sum(1)
    return y, (k / 64).astype(np.float32)


def _eq_and_sklearn(ours, ref, sk, tol=1e-12):
    """``ours`` (half input) == ``ref`` (float32 input through longtail), ~= ``sk``."""
    if isinstance(ours, tuple):
        for a, b, c in zip(ours, ref, sk):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(a, c, rtol=0, atol=tol)
        return
    if isinstance(ours, np.ndarray):
        np.testing.assert_array_equal(ours, ref)
        np.testing.assert_allclose(ours, sk, rtol=0, atol=tol)
        return
    assert ours == ref
    assert ours == pytest.approx(sk, abs=tol)


@pytest.mark.parametrize("kind", HALVES)
def test_half_functional_metrics_equal_float32_and_sklearn(kind):
    y, p = _half_probs()
    h, ref = _to_half(p, kind)
    assert np.array_equal(ref, p)  # k/64 is exact in both formats
    # binary / curves on scores that the half format rounds (ties made by rounding)
    rng = np.random.default_rng(3)
    yb = (y == 0).astype(int)
    raw = (rng.normal(size=y.shape[0]) + yb).astype(np.float32)
    hs_, s = _to_half(raw, kind)
    w = rng.random(y.shape[0])
    for kw in ({}, {"sample_weight": w}):
        for ours, sk in [
            (ltm.roc_auc_score, skm.roc_auc_score),
            (ltm.average_precision_score, skm.average_precision_score),
            (ltm.roc_curve, skm.roc_curve),
            (ltm.precision_recall_curve, skm.precision_recall_curve),
        ]:
            _eq_and_sklearn(ours(yb, hs_, **kw), ours(yb, s, **kw), sk(yb, s, **kw))
    # one-vs-rest, one-vs-one, multiclass AP
    for mc, avgs in (("ovr", ("macro", "weighted", None, "micro")), ("ovo", ("macro", "weighted"))):
        for avg in avgs:
            _eq_and_sklearn(
                ltm.roc_auc_score(y, h, multi_class=mc, average=avg),
                ltm.roc_auc_score(y, ref, multi_class=mc, average=avg),
                skm.roc_auc_score(y, ref, multi_class=mc, average=avg),
            )
    for avg in ("macro", "weighted", None):
        _eq_and_sklearn(
            ltm.average_precision_score(y, h, average=avg),
            ltm.average_precision_score(y, ref, average=avg),
            skm.average_precision_score(y, ref, average=avg),
        )
    # multilabel indicators
    ind = (rng.random(p.shape) < 0.3).astype(int)
    rows = np.arange(y.shape[0])
    ind[rows, rows % p.shape[1]], ind[rows, (rows + 1) % p.shape[1]] = 1, 0  # both in each row
    for avg in ("macro", "micro", "samples", "weighted"):
        for ours, sk in [
            (ltm.roc_auc_score, skm.roc_auc_score),
            (ltm.average_precision_score, skm.average_precision_score),
        ]:
            _eq_and_sklearn(
                ours(ind, h, average=avg), ours(ind, ref, average=avg), sk(ind, ref, average=avg)
            )
    # top-k (multiclass, and binary 1-D scores)
    for k in (1, 2, 4):
        _eq_and_sklearn(
            ltm.top_k_accuracy_score(y, h, k=k),
            ltm.top_k_accuracy_score(y, ref, k=k),
            skm.top_k_accuracy_score(y, ref, k=k),
        )
    _eq_and_sklearn(
        ltm.top_k_accuracy_score(yb, hs_, k=1),
        ltm.top_k_accuracy_score(yb, s, k=1),
        skm.top_k_accuracy_score(yb, s, k=1),
    )


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    rows=hs.lists(
        hs.tuples(hs.integers(0, 1), hs.floats(-1e4, 1e4, width=32)),
        min_size=2,
        max_size=60,
    ),
    kind=hs.sampled_from(HALVES),
)
def test_half_binary_equals_float32_and_sklearn_property(rows, kind):
    y = np.array([r[0] for r in rows])
    h, s = _to_half(np.array([r[1] for r in rows], dtype=np.float32), kind)
    if not np.isfinite(s).all():  # float16 overflows above 65504: not this test's case
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ours, sk in [
            (ltm.roc_auc_score, skm.roc_auc_score),
            (ltm.average_precision_score, skm.average_precision_score),
            (ltm.precision_recall_curve, skm.precision_recall_curve),
        ]:
            if ours is ltm.roc_auc_score and not 0 < y.sum() < y.size:
                continue
            _eq_and_sklearn(ours(y, h), ours(y, s), sk(y, s))


def _stream_cases():
    for cls in (st.AUROC, st.AveragePrecision):
        for task in ("binary", "multiclass", "multilabel"):
            for bins in (None, 50):
                yield cls, task, bins


@pytest.mark.parametrize("kind", HALVES)
@pytest.mark.parametrize("logits", [False, True])
def test_half_streaming_equals_float32(kind, logits):
    y, p = _half_probs(n=900, c=C, seed=4)
    rng = np.random.default_rng(5)
    if logits:
        p = (rng.normal(size=p.shape) * 2 + np.eye(C)[y]).astype(np.float32)
    h, ref = _to_half(p, kind)
    ind = (rng.random(p.shape) < 0.3).astype(np.int64)
    for cls, task, bins in _stream_cases():
        if task == "binary":
            args, hh, rr, t = (), h[:, 0], ref[:, 0], (y == 0).astype(np.int64)
        else:
            args, hh, rr = (C,), h, ref
            t = y if task == "multiclass" else ind
        ours = _stream(cls(task, *args, bins=bins), hh, t)
        want = _stream(cls(task, *args, bins=bins), rr, t)
        assert np.array_equal(ours, want), (cls, task, bins)
        # a half batch, then a float32 one: the state concatenates the values
        mixed = cls(task, *args, bins=bins)
        mixed.update(hh[:400], t[:400])
        mixed.update(rr[400:], t[400:])
        assert np.array_equal(mixed.compute(), want), (cls, task, bins)
        if bins is None and not logits:
            # the exact accumulators are the functional metric on the widened rows
            sk = skm.roc_auc_score if cls is st.AUROC else skm.average_precision_score
            if task == "binary":
                assert ours == pytest.approx(sk(t, rr), abs=1e-12)
            elif task == "multilabel":
                assert ours == pytest.approx(sk(t, rr, average="macro"), abs=1e-12)
            elif cls is st.AUROC:
                assert ours == pytest.approx(sk(t, rr, multi_class="ovr"), abs=1e-12)
    for make in (
        lambda: st.CalibrationError(n_bins=10),
        lambda: st.CalibrationError(n_bins=7, classwise=True, num_classes=C),
    ):
        ours, want = _stream(make(), h, y), _stream(make(), ref, y)
        assert ours == want
        mixed = make()
        mixed.update(h[:400], y[:400])
        mixed.update(ref[400:], y[400:])
        assert mixed.compute() == want
    t01 = (y == 0).astype(np.int64)
    ours = _stream(st.CalibrationError(), h[:, 0], t01)
    assert ours == _stream(st.CalibrationError(), ref[:, 0], t01)


def _error(fn, *args):
    """The ValueError message of ``fn(*args)``, or None (e.g. +inf under a sigmoid is 1)."""
    try:
        fn(*args)
    except ValueError as e:
        return str(e)
    return None


@pytest.mark.parametrize("kind", HALVES)
def test_half_nan_and_inf_raise_as_float32(kind):
    y, p = _half_probs(n=300, c=C)
    yb = (y == 3).astype(int)
    calls = [
        lambda s: ltm.roc_auc_score(yb, s[:, 3]),
        lambda s: ltm.average_precision_score(yb, s[:, 3]),
        lambda s: ltm.roc_curve(yb, s[:, 3]),
        lambda s: ltm.roc_auc_score(y, s, multi_class="ovr"),
        lambda s: ltm.roc_auc_score(y, s, multi_class="ovo"),
        lambda s: ltm.top_k_accuracy_score(y, s, k=2),
        lambda s: st.AUROC("multiclass", C).update(s, y),
        lambda s: st.AUROC("multiclass", C, bins=20).update(s, y),
        lambda s: st.AveragePrecision("multilabel", C, bins=20).update(
            s, np.zeros(s.shape, dtype=np.int64)
        ),
        lambda s: st.AveragePrecision("binary").update(s[:, 3], yb),
        lambda s: st.CalibrationError().update(s, y),
        lambda s: st.CalibrationError(classwise=True, num_classes=C).update(s, y),
    ]
    for bad in (np.nan, np.inf, -np.inf):
        q = p.copy()
        q[17, 3] = bad
        h, ref = _to_half(q, kind)
        raised = 0
        for i, call in enumerate(calls):
            msg = _error(call, h)
            assert msg == _error(call, ref), (bad, i)
            raised += msg is not None
        assert raised >= 6  # the functional metrics always refuse; logits may not


def test_no_widened_copy_of_a_half_float16_score_matrix():
    n, c = 60_000, 50
    y, p = _half_probs(n, c)
    h = p.astype(np.float16)
    calls = {
        "ovr": lambda: ltm.roc_auc_score(y, h, multi_class="ovr"),
        "ap": lambda: ltm.average_precision_score(y, h),
        "top-k": lambda: ltm.top_k_accuracy_score(y, h, k=5),
    }
    for name, call in calls.items():
        call()  # warm
        assert _numpy_peak(call) < h.nbytes, name  # n * C * 2 bytes
    for acc in (
        st.AUROC("multiclass", num_classes=c, bins=100),
        st.CalibrationError(),
        st.CalibrationError(classwise=True, num_classes=c),
    ):
        acc.update(h[:100], y[:100])
        assert _numpy_peak(lambda acc=acc: acc.update(h, y)) < h.nbytes, acc


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_torch_half_scores_reach_the_kernels_without_a_copy(dtype, monkeypatch):
    from longtail import _core
    from longtail._checks import as_scores

    n, c = 400, C
    y = np.arange(n) % c
    t = torch.full((n, c), 1.0 / 8, dtype=dtype)
    t[:, 0] = 1 - (c - 1) / 8
    assert as_scores(t, "y_score", half=True).ctypes.data == t.data_ptr()
    assert as_scores(t[:, 2], "y_score", half=True).itemsize == 2  # strided: copied at 2 B
    seen = []

    def spy(name):
        real = getattr(_core, name)

        def wrapper(*args, **kwargs):
            seen.extend(a for a in args if isinstance(a, np.ndarray) and a.ndim == 2)
            return real(*args, **kwargs)

        monkeypatch.setattr(_core, name, wrapper)

    for name in ("per_column_score", "ovo_pair_auc", "top_k_hits", "binned_hist_multiclass"):
        spy(name)
    ltm.roc_auc_score(y, t, multi_class="ovr")
    ltm.roc_auc_score(y, t, multi_class="ovo")
    ltm.average_precision_score(y, t)
    ltm.top_k_accuracy_score(y, t, k=2)
    st.AUROC("multiclass", c, bins=10).update(t, y)
    assert len(seen) == 5
    for arr in seen:
        assert arr.itemsize == 2 and arr.ctypes.data == t.data_ptr()


def test_numpy_uint16_scores_are_still_integers():
    # only a torch bfloat16 tensor becomes the uint16 bit view; a uint16 array is numbers
    y = np.array([0, 1, 0, 1, 1, 0])
    s = np.array([3, 40000, 7, 65535, 2, 1], dtype=np.uint16)
    assert ltm.roc_auc_score(y, s) == skm.roc_auc_score(y, s)
    assert ltm.average_precision_score(y, s) == skm.average_precision_score(y, s)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_half_scores_go_to_the_host_at_2_bytes(dtype):
    from longtail._checks import as_scores

    y, p = _half_probs(n=500, c=C)
    t = torch.from_numpy(p).to(dtype)
    g = t.cuda()
    assert as_scores(g, "y_score", half=True).itemsize == 2
    for mc in ("ovr", "ovo"):
        assert ltm.roc_auc_score(y, g, multi_class=mc) == ltm.roc_auc_score(y, t, multi_class=mc)
    assert ltm.average_precision_score(y, g) == ltm.average_precision_score(y, t)
