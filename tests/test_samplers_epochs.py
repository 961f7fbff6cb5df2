"""Epochs, seeds and torch drop-in behaviour shared by every sampler (``_EpochStream``).

Unpinned samplers draw a fresh epoch on every pass (as ``WeightedRandomSampler``);
``set_epoch`` pins one; ``generator=`` fixes the stream like ``seed=``; ``state_dict``
round-trips the epoch and whether it is pinned; ranks advance identically.
"""

import inspect

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from longtail.samplers import (
    BalancedReplayBuffer,
    ClassBalancedSampler,
    MPerClassSampler,
    ProgressivelyBalancedSampler,
    RepeatFactorSampler,
    WeightedSampler,
)

LABELS = np.repeat([3, 0, 9, 5], [40, 20, 8, 4])
IMAGES = [[0]] * 20 + [[1]] * 6 + [[2, 0]] * 3 + [[]] * 2
WEIGHTS = np.arange(1.0, 31.0)

MAKERS = {
    "class_balanced": lambda **kw: ClassBalancedSampler(LABELS, num_samples=50, **kw),
    "class_aware": lambda **kw: ClassBalancedSampler(
        LABELS, num_samples=50, replacement=False, **kw
    ),
    "progressive": lambda **kw: ProgressivelyBalancedSampler(
        LABELS, total_epochs=3, num_samples=50, **kw
    ),
    "weighted": lambda **kw: WeightedSampler(WEIGHTS, 40, **kw),
    "weighted_no_replacement": lambda **kw: WeightedSampler(WEIGHTS, 20, False, **kw),
    "repeat_factor": lambda **kw: RepeatFactorSampler(IMAGES, threshold=0.5, **kw),
    "m_per_class": lambda **kw: MPerClassSampler(LABELS, m=2, batch_size=4, length=12, **kw),
}
NAMES = sorted(MAKERS)


def flat(items):
    """A pass (indices, or batches of indices) as a flat int64 array."""
    return np.asarray(list(items), dtype=np.int64).reshape(-1)


def epoch_indices(name, epoch, **kw):
    s = MAKERS[name](**kw)
    s.set_epoch(epoch)
    return s.indices()


# ------------------------------------------------------------------ torch drop-in


def test_weighted_sampler_takes_torch_positional_arguments():
    ours = list(inspect.signature(WeightedSampler).parameters.values())
    torchs = list(inspect.signature(WeightedRandomSampler).parameters.values())
    assert [p.name for p in ours[:3]] == [p.name for p in torchs[:3]]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in ours[:3])
    assert all(p.kind is p.KEYWORD_ONLY for p in ours[3:])
    s = WeightedSampler([1.0, 2.0, 3.0, 4.0], 4, False)
    assert s.replacement is False
    assert sorted(s) == [0, 1, 2, 3]  # without replacement: a permutation
    t = WeightedRandomSampler([1.0, 2.0, 3.0, 4.0], 4, False)
    assert sorted(t) == [0, 1, 2, 3]
    with_repl = WeightedSampler([1.0, 2.0], 50, True, seed=1)
    assert with_repl.replacement is True and len(set(with_repl.indices().tolist())) == 2
    with pytest.raises(TypeError):
        WeightedSampler([1.0, 2.0], 2, True, 0)  # the rest is keyword-only


# ------------------------------------------------------------------ generator=


@pytest.mark.parametrize("name", NAMES)
def test_generator_fixes_the_stream_like_its_seed(name):
    g = torch.Generator().manual_seed(1234)
    before = g.get_state().clone()
    a = flat(MAKERS[name](generator=g))
    assert torch.equal(g.get_state(), before)  # the generator is not advanced
    assert MAKERS[name](generator=g).seed == 1234
    assert np.array_equal(a, flat(MAKERS[name](seed=1234)))
    assert np.array_equal(a, flat(MAKERS[name](generator=torch.Generator().manual_seed(1234))))
    other = flat(MAKERS[name](generator=torch.Generator().manual_seed(99)))
    assert not np.array_equal(a, other)


@pytest.mark.parametrize("name", NAMES)
def test_generator_and_seed_together_or_wrong_type(name):
    g = torch.Generator().manual_seed(3)
    with pytest.raises(ValueError, match="generator: give seed= or generator="):
        MAKERS[name](seed=7, generator=g)
    with pytest.raises(TypeError, match="generator: expected a torch.Generator"):
        MAKERS[name](generator=3)
    # seed=0 is the default: it leaves the generator in charge
    assert MAKERS[name](seed=0, generator=g).seed == 3


def test_replay_buffer_generator():
    def run(**kw):
        buf = BalancedReplayBuffer(6, **kw)
        buf.add(range(40), [0] * 30 + [1] * 7 + [2] * 3)
        return buf.indices, buf.sample(4)

    a = run(generator=torch.Generator().manual_seed(11))
    b = run(seed=11)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    c = run(seed=12)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    with pytest.raises(ValueError, match="generator"):
        BalancedReplayBuffer(3, seed=1, generator=torch.Generator())
    with pytest.raises(TypeError, match="generator"):
        BalancedReplayBuffer(3, generator=np.random.default_rng(0))


# ------------------------------------------------------------------ epochs


@pytest.mark.parametrize("name", NAMES)
def test_every_pass_draws_the_next_epoch_until_set_epoch(name):
    s = MAKERS[name](seed=5)
    assert s.epoch == 0 and not s.epoch_pinned
    assert np.array_equal(s.indices(), epoch_indices(name, 0, seed=5))  # before any pass
    passes = []
    for e in range(4):
        passes.append(flat(s))
        assert s.epoch == e
        # the pass is epoch e of the stream, as set_epoch(e) would give
        assert np.array_equal(passes[-1], epoch_indices(name, e, seed=5))
        assert np.array_equal(s.indices(), passes[-1])  # indices() does not advance
    assert all(not np.array_equal(passes[0], p) for p in passes[1:])


@pytest.mark.parametrize("name", NAMES)
def test_set_epoch_pins_the_epoch(name):
    s = MAKERS[name](seed=6)
    flat(s)  # an unpinned pass first: epoch 0
    s.set_epoch(3)
    assert s.epoch_pinned
    want = epoch_indices(name, 3, seed=6)
    for _ in range(3):
        assert np.array_equal(flat(s), want)
        assert s.epoch == 3
    s.set_epoch(1)
    assert np.array_equal(flat(s), epoch_indices(name, 1, seed=6))


def test_dataloader_passes_draw_fresh_epochs_and_match_set_epoch_every_epoch():
    # The usual loop without set_epoch gives the same epochs as calling set_epoch(epoch).
    auto = ClassBalancedSampler(LABELS, seed=2)
    pinned = ClassBalancedSampler(LABELS, seed=2)
    data = list(range(len(LABELS)))
    seen = []
    for epoch in range(3):
        pinned.set_epoch(epoch)
        a = torch.cat(list(DataLoader(data, batch_size=16, sampler=auto))).tolist()
        b = torch.cat(list(DataLoader(data, batch_size=16, sampler=pinned))).tolist()
        assert a == b
        seen.append(a)
    assert seen[0] != seen[1] != seen[2]
    # WeightedSampler behaves as WeightedRandomSampler here: a new draw every pass.
    w = WeightedSampler(WEIGHTS, 30, seed=0)
    assert list(DataLoader(data[:30], sampler=w)) != list(DataLoader(data[:30], sampler=w))


def test_progressive_schedule_advances_with_the_passes():
    s = ProgressivelyBalancedSampler(LABELS, total_epochs=2, seed=0)
    probs = []
    for _ in range(3):
        list(s)
        probs.append(s.class_probs.tolist())
    assert probs[0] != probs[1] and probs[1] != probs[2]
    assert np.allclose(probs[2], 0.25)  # epoch 2 = total_epochs: class-balanced


# ------------------------------------------------------------------ state_dict


def take(it, k):
    return [next(it) for _ in range(k)]


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_mid_epoch_unpinned(name):
    s = MAKERS[name](seed=8)
    flat(s)  # epoch 0 done
    it = iter(s)  # epoch 1
    head = take(it, 3)
    state = s.state_dict()
    assert state == {"epoch": 1, "seed": 8, "yielded": 3, "pinned": False}
    r = MAKERS[name]()  # another seed: the state brings it back
    r.load_state_dict(state)
    assert r.state_dict() == state
    assert np.array_equal(flat(head + list(r)), epoch_indices(name, 1, seed=8))
    assert r.epoch == 1
    # then it moves on as the saved sampler would have
    assert np.array_equal(flat(r), epoch_indices(name, 2, seed=8))
    list(it)
    assert np.array_equal(flat(s), epoch_indices(name, 2, seed=8))


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_mid_epoch_pinned(name):
    s = MAKERS[name](seed=9)
    s.set_epoch(4)
    it = iter(s)
    head = take(it, 2)
    state = s.state_dict()
    assert state == {"epoch": 4, "seed": 9, "yielded": 2, "pinned": True}
    r = MAKERS[name](seed=9)
    r.load_state_dict(state)
    full = epoch_indices(name, 4, seed=9)
    assert np.array_equal(flat(head + list(r)), full)
    assert np.array_equal(flat(r), full)  # pinned: the next pass repeats epoch 4


@pytest.mark.parametrize("name", ["class_balanced", "m_per_class"])
def test_set_epoch_after_load_keeps_the_resume_of_that_epoch(name):
    """The checkpoint loop: load_state_dict, then set_epoch(epoch) at the top of the loop."""
    s = MAKERS[name](seed=1)
    s.set_epoch(2)
    it = iter(s)
    head = take(it, 5)
    state = s.state_dict()
    r = MAKERS[name](seed=1)
    r.load_state_dict(state)
    r.set_epoch(2)
    assert np.array_equal(flat(head + list(r)), epoch_indices(name, 2, seed=1))
    q = MAKERS[name](seed=1)
    q.load_state_dict(state)
    q.set_epoch(3)  # another epoch: the position is dropped
    assert np.array_equal(flat(q), epoch_indices(name, 3, seed=1))


def test_state_without_pinned_counts_as_pinned_and_bad_pinned():
    s = ClassBalancedSampler(LABELS, seed=0)
    s.load_state_dict({"epoch": 2, "seed": 4, "yielded": 0})
    assert s.epoch_pinned
    assert np.array_equal(flat(s), flat(s))
    with pytest.raises(TypeError, match=r"state\['pinned'\]"):
        s.load_state_dict({"epoch": 2, "seed": 4, "yielded": 0, "pinned": "yes"})
    with pytest.raises(ValueError, match="state"):
        s.load_state_dict([1, 2, 3])


# ------------------------------------------------------------------ DDP


@pytest.mark.parametrize("name", NAMES)
def test_two_ranks_advance_identically(name):
    """Without set_epoch, both ranks draw the same epoch on every pass (no process group)."""
    ranks = [MAKERS[name](seed=3, num_replicas=2, rank=r) for r in range(2)]
    for e in range(3):
        parts = [flat(s) for s in ranks]
        assert [s.epoch for s in ranks] == [e, e]
        for r, part in enumerate(parts):
            assert np.array_equal(part, epoch_indices(name, e, seed=3, num_replicas=2, rank=r))
        if name in ("class_balanced", "weighted"):
            # together the ranks make up that epoch's global stream
            whole = epoch_indices(name, e, seed=3)
            assert np.array_equal(np.ravel(np.column_stack(parts)), whole)
        if name == "m_per_class":
            whole = MAKERS[name](seed=3)
            whole.set_epoch(e)
            b = whole.batches()
            assert np.array_equal(parts[0], b[0::2].ravel())
            assert np.array_equal(parts[1], b[1::2].ravel())
