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
