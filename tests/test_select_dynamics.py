"""ClassAdaptiveThreshold and TrainingDynamics: USB's formulas, host-sync-free updates,
state round trips, and 2 gloo ranks agreeing with one process fed everything."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import ddp_launch  # noqa: E402

from longtail.select import ClassAdaptiveThreshold, TrainingDynamics  # noqa: E402

C, N_UNLAB, BATCH, STEPS = 5, 64, 16, 12


def _batches(seed=0, n=N_UNLAB, steps=STEPS, batch=BATCH, c=C, sharp=4.0):
    """Unlabeled batches (probs float32, ids without repeats inside a batch)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        ids = rng.choice(n, size=batch, replace=False)
        z = rng.normal(size=(batch, c)) * sharp
        z[:, 0] += 1.5  # class 0 is the head: it reaches the threshold more often
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        out.append((torch.from_numpy(p.astype(np.float32)), torch.from_numpy(ids)))
    return out


# ------------------------------------------------------------ references (USB's hooks)


class _FlexRef:
    """FlexMatchThresholdingHook of USB, restated: Counter recount every step."""

    def __init__(self, n, c, p_cutoff, warmup):
        self.selected = torch.full((n,), -1, dtype=torch.long)
        self.acc = torch.zeros(c)
        self.n, self.c, self.p, self.warmup = n, c, p_cutoff, warmup

    def _update(self):
        cnt = Counter(self.selected.tolist())
        if max(cnt.values()) < self.n:
            if self.warmup:
                top = max(cnt.values())
            else:
                top = max(v for k, v in cnt.items() if k != -1)
            for i in range(self.c):
                self.acc[i] = cnt[i] / top

    def masking(self, probs, idx):
        maxp, pred = probs.max(-1)
        mask = maxp.ge(self.p * (self.acc[pred] / (2.0 - self.acc[pred]))).float()
        sel = maxp.ge(self.p)
        self.selected[idx[sel]] = pred[sel]
        self._update()
        return mask


class _FreeRef:
    def __init__(self, c, m):
        self.tau = torch.tensor(1.0 / c)
        self.p_model = torch.ones(c) / c
        self.m = m

    def masking(self, probs):
        maxp, pred = probs.max(-1)
        self.tau = self.tau * self.m + (1 - self.m) * maxp.mean()
        self.p_model = self.p_model * self.m + (1 - self.m) * probs.mean(0)
        mod = self.p_model / self.p_model.max()
        return maxp.ge(self.tau * mod[pred]).float()


class _SoftRef:
    def __init__(self, c, m, n_sigma):
        self.mu = torch.tensor(1.0 / c)
        self.var = torch.tensor(1.0)
        self.m, self.n_sigma = m, n_sigma

    def masking(self, probs):
        maxp, _ = probs.max(-1)
        self.mu = self.m * self.mu + (1 - self.m) * torch.mean(maxp).item()
        self.var = self.m * self.var + (1 - self.m) * torch.var(maxp, unbiased=True).item()
        gap = torch.clamp(maxp - self.mu, max=0.0)
        return torch.exp(-(gap**2) / (2 * self.var / self.n_sigma**2))


# -------------------------------------------------------------------- single process


@pytest.mark.parametrize("warmup", [True, False])
def test_flexmatch_equals_usb_hook_step_by_step(warmup):
    thr = ClassAdaptiveThreshold(C, method="flexmatch", threshold=0.7, num_unlabeled=N_UNLAB,
                                 warmup=warmup)
    ref = _FlexRef(N_UNLAB, C, 0.7, warmup)
    changed = 0
    for probs, ids in _batches():
        want = ref.masking(probs, ids)
        got = thr.step(probs, ids)
        assert torch.equal(got, want)
        torch.testing.assert_close(thr.thresholds(), 0.7 * ref.acc / (2.0 - ref.acc))
        changed += int((ref.acc > 0).sum())
    assert changed > 0  # the thresholds really moved
    counts = torch.bincount(thr.selected + 1, minlength=C + 1)
    assert torch.equal(counts, thr.counts)


def test_freematch_equals_usb_hook_with_one_over_c_start():
    thr = ClassAdaptiveThreshold(C, method="freematch", momentum=0.9)
    ref = _FreeRef(C, 0.9)
    for probs, _ in _batches(1):
        want = ref.masking(probs)
        got = thr.step(probs)
        assert torch.equal(got, want)
        torch.testing.assert_close(thr.thresholds(), ref.tau * ref.p_model / ref.p_model.max())


def test_softmatch_equals_usb_hook():
    thr = ClassAdaptiveThreshold(C, method="softmatch", momentum=0.9, n_sigma=2)
    ref = _SoftRef(C, 0.9, 2.0)
    for probs, _ in _batches(2):
        want = ref.masking(probs)
        got = thr.step(probs)
        torch.testing.assert_close(got, want)
        assert torch.allclose(thr.thresholds(), torch.full((C,), float(ref.mu)))
    assert (got < 1).any() and (got == 1).any()  # soft weights below mu, 1 above


def test_flexmatch_repeated_ids_in_a_batch_act_as_rows_in_sequence():
    rng = np.random.default_rng(3)
    thr = ClassAdaptiveThreshold(C, method="flexmatch", threshold=0.5, num_unlabeled=10)
    seq = ClassAdaptiveThreshold(C, method="flexmatch", threshold=0.5, num_unlabeled=10)
    for _ in range(20):
        ids = torch.from_numpy(rng.integers(0, 10, 8))
        p = torch.softmax(torch.from_numpy(rng.normal(size=(8, C)) * 3), 1).float()
        thr.update(p, ids)
        for i in range(8):
            seq.update(p[i : i + 1], ids[i : i + 1])
        assert torch.equal(thr.selected, seq.selected)
        assert torch.equal(thr.counts, seq.counts)


@pytest.mark.parametrize("method", ["flexmatch", "freematch", "softmatch"])
def test_update_and_mask_never_need_the_host(method):
    # On the meta device every value is unknown: any .item(), bool() on a tensor or
    # boolean indexing raises, so passing proves update/mask are free of host syncs.
    thr = ClassAdaptiveThreshold(C, method=method, num_unlabeled=N_UNLAB).to("meta")
    probs = torch.empty(BATCH, C, device="meta")
    ids = torch.empty(BATCH, dtype=torch.int64, device="meta")
    thr.update(probs, ids)
    assert thr.mask(probs).device.type == "meta"
    assert thr.thresholds().device.type == "meta"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", ["flexmatch", "freematch", "softmatch"])
def test_cuda_update_does_not_synchronise(method):
    thr = ClassAdaptiveThreshold(C, method=method, num_unlabeled=N_UNLAB).to("cuda")
    probs, ids = _batches()[0]
    probs, ids = probs.cuda(), ids.cuda()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        thr.update(probs, ids)
        thr.mask(probs)
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("method", ["flexmatch", "freematch", "softmatch"])
def test_state_dict_round_trip(method):
    a = ClassAdaptiveThreshold(C, method=method, threshold=0.6, num_unlabeled=N_UNLAB)
    batches = _batches(4)
    for probs, ids in batches[:6]:
        a.update(probs, ids)
    b = ClassAdaptiveThreshold(C, method=method, threshold=0.6, num_unlabeled=N_UNLAB)
    b.load_state_dict(a.state_dict())
    for probs, ids in batches[6:]:
        assert torch.equal(a.step(probs, ids), b.step(probs, ids))
    other = ClassAdaptiveThreshold(C + 1, method=method, num_unlabeled=N_UNLAB)
    with pytest.raises(ValueError, match="state"):
        other.load_state_dict(a.state_dict())


def test_threshold_bad_input():
    with pytest.raises(ValueError, match="method"):
        ClassAdaptiveThreshold(3, method="fixmatch")
    with pytest.raises(ValueError, match="num_unlabeled"):
        ClassAdaptiveThreshold(3, method="flexmatch")
    with pytest.raises(ValueError, match="threshold"):
        ClassAdaptiveThreshold(3, method="freematch", threshold=1.5)
    with pytest.raises(TypeError, match="num_classes"):
        ClassAdaptiveThreshold(2.5, method="freematch")
    thr = ClassAdaptiveThreshold(3, method="flexmatch", num_unlabeled=4)
    p = torch.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="probs"):
        thr.update(torch.full((2, 4), 0.25), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="indexes"):
        thr.update(p)
    with pytest.raises(ValueError, match="indexes"):
        thr.update(p, torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="probs"):
        thr.update(torch.tensor([[np.nan, 0.5, 0.5], [1.0, 0, 0]]), torch.tensor([0, 1]))


# --------------------------------------------------------------- training dynamics


def _epochs(seed=0, n=40, c=4, epochs=5, batch=8, dup=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    out = []
    for e in range(epochs):
        order = rng.permutation(n)
        if dup:
            order = np.concatenate([order, order[:3]])  # repeated ids, some in one batch
        z = rng.normal(size=(len(order), c)) * 2 + (e / 2) * np.eye(c)[y[order]]
        for s in range(0, len(order), batch):
            rows = order[s : s + batch]
            out.append((rows, z[s : s + batch], y[rows]))
    return y, out


def _dynamics_reference(n, c, steps):
    hist = {i: [] for i in range(n)}
    for rows, z, y in steps:
        for r, zr, yr in zip(rows, z, y):
            hist[int(r)].append((zr, int(yr)))
    el2n, aum, conf, var = (np.full(n, np.nan) for _ in range(4))
    forget = np.zeros(n, dtype=np.int64)
    for i, obs in hist.items():
        if not obs:
            continue
        e, a, p, f, prev = [], [], [], 0, None
        for zr, yr in obs:
            pr = np.exp(zr - zr.max())
            pr /= pr.sum()
            e.append(np.linalg.norm(pr - np.eye(c)[yr]))
            a.append(zr[yr] - np.max(np.delete(zr, yr)))
            p.append(pr[yr])
            ok = int(np.argmax(zr)) == yr
            f += int(prev is True and not ok)
            prev = ok
        el2n[i], aum[i], conf[i], var[i], forget[i] = (
            np.mean(e), np.mean(a), np.mean(p), np.std(p), f
        )
    return el2n, aum, conf, var, forget


def _check_dynamics(td, n, c, steps):
    el2n, aum, conf, var, forget = _dynamics_reference(n, c, steps)
    np.testing.assert_allclose(td.el2n().numpy(), el2n, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(td.aum().numpy(), aum, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(td.confidence().numpy(), conf, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(td.variability().numpy(), var, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(td.forgetting().numpy(), forget)


def test_training_dynamics_equal_a_per_example_reference():
    y, steps = _epochs()
    td = TrainingDynamics(40, 4)
    for rows, z, yy in steps:
        td.update(torch.from_numpy(rows), torch.from_numpy(z), torch.from_numpy(yy))
    _check_dynamics(td, 40, 4, steps)
    assert td.forgetting().sum() > 0


def test_training_dynamics_repeated_ids_and_unseen_examples():
    y, steps = _epochs(1, dup=True)
    td = TrainingDynamics(45, 4)  # 5 ids never seen: NaN
    for rows, z, yy in steps:
        td.update(rows, z, yy)  # numpy inputs
    _check_dynamics(td, 45, 4, steps)
    assert torch.isnan(td.el2n()[40:]).all()


def test_training_dynamics_merge_and_state_dict():
    y, steps = _epochs(2)
    whole = TrainingDynamics(40, 4)
    a, b = TrainingDynamics(40, 4), TrainingDynamics(40, 4)
    for rows, z, yy in steps:
        whole.update(rows, z, yy)
        even = rows % 2 == 0  # each example always goes to the same object
        a.update(rows[even], z[even], yy[even])
        b.update(rows[~even], z[~even], yy[~even])
    a.merge(b)
    for name in ("el2n", "aum", "confidence", "forgetting"):
        torch.testing.assert_close(getattr(a, name)(), getattr(whole, name)())
    c = TrainingDynamics(40, 4)
    c.load_state_dict(whole.state_dict())
    torch.testing.assert_close(c.aum(), whole.aum())


def test_training_dynamics_update_never_needs_the_host():
    td = TrainingDynamics(50, 3).to("meta")
    td.update(
        torch.empty(8, dtype=torch.int64, device="meta"),
        torch.empty(8, 3, device="meta"),
        torch.empty(8, dtype=torch.int64, device="meta"),
    )
    assert td.el2n().device.type == "meta"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_dynamics_cuda_update_does_not_synchronise():
    y, steps = _epochs()
    dev, host = TrainingDynamics(40, 4).to("cuda"), TrainingDynamics(40, 4)
    batches = [tuple(torch.from_numpy(a) for a in step) for step in steps]
    gpu = [tuple(t.cuda() for t in b) for b in batches]
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for rows, z, yy in gpu:
            dev.update(rows, z, yy)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    for rows, z, yy in batches:
        host.update(rows, z, yy)
    for name in ("el2n", "aum", "confidence", "variability", "forgetting"):
        got = getattr(dev, name)()
        assert got.device.type == "cuda"
        torch.testing.assert_close(got.cpu(), getattr(host, name)(), equal_nan=True)


def test_training_dynamics_bad_input():
    td = TrainingDynamics(10, 3)
    with pytest.raises(ValueError, match="logits"):
        td.update([0, 1], np.zeros((2, 4)), [0, 1])
    with pytest.raises(ValueError, match="indexes"):
        td.update([0, 10], np.zeros((2, 3)), [0, 1])
    with pytest.raises(ValueError, match="targets"):
        td.update([0, 1], np.zeros((2, 3)), [0, 3])
    with pytest.raises(TypeError, match="targets"):
        td.update([0, 1], np.zeros((2, 3)), [0.5, 1.0])
    with pytest.raises(ValueError, match="num_samples"):
        TrainingDynamics(0, 3)


# ------------------------------------------------------------------ two gloo ranks


def worker(rank, world):
    """Each rank gets half of every batch; results are compared with one process."""
    out = {}
    for method in ("flexmatch", "freematch", "softmatch"):
        thr = ClassAdaptiveThreshold(C, method=method, threshold=0.7, num_unlabeled=N_UNLAB,
                                     momentum=0.9)
        masks = []
        for probs, ids in _batches(5):
            half = BATCH // world
            mine = slice(rank * half, (rank + 1) * half)
            masks.append(thr.step(probs[mine], ids[mine]))
        out[method] = (thr.state_dict(), torch.cat(masks))
    y, steps = _epochs(3)
    td = TrainingDynamics(40, 4)
    for e in range(5):
        for rows, z, yy in steps[e * 5 : (e + 1) * 5]:
            half = len(rows) // 2
            mine = slice(0, half) if rank == 0 else slice(half, None)
            td.update(rows[mine], z[mine], yy[mine])
        td.sync()
    td.sync()  # a second sync must not count anything twice
    out["dynamics"] = {k: getattr(td, k)() for k in ("el2n", "aum", "confidence", "forgetting")}
    return out


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    return ddp_launch.run(__file__, tmp_path_factory.mktemp("dyn"))


@pytest.mark.parametrize("method", ["flexmatch", "freematch", "softmatch"])
def test_ddp_thresholds_equal_one_process_fed_everything(two_ranks, method):
    single = ClassAdaptiveThreshold(C, method=method, threshold=0.7, num_unlabeled=N_UNLAB,
                                    momentum=0.9)
    masks = []
    for probs, ids in _batches(5):
        masks.append(single.step(probs, ids))
    want = single.state_dict()
    for rank, result in enumerate(two_ranks):
        state, got_masks = result[method]
        for k, v in want.items():
            if isinstance(v, torch.Tensor):
                torch.testing.assert_close(state[k], v, rtol=1e-6, atol=1e-7)
        half = BATCH // 2
        mine = torch.cat([m[rank * half : (rank + 1) * half] for m in masks])
        torch.testing.assert_close(got_masks, mine, rtol=1e-5, atol=1e-6)


def test_ddp_training_dynamics_equal_one_process(two_ranks):
    y, steps = _epochs(3)
    td = TrainingDynamics(40, 4)
    for rows, z, yy in steps:
        td.update(rows, z, yy)
    for result in two_ranks:
        for k, v in result["dynamics"].items():
            torch.testing.assert_close(v, getattr(td, k)(), rtol=1e-12, atol=1e-12)


if __name__ == "__main__":
    ddp_launch.worker_main(worker)
