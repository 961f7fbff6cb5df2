"""RepeatFactorSampler, MPerClassSampler and BalancedReplayBuffer."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare
from torch.utils.data import DataLoader

from longtail.samplers import BalancedReplayBuffer, MPerClassSampler, RepeatFactorSampler

# ---------------------------------------------------------------- repeat factors

IMAGES = [[0, 1], [0], [0, 0], [2], [], [0, 3], [0], [1, 0], [0], [0]]


def lvis_factors(images, t):
    """Gupta et al. 2019, written out directly."""
    n = len(images)
    classes = {c for im in images for c in im}
    f = {c: sum(c in set(im) for im in images) / n for c in classes}
    r_c = {c: max(1.0, np.sqrt(t / f[c])) for c in classes}
    return np.array([max((r_c[c] for c in im), default=1.0) for im in images])


@pytest.mark.parametrize("t", [0.001, 0.3, 0.9])
def test_repeat_factors_match_lvis_formula(t):
    s = RepeatFactorSampler(IMAGES, threshold=t)
    np.testing.assert_allclose(s.repeat_factors, lvis_factors(IMAGES, t), rtol=1e-12)


def test_one_label_per_image_and_datasets():
    y = np.array([0, 0, 0, 1])
    s = RepeatFactorSampler(y, threshold=0.5)
    np.testing.assert_allclose(s.repeat_factors, lvis_factors([[0], [0], [0], [1]], 0.5))

    class Det:
        labels = [[0, 1], [0], [0, 0], [2], [], [0, 3], [0], [1, 0], [0], [0]]

    assert np.array_equal(RepeatFactorSampler(Det()).repeat_factors, lvis_factors(IMAGES, 0.001))


def test_stochastic_rounding_per_epoch():
    images = [[0]] * 60 + [[1]] * 30 + [[2]] * 10
    s = RepeatFactorSampler(images, threshold=0.5, seed=5)  # r = 1, 1.29, 2.24
    r = s.repeat_factors
    totals = np.zeros(len(images))
    lengths = set()
    epochs = 400
    for e in range(epochs):
        s.set_epoch(e)
        idx = s.indices()
        assert len(s) == len(idx) == len(list(s))
        counts = np.bincount(idx, minlength=len(images))
        # Every image appears floor(r) or floor(r) + 1 times.
        assert ((counts == np.floor(r)) | (counts == np.floor(r) + 1)).all()
        totals += counts
        lengths.add(len(idx))
    assert len(lengths) > 1  # the rounding is redrawn every epoch
    # Mean repeats per image estimate r_i; pooled by class it is a binomial count.
    for cls, lo, hi in [(1, 60, 90), (2, 90, 100)]:
        extra = totals[lo:hi].sum() - np.floor(r[lo]) * (hi - lo) * epochs
        p = r[lo] - np.floor(r[lo])
        trials = (hi - lo) * epochs
        z = (extra - p * trials) / np.sqrt(trials * p * (1 - p))
        assert abs(z) < 4, (cls, z)


def test_repeat_factor_shuffles_and_is_deterministic():
    s = RepeatFactorSampler(IMAGES, threshold=0.9, seed=1)
    a = s.indices()
    assert np.array_equal(a, RepeatFactorSampler(IMAGES, threshold=0.9, seed=1).indices())
    s.set_epoch(1)
    assert not np.array_equal(a, s.indices()) or len(a) < 3


@pytest.mark.parametrize("replicas", [2, 3])
@pytest.mark.parametrize("drop_last", [False, True])
def test_repeat_factor_ranks(replicas, drop_last):
    whole = RepeatFactorSampler(IMAGES, threshold=0.9, seed=2).indices()
    parts = [
        RepeatFactorSampler(
            IMAGES, threshold=0.9, seed=2, num_replicas=replicas, rank=r, drop_last=drop_last
        ).indices()
        for r in range(replicas)
    ]
    assert len({len(p) for p in parts}) == 1
    total = len(parts[0]) * replicas
    got = np.empty(total, dtype=np.int64)
    for r, p in enumerate(parts):
        got[r::replicas] = p
    assert np.array_equal(got, np.resize(whole, total))


# ---------------------------------------------------------------- m per class


def classes_of(batches, labels):
    return [[labels[i] for i in b] for b in batches]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(1, 12), min_size=2, max_size=9),
    m=st.integers(1, 4),
    k=st.integers(1, 9),
    seed=st.integers(0, 100),
)
def test_m_per_class_batches(sizes, m, k, seed):
    k = min(k, len(sizes))
    labels = np.repeat(np.arange(len(sizes)) * 3 + 1, sizes)  # non-contiguous ids
    s = MPerClassSampler(labels, m=m, batch_size=k * m, length=20, seed=seed)
    batches = list(s)
    assert len(batches) == len(s) == 20
    slots = []
    for b in batches:
        assert len(b) == k * m
        for j in range(k):
            grp = b[j * m : (j + 1) * m]
            cls = labels[grp]
            assert (cls == cls[0]).all()
            size = (labels == cls[0]).sum()
            # Repeats inside a batch only for classes smaller than m.
            assert len(set(grp)) == min(m, size)
            slots.append(cls[0])
        assert len(set(labels[b])) == k
    # Every class once before any class repeats: the slot sequence is a
    # concatenation of permutations of all classes.
    c = len(sizes)
    for start in range(0, len(slots) - c + 1, c):
        assert sorted(slots[start : start + c]) == sorted(set(labels.tolist()))


def test_m_per_class_cycles_within_class():
    labels = np.repeat([0, 1, 2, 3], 6)
    s = MPerClassSampler(labels, m=3, batch_size=6, length=40, seed=0)
    flat = s.indices()
    for c in range(4):
        draws = flat[labels[flat] == c]
        for k in range(len(draws) // 6):
            assert sorted(draws[k * 6 : (k + 1) * 6]) == list(range(c * 6, c * 6 + 6))


def test_m_per_class_ranks_get_disjoint_batches():
    labels = np.random.default_rng(0).integers(0, 20, 2000)
    whole = MPerClassSampler(labels, m=4, batch_size=16, length=10, seed=3).batches()
    parts = [
        MPerClassSampler(
            labels, m=4, batch_size=16, length=9, seed=3, num_replicas=2, rank=r
        ).batches()
        for r in range(2)
    ]
    assert len(parts[0]) == len(parts[1]) == 5
    assert np.array_equal(parts[0], whole[0::2]) and np.array_equal(parts[1], whole[1::2])


def test_m_per_class_default_length_epochs_and_resume():
    labels = np.repeat(np.arange(10), 20)
    s = MPerClassSampler(labels, m=2, batch_size=8, seed=1)
    assert len(s) == 200 // 8
    a = s.batches()
    s.set_epoch(1)
    assert not np.array_equal(a, s.batches())
    s.set_epoch(0)
    it = iter(s)
    head = [next(it) for _ in range(3)]
    state = s.state_dict()
    t = MPerClassSampler(labels, m=2, batch_size=8, seed=1)
    t.load_state_dict(state)
    assert head + list(t) == a.tolist()


def test_m_per_class_as_dataloader_batch_sampler():
    labels = np.repeat(np.arange(5), 7)
    s = MPerClassSampler(labels, m=2, batch_size=6, seed=0)
    loader = DataLoader(list(range(len(labels))), batch_sampler=s)
    batches = [b.tolist() for b in loader]
    assert batches == s.batches().tolist()


# ---------------------------------------------------------------- replay buffer


def test_replay_buffer_balances_an_imbalanced_stream():
    rng = np.random.default_rng(0)
    sizes = [4000, 1000, 200, 50, 20]
    labels = np.repeat(np.arange(5), sizes)
    rng.shuffle(labels)
    buf = BalancedReplayBuffer(200, seed=1)
    for start in range(0, len(labels), 500):  # several add calls, as a stream
        idx = np.arange(start, min(start + 500, len(labels)))
        buf.add(idx, labels[idx])
    counts = buf.class_counts()
    assert len(buf) == 200 == sum(counts.values())
    # The smallest class keeps everything it brought; the rest share the remainder
    # equally (class 3 brought 50 > 180 / 4, so it is capped too).
    assert counts[4] == 20
    assert max(counts[c] for c in range(4)) - min(counts[c] for c in range(4)) <= 1
    stored = buf.indices
    assert np.array_equal(labels[stored], buf.labels)
    assert len(np.unique(stored)) == 200


def test_replay_buffer_reservoir_within_full_class_is_uniform():
    """Once a class is the largest, it keeps a uniform sample of its stream."""
    hits = np.zeros(100)
    for seed in range(300):
        buf = BalancedReplayBuffer(10, seed=seed)
        buf.add(np.arange(100), np.zeros(100, dtype=int))
        hits[buf.indices] += 1
    assert chisquare(hits).pvalue > 1e-3
    assert hits[:10].sum() < 0.2 * hits.sum()  # not just the first ten kept


def test_replay_buffer_determinism_and_sampling():
    labels = np.random.default_rng(2).integers(0, 7, 1000)

    def fill(seed):
        buf = BalancedReplayBuffer(50, seed=seed)
        buf.add(np.arange(1000), labels)
        return buf

    a, b = fill(3), fill(3)
    assert np.array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, fill(4).indices)
    draw = a.sample(20)
    assert draw.dtype == np.int64 and len(set(draw.tolist())) == 20
    assert set(draw.tolist()) <= set(a.indices.tolist())
    assert len(a.sample(200, replace=True)) == 200
