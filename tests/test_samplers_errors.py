"""Bad input raises ValueError/TypeError naming the argument: never a panic or a hang."""

import numpy as np
import pytest
import torch

from longtail import _core
from longtail.samplers import (
    BalancedReplayBuffer,
    ClassBalancedSampler,
    MPerClassSampler,
    ProgressivelyBalancedSampler,
    RepeatFactorSampler,
    WeightedSampler,
)

LABELS = [0, 0, 1, 1, 2, 2, 2]


@pytest.mark.parametrize(
    "labels, err, match",
    [
        ([], ValueError, "labels: must not be empty"),
        (np.zeros((2, 3), dtype=int), ValueError, "labels: expected a 1-D"),
        ([0.5, 1.0], ValueError, "labels: class ids must be integers"),
        ([0.0, np.nan], ValueError, "labels: contains NaN"),
        (["a", "b"], TypeError, "labels"),
        (torch.zeros(2, 2), ValueError, "labels"),
    ],
)
@pytest.mark.parametrize(
    "make",
    [
        lambda y: ClassBalancedSampler(y),
        lambda y: ProgressivelyBalancedSampler(y, total_epochs=3),
        lambda y: MPerClassSampler(y, m=1, batch_size=1),
    ],
)
def test_bad_labels(make, labels, err, match):
    with pytest.raises(err, match=match):
        make(labels)


def test_dataset_without_labels_says_how_to_pass_them():
    class Plain(torch.utils.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            raise AssertionError("the dataset must never be iterated")

    with pytest.raises(TypeError, match="labels: .*targets.*label_column"):
        ClassBalancedSampler(Plain())


@pytest.mark.parametrize(
    "weights, err, match",
    [
        ([1.0, np.nan], ValueError, "weights: must be finite and non-negative"),
        ([1.0, np.inf], ValueError, "weights: must be finite and non-negative"),
        ([1.0, -1.0], ValueError, "weights: must be finite and non-negative"),
        ([0.0, 0.0], ValueError, "weights: must have a positive"),
        ([1e308, 1e308], ValueError, "weights: must have a positive, finite sum"),
        ([], ValueError, "weights: must not be empty"),
        ([[1.0, 2.0]], ValueError, "weights: expected a 1-D"),
        (["x"], TypeError, "weights"),
    ],
)
@pytest.mark.parametrize("replacement", [True, False])
def test_bad_weights(weights, err, match, replacement):
    if replacement is False and weights == [1e308, 1e308]:
        match = "weights"  # no sum is needed without replacement: keys are per item
        WeightedSampler(weights, 1, replacement=False).indices()
        return
    with pytest.raises(err, match=match):
        WeightedSampler(weights, 1, replacement=replacement)


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(num_samples=-1), ValueError, "num_samples: must be >= 0"),
        (dict(num_samples=2.5), TypeError, "num_samples"),
        (dict(num_replicas=2, rank=2), ValueError, "rank"),
        (dict(num_replicas=2, rank=-1), ValueError, "rank"),
        (dict(num_replicas=0, rank=0), ValueError, "num_replicas"),
        (dict(power=float("nan")), ValueError, "power"),
        (dict(power="x"), TypeError, "power"),
        (dict(power=-1e6), ValueError, "power"),
        (dict(replacement=None), TypeError, "replacement"),
        (dict(seed=1.5), TypeError, "seed"),
        (dict(drop_last="yes"), TypeError, "drop_last"),
    ],
)
def test_bad_class_balanced_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        ClassBalancedSampler(LABELS, **kwargs)


def test_bad_epoch_and_weighted_counts():
    s = ClassBalancedSampler(LABELS)
    with pytest.raises(ValueError, match="epoch"):
        s.set_epoch(-1)
    with pytest.raises(ValueError, match="num_samples"):
        WeightedSampler([1.0], 0)
    with pytest.raises(ValueError, match="num_samples"):
        WeightedSampler([1.0], -1)
    with pytest.raises(ValueError, match="rank"):
        WeightedSampler([1.0], 1, num_replicas=1, rank=1)
    with pytest.raises(ValueError, match="total_epochs"):
        ProgressivelyBalancedSampler(LABELS, total_epochs=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(m=4, batch_size=2), "m: m=4 is larger than batch_size=2"),
        (dict(m=2, batch_size=5), "batch_size: batch_size=5 must be a multiple of m=2"),
        (dict(m=1, batch_size=4), "batch_size: batch_size / m = 4 classes per batch"),
        (dict(m=0, batch_size=4), "m: must be >= 1"),
        (dict(m=1, batch_size=2, length=-1), "length"),
        (dict(m=1, batch_size=2, num_replicas=2, rank=5), "rank"),
    ],
)
def test_bad_m_per_class_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MPerClassSampler(LABELS, **kwargs)


@pytest.mark.parametrize(
    "labels, kwargs, err, match",
    [
        ([], {}, ValueError, "labels"),
        ([[0], "ab"], {}, TypeError, "labels"),
        ([[0.5], [1]], {}, ValueError, "labels"),
        ([[0], [1]], dict(threshold=0), ValueError, "threshold"),
        ([[0], [1]], dict(threshold=float("nan")), ValueError, "threshold"),
        ([[0], [1]], dict(threshold="x"), TypeError, "threshold"),
        ([[0], [1]], dict(num_replicas=1, rank=1), ValueError, "rank"),
        (np.zeros((2, 2), dtype=int), {}, ValueError, "labels"),
    ],
)
def test_bad_repeat_factor_arguments(labels, kwargs, err, match):
    with pytest.raises(err, match=match):
        RepeatFactorSampler(labels, **kwargs)


def test_bad_replay_buffer_arguments():
    with pytest.raises(ValueError, match="capacity"):
        BalancedReplayBuffer(0)
    buf = BalancedReplayBuffer(3)
    with pytest.raises(ValueError, match="n: the buffer is empty"):
        buf.sample(1)
    with pytest.raises(ValueError, match="labels: expected one label per index"):
        buf.add([1, 2], [0])
    with pytest.raises(ValueError, match="labels"):
        buf.add([1], [0.5])
    buf.add([1, 2], [0, 1])
    with pytest.raises(ValueError, match="n: only 2 examples stored"):
        buf.sample(3)


def test_kernels_check_their_inputs_too():
    """The compiled functions never trust their callers: errors, not panics."""
    cls, off, order = _core.group_labels(np.array([0, 1, 1], dtype=np.int64))
    bad_offsets = np.array([0, 5, 3], dtype=np.int64)
    with pytest.raises(ValueError, match="offsets"):
        _core.class_first_indices(order, bad_offsets, np.ones(2), 5, True, 0, 0, 0, 1)
    with pytest.raises(ValueError, match="class_probs"):
        _core.class_first_indices(order, off, np.ones(3), 5, True, 0, 0, 0, 1)
    with pytest.raises(ValueError, match="class_probs"):
        _core.class_first_indices(order, off, np.array([1.0, -1.0]), 5, True, 0, 0, 0, 1)
    prob, alias = _core.alias_table(np.ones(3))
    with pytest.raises(ValueError, match="alias"):
        _core.weighted_indices(prob, np.array([0, 1, 7], dtype=np.uint32), 5, 0, 0, 0, 1)
    with pytest.raises(ValueError, match="repeat_factors"):
        _core.repeat_factor_indices(np.array([1.0, -2.0]), 0, 0, 0, 1, False)
    with pytest.raises(ValueError, match="labels"):
        _core.group_labels(np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match="m"):
        _core.m_per_class_indices(order, off, 0, 2, 1, 0, 0, 0, 1)
