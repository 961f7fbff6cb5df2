"""long_tailed_indices and test_distribution_indices (CIFAR-LT, SADE)."""

import numpy as np
import pytest

from longtail import datasets

# Imported as a module: pytest would otherwise collect test_distribution_indices.
BALANCED = np.repeat(np.arange(10) * 2 + 5, 500)  # CIFAR-10-like, ids 5, 7, ..., 23
np.random.default_rng(0).shuffle(BALANCED)


def per_class(idx, labels=BALANCED):
    return [(labels[idx] == c).sum() for c in np.unique(labels)]


@pytest.mark.parametrize("ratio", [1, 10, 100])
def test_exp_profile_matches_cifar_lt(ratio):
    idx = datasets.long_tailed_indices(BALANCED, imbalance_ratio=ratio, seed=1)
    # Cao et al. 2019 (LDAM) CIFAR-10-LT counts: int(500 * (1/IF)**(i / 9)).
    want = [int(500 * (1 / ratio) ** (i / 9)) for i in range(10)]
    assert per_class(idx) == want
    assert np.array_equal(idx, np.unique(idx)) and idx.dtype == np.int64
    if ratio == 100:
        assert want[0] == 500 and want[-1] == 5


def test_step_profile():
    idx = datasets.long_tailed_indices(BALANCED, imbalance_ratio=10, profile="step")
    assert per_class(idx) == [500] * 5 + [50] * 5


def test_subset_is_random_but_seeded():
    a = datasets.long_tailed_indices(BALANCED, imbalance_ratio=10, seed=1)
    b = datasets.long_tailed_indices(BALANCED, imbalance_ratio=10, seed=1)
    c = datasets.long_tailed_indices(BALANCED, imbalance_ratio=10, seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # Not simply the first examples of each class.
    tail = BALANCED == 23
    first = np.flatnonzero(tail)[:5]
    assert not np.array_equal(a[BALANCED[a] == 23], first)


def test_class_keeps_at_most_what_it_has():
    y = np.repeat([0, 1, 2], [100, 3, 100])
    idx = datasets.long_tailed_indices(y, imbalance_ratio=2)
    assert per_class(idx, y) == [100, 3, 50]


@pytest.mark.parametrize(
    "direction, want",
    [
        ("forward", [int(500 * 0.02 ** (i / 9)) for i in range(10)]),
        ("backward", [int(500 * 0.02 ** (i / 9)) for i in range(10)][::-1]),
        ("uniform", [500] * 10),
    ],
)
def test_test_distributions(direction, want):
    idx = datasets.test_distribution_indices(BALANCED, imbalance_ratio=50, direction=direction)
    assert per_class(idx) == want


def test_uniform_uses_smallest_class():
    y = np.repeat([0, 1], [30, 10])
    idx = datasets.test_distribution_indices(y, imbalance_ratio=5, direction="uniform")
    assert per_class(idx, y) == [10, 10]


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(imbalance_ratio=0.5), ValueError, "imbalance_ratio"),
        (dict(imbalance_ratio=float("inf")), ValueError, "imbalance_ratio"),
        (dict(imbalance_ratio="10"), TypeError, "imbalance_ratio"),
        (dict(imbalance_ratio=10, profile="linear"), ValueError, "profile"),
        (dict(imbalance_ratio=10, seed=0.5), TypeError, "seed"),
    ],
)
def test_long_tailed_errors(kwargs, err, match):
    with pytest.raises(err, match=match):
        datasets.long_tailed_indices(BALANCED, **kwargs)


def test_test_distribution_errors():
    with pytest.raises(ValueError, match="direction"):
        datasets.test_distribution_indices(BALANCED, imbalance_ratio=10, direction="sideways")
    with pytest.raises(ValueError, match="labels"):
        datasets.test_distribution_indices([], imbalance_ratio=10)
    with pytest.raises(ValueError, match="labels"):
        datasets.long_tailed_indices([[0, 1]], imbalance_ratio=10)


def test_dataset_with_targets():
    class TV:
        targets = BALANCED.tolist()

    a = datasets.long_tailed_indices(TV(), imbalance_ratio=10)
    assert np.array_equal(a, datasets.long_tailed_indices(BALANCED, imbalance_ratio=10))
