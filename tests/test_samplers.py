"""Class-first and weighted samplers: frequencies, determinism, DDP, resume, DataLoader.

Statistical checks are chi-square tests at fixed seeds (deterministic, never flaky) with
a negative control showing each test can fail.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare
from torch.utils.data import DataLoader, Dataset

import longtail
from longtail.samplers import (
    ClassBalancedSampler,
    ProgressivelyBalancedSampler,
    WeightedSampler,
)

# Non-contiguous ids, including negative and huge ones; sizes long-tailed.
IDS = np.array([-3, 0, 7, 1000, 10**12, 42])
SIZES = np.array([1000, 300, 100, 30, 10, 3])
LABELS = np.repeat(IDS, SIZES)
np.random.default_rng(0).shuffle(LABELS)
ALPHA = 1e-3


def class_counts(idx, labels=LABELS, ids=IDS):
    return np.array([(labels[idx] == c).sum() for c in ids])


def expected(power, sizes=SIZES):
    p = sizes.astype(float) ** power
    return p / p.sum()


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("replacement", [True, False])
def test_class_frequencies_follow_power(power, replacement):
    n = 60_000
    s = ClassBalancedSampler(LABELS, power=power, num_samples=n, seed=1, replacement=replacement)
    counts = class_counts(s.indices())
    assert counts.sum() == n
    assert chisquare(counts, expected(power) * n).pvalue > ALPHA
    # Negative control: the same counts are far from another power's frequencies.
    other = 1.0 if power != 1.0 else 0.0
    assert chisquare(counts, expected(other) * n).pvalue < 1e-12


def test_class_probs_attribute():
    s = ClassBalancedSampler(LABELS, power=0.5)
    np.testing.assert_allclose(s.class_probs, expected(0.5)[np.argsort(IDS)])
    assert s.classes.tolist() == sorted(IDS.tolist())


@pytest.mark.parametrize("epoch", [0, 3, 6, 10])
def test_progressive_schedule(epoch):
    T, n = 6, 60_000
    s = ProgressivelyBalancedSampler(LABELS, total_epochs=T, num_samples=n, seed=2)
    s.set_epoch(epoch)
    t = min(epoch, T) / T
    want = (1 - t) * SIZES / SIZES.sum() + t / len(SIZES)
    counts = class_counts(s.indices())
    assert chisquare(counts, want * n).pvalue > ALPHA
    np.testing.assert_allclose(s.class_probs, want[np.argsort(IDS)])


@pytest.mark.parametrize("replacement", [True, False])
def test_within_class_uniform(replacement):
    s = ClassBalancedSampler(LABELS, num_samples=30_000, seed=3, replacement=replacement)
    idx = s.indices()
    members = np.flatnonzero(LABELS == 10**12)  # 10 examples
    hits = np.array([(idx == i).sum() for i in members])
    assert chisquare(hits).pvalue > ALPHA
    if not replacement:
        # Class-aware: exactly balanced up to the last, unfinished cycle.
        assert hits.max() - hits.min() <= 1


def test_class_aware_coverage():
    """Every example of a class is drawn once before any of them repeats."""
    s = ClassBalancedSampler(LABELS, num_samples=20_000, seed=4, replacement=False)
    idx = s.indices()
    for c, size in zip(IDS, SIZES):
        draws = idx[LABELS[idx] == c]
        members = np.sort(np.flatnonzero(LABELS == c))
        full = len(draws) // size
        assert full >= 1 or size == 1000
        for k in range(full):
            assert np.array_equal(np.sort(draws[k * size : (k + 1) * size]), members)
        rest = draws[full * size :]
        assert len(np.unique(rest)) == len(rest)
        # A new cycle is a fresh shuffle, not the same order again.
        if full >= 2 and size >= 10:
            assert not np.array_equal(draws[:size], draws[size : 2 * size])


def test_with_replacement_repeats_within_a_cycle():
    # Negative control for the coverage test: plain sampling does repeat early.
    s = ClassBalancedSampler(LABELS, num_samples=20_000, seed=4, replacement=True)
    idx = s.indices()
    draws = idx[LABELS[idx] == 42][:3]
    small = idx[LABELS[idx] == 10**12][:10]
    assert len(np.unique(small)) < 10 or len(np.unique(draws)) < 3


@pytest.mark.parametrize("replacement", [True, False])
def test_determinism_seed_epoch_and_threads(replacement):
    def make(seed=0):
        return ClassBalancedSampler(LABELS, seed=seed, replacement=replacement, num_samples=200_000)

    a = make().indices()
    assert np.array_equal(a, make().indices())
    assert not np.array_equal(a, make(seed=1).indices())
    s = make()
    s.set_epoch(1)
    b = s.indices()
    assert not np.array_equal(a, b)
    s.set_epoch(0)
    assert np.array_equal(a, s.indices())
    try:
        longtail.set_num_threads(1)
        one = make().indices()
        longtail.set_num_threads(3)
        three = make().indices()
    finally:
        longtail.set_num_threads(0)
    assert np.array_equal(a, one) and np.array_equal(a, three)


def test_iter_matches_indices_and_len():
    s = ClassBalancedSampler(LABELS, seed=5)
    assert list(iter(s)) == s.indices().tolist()
    assert len(s) == len(LABELS)
    assert all(isinstance(i, int) for i in list(s)[:5])


def interleave(parts):
    out = np.empty(sum(len(p) for p in parts), dtype=np.int64)
    for r, p in enumerate(parts):
        out[r :: len(parts)] = p
    return out


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    labels=st.lists(st.integers(-5, 5), min_size=1, max_size=60),
    num_samples=st.integers(0, 300),
    replicas=st.integers(1, 5),
    seed=st.integers(0, 2**64 - 1),
    replacement=st.booleans(),
    drop_last=st.booleans(),
)
def test_ranks_form_one_global_stream(labels, num_samples, replicas, seed, replacement, drop_last):
    kw = dict(power=0.5, seed=seed, replacement=replacement)
    parts = [
        ClassBalancedSampler(
            labels,
            num_samples=num_samples,
            num_replicas=replicas,
            rank=r,
            drop_last=drop_last,
            **kw,
        ).indices()
        for r in range(replicas)
    ]
    lengths = {len(p) for p in parts}
    assert len(lengths) == 1
    per_rank = lengths.pop()
    want = num_samples // replicas if drop_last else -(-num_samples // replicas)
    assert per_rank == want
    whole = ClassBalancedSampler(labels, num_samples=per_rank * replicas, **kw).indices()
    assert np.array_equal(interleave(parts), whole)
    # Prefix-stable: a longer epoch only appends.
    longer = ClassBalancedSampler(labels, num_samples=per_rank * replicas + 7, **kw).indices()
    assert np.array_equal(longer[: len(whole)], whole)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    weights=st.lists(st.floats(0, 10), min_size=1, max_size=50).filter(lambda w: sum(w) > 0),
    replicas=st.integers(1, 4),
    seed=st.integers(0, 1000),
    replacement=st.booleans(),
    drop_last=st.booleans(),
    data=st.data(),
)
def test_weighted_ranks_form_one_global_stream(
    weights, replicas, seed, replacement, drop_last, data
):
    positive = sum(w > 0 for w in weights)
    num_samples = data.draw(st.integers(1, 200 if replacement else positive))
    parts = [
        WeightedSampler(
            weights,
            num_samples,
            replacement=replacement,
            seed=seed,
            num_replicas=replicas,
            rank=r,
            drop_last=drop_last,
        ).indices()
        for r in range(replicas)
    ]
    assert len({len(p) for p in parts}) == 1
    total = len(parts[0]) * replicas
    got = interleave(parts)
    assert all(weights[i] > 0 for i in got)
    if replacement:
        whole = WeightedSampler(weights, max(total, 1), seed=seed).indices()[:total]
    else:
        base = WeightedSampler(weights, num_samples, replacement=False, seed=seed).indices()
        assert len(set(base.tolist())) == num_samples
        whole = np.resize(base, total)  # wraps around, as DistributedSampler pads
    assert np.array_equal(got, whole)


def test_ddp_defaults_come_from_torch_distributed(monkeypatch):
    import torch.distributed as dist

    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 4)
    monkeypatch.setattr(dist, "get_rank", lambda group=None: 3)
    s = ClassBalancedSampler(LABELS, num_samples=10)
    assert (s.num_replicas, s.rank, len(s)) == (4, 3, 3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ClassBalancedSampler(LABELS, seed=7, num_replicas=3, rank=1),
        lambda: ClassBalancedSampler(LABELS, seed=7, replacement=False),
        lambda: ProgressivelyBalancedSampler(LABELS, total_epochs=5, seed=7),
        lambda: WeightedSampler(np.arange(1.0, 50.0), 300, seed=7, num_replicas=2, rank=0),
        lambda: WeightedSampler(np.arange(1.0, 50.0), 40, replacement=False, seed=7),
    ],
)
def test_resume_yields_exactly_the_remaining_indices(make):
    s = make()
    s.set_epoch(2)
    full = s.indices().tolist()
    it = iter(s)
    head = [next(it) for _ in range(17)]
    state = s.state_dict()
    assert state == {"epoch": 2, "seed": 7, "yielded": 17, "pinned": True}
    resumed = make()
    resumed.load_state_dict(state)
    assert head + list(resumed) == full
    # Only the first iteration resumes; the next one is a whole epoch again.
    assert list(resumed) == full
    # A finished epoch resumes to nothing.
    list(it)
    done = make()
    done.load_state_dict(s.state_dict())
    assert list(done) == []


def test_load_state_dict_rejects_garbage():
    s = ClassBalancedSampler(LABELS)
    with pytest.raises(ValueError, match="state"):
        s.load_state_dict({"epoch": 1})
    with pytest.raises(ValueError, match="yielded"):
        s.load_state_dict({"epoch": 1, "seed": 0, "yielded": -1})


def test_weighted_frequencies_and_zero_weights():
    w = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    n = 50_000
    idx = WeightedSampler(w, n, seed=8).indices()
    counts = np.bincount(idx, minlength=5)
    assert counts[0] == 0
    assert chisquare(counts[1:], w[1:] / w.sum() * n).pvalue > ALPHA
    assert chisquare(counts[1:], np.full(4, n / 4)).pvalue < 1e-12


def test_weighted_without_replacement_is_sequential_weighted_sampling():
    """The first draw is distributed as w / sum(w); the epoch has no repeats."""
    w = np.array([1.0, 2.0, 3.0, 4.0, 0.0, 10.0])
    s = WeightedSampler(w, 5, replacement=False, seed=9)
    firsts, seconds = [], []
    for e in range(3000):
        s.set_epoch(e)
        idx = s.indices()
        assert sorted(idx.tolist()) == [0, 1, 2, 3, 5]
        firsts.append(idx[0])
        if idx[0] == 5:
            seconds.append(idx[1])
    counts = np.bincount(firsts, minlength=6)[[0, 1, 2, 3, 5]]
    p = w[[0, 1, 2, 3, 5]] / w.sum()
    assert chisquare(counts, p * len(firsts)).pvalue > ALPHA
    # Given the heavy item went first, the next is drawn from the rest: w / (sum - 10).
    c2 = np.bincount(seconds, minlength=4)[:4]
    assert chisquare(c2, w[:4] / w[:4].sum() * len(seconds)).pvalue > ALPHA


def test_weighted_matches_torch_semantics():
    w = torch.tensor([0.1, 0.9])
    s = WeightedSampler(w, 10)
    assert len(s) == 10 and set(s.indices().tolist()) <= {0, 1}
    with pytest.raises(ValueError, match="num_samples"):
        WeightedSampler([1.0, 1.0, 0.0], 3, replacement=False)


def test_weighted_sampler_beyond_2_pow_24():
    """torch.multinomial refuses more than 2**24 categories; we do not."""
    n = 2**24 + 1
    w = np.ones(n)
    w[-1] = float(n)  # the last item gets half the mass
    idx = WeightedSampler(w, 4000, seed=10).indices()
    last = int((idx == n - 1).sum())
    assert 1800 < last < 2200
    assert idx.max() == n - 1 and idx.min() >= 0
    top = WeightedSampler(w, 3, replacement=False, seed=10).indices()
    assert len(set(top.tolist())) == 3 and (top < n).all()


class _Square(Dataset):
    """Each item runs a Rust kernel inside the DataLoader worker (after fork)."""

    def __len__(self):
        return len(LABELS)

    def __getitem__(self, i):
        s = ClassBalancedSampler(LABELS, num_samples=5000, seed=int(i))
        return int(s.indices()[0])


def test_dataloader_with_forked_workers():
    s = ClassBalancedSampler(LABELS, num_samples=64, seed=11)
    s.indices()  # builds this process's thread pool before the fork
    loader = DataLoader(
        _Square(),
        batch_size=8,
        sampler=s,
        num_workers=2,
        multiprocessing_context="fork",
        timeout=120,  # a broken pool in a worker would hang; fail instead
    )
    got = torch.cat(list(loader))
    assert len(got) == 64


def test_dataset_inputs():
    class TV:
        targets = LABELS.tolist()

    class WithLabels:
        labels = torch.as_tensor(LABELS)

    class HF:
        column_names = ["image", "label"]

        def __getitem__(self, key):
            assert key == "label"
            return LABELS.tolist()

        def __len__(self):
            return len(LABELS)

    want = ClassBalancedSampler(LABELS, seed=3).indices()
    for ds in (TV(), WithLabels(), HF(), torch.as_tensor(LABELS), LABELS.tolist()):
        assert np.array_equal(ClassBalancedSampler(ds, seed=3).indices(), want)
    with pytest.raises(ValueError, match="label_column"):
        ClassBalancedSampler(HF(), label_column="fine_label")


def test_memory_is_a_grouped_index():
    """Besides O(classes), the sampler keeps one 4-byte index per label."""
    y = np.random.default_rng(0).integers(0, 100, 100_000)
    s = ClassBalancedSampler(y)
    big = [v for v in vars(s).values() if isinstance(v, np.ndarray) and v.size > 1000]
    assert sum(v.nbytes for v in big) == 4 * len(y)


def _ddp_rank(rank, world, port, out):
    import os

    import torch.distributed as dist

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        s = ClassBalancedSampler(LABELS, num_samples=1001, seed=13)  # defaults from dist
        s.set_epoch(4)
        out.put((rank, s.num_replicas, s.rank, list(s)))
    finally:
        dist.destroy_process_group()


def test_real_torch_distributed_group():
    """Two gloo processes: defaults come from torch.distributed; ranks partition the stream."""
    import multiprocessing as mp
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_ddp_rank, args=(r, 2, port, out)) for r in range(2)]
    for p in procs:
        p.start()
    got = dict()
    for _ in procs:
        rank, world, r, idx = out.get(timeout=120)
        assert (world, r) == (2, rank)
        got[rank] = idx
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(got[0]) == len(got[1]) == 501
    whole = ClassBalancedSampler(LABELS, num_samples=1002, seed=13)
    whole.set_epoch(4)
    assert np.array_equal(interleave([got[0], got[1]]), whole.indices())
