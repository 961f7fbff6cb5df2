"""long_tailed_indices and test_distribution_indices (CIFAR-LT, SADE), federated splits
(Dirichlet, McMahan shards) and blurry continual streams (i-Blurry)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
        (dict(imbalance_ratio=10, profile="cubic"), ValueError, "profile"),
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


# --------------------------------------------------------------------------------------
# linear / zipf profiles, explicit counts
# --------------------------------------------------------------------------------------

PROPS = settings(max_examples=40, deadline=None, derandomize=True)


def ref_profile(profile, n_max, c, ratio):
    n_min = n_max / ratio
    if c == 1:
        return [n_max]
    if profile == "linear":
        return [math.floor(n_max - i * (n_max - n_min) / (c - 1) + 1e-9) for i in range(c)]
    a = math.log(ratio) / math.log(c)
    return [math.floor(n_max / (i + 1) ** a + 1e-9) for i in range(c)]


@PROPS
@given(st.sampled_from(["linear", "zipf"]), st.integers(1, 12), st.integers(1, 80),
       st.floats(1.0, 100.0), st.integers(0, 2**32))
def test_linear_and_zipf_profiles_follow_the_formulas(profile, c, n_max, ratio, seed):
    y = np.repeat(np.arange(c), n_max)
    np.random.default_rng(seed).shuffle(y)
    idx = datasets.long_tailed_indices(y, imbalance_ratio=ratio, profile=profile, seed=seed)
    assert np.bincount(y[idx], minlength=c).tolist() == ref_profile(profile, n_max, c, ratio)
    assert np.array_equal(idx, np.unique(idx))


def test_profiles_at_the_ends():
    # the first class keeps n_max, the last n_max / IF, as the exponential profile does
    for profile in ("linear", "zipf"):
        idx = datasets.long_tailed_indices(BALANCED, imbalance_ratio=100, profile=profile)
        got = per_class(idx)
        assert got[0] == 500 and got[-1] == 5
        assert all(a >= b for a, b in zip(got, got[1:]))
    # IF = 1 keeps everything
    idx = datasets.long_tailed_indices(BALANCED, imbalance_ratio=1, profile="zipf")
    assert idx.size == BALANCED.size


def test_explicit_counts():
    want = [0, 1, 500, 7, 3, 3, 3, 3, 3, 499]
    idx = datasets.long_tailed_indices(BALANCED, counts=want, seed=2)
    assert per_class(idx) == want
    same = datasets.long_tailed_indices(BALANCED, counts=np.array(want), seed=2)
    assert np.array_equal(idx, same)
    with pytest.raises(ValueError, match="counts"):
        datasets.long_tailed_indices(BALANCED, counts=[501] + [1] * 9)
    with pytest.raises(ValueError, match="counts"):
        datasets.long_tailed_indices(BALANCED, counts=[1] * 9)
    with pytest.raises(ValueError, match="counts"):
        datasets.long_tailed_indices(BALANCED, counts=[-1] + [1] * 9)
    with pytest.raises(ValueError, match="counts"):
        datasets.long_tailed_indices(BALANCED, counts=[1.5] + [1] * 9)
    with pytest.raises(ValueError, match="imbalance_ratio"):
        datasets.long_tailed_indices(BALANCED, imbalance_ratio=10, counts=[1] * 10)
    with pytest.raises(TypeError, match="imbalance_ratio"):
        datasets.long_tailed_indices(BALANCED)


# --------------------------------------------------------------------------------------
# federated partitions
# --------------------------------------------------------------------------------------


def labels_strategy():
    return st.lists(st.integers(0, 7), min_size=1, max_size=200).map(np.array)


def assert_partition(parts, n):
    allidx = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    assert allidx.dtype == np.int64
    assert np.array_equal(np.sort(allidx), np.arange(n))  # disjoint and covering


@PROPS
@given(labels_strategy(), st.integers(1, 9), st.floats(0.05, 50.0), st.integers(0, 2**32))
def test_dirichlet_partition_is_a_partition_and_deterministic(y, k, alpha, seed):
    parts = datasets.dirichlet_partition(y, k, alpha=alpha, seed=seed)
    assert len(parts) == k
    assert_partition(parts, y.size)
    again = datasets.dirichlet_partition(y, k, alpha=alpha, seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))


@PROPS
@given(labels_strategy(), st.integers(1, 6), st.integers(0, 2**32))
def test_dirichlet_min_size(y, k, seed):
    min_size = y.size // (3 * k)
    parts = datasets.dirichlet_partition(y, k, alpha=1.0, min_size=min_size, seed=seed)
    assert min(p.size for p in parts) >= min_size
    assert_partition(parts, y.size)


def test_dirichlet_alpha_controls_the_skew():
    y = np.repeat(np.arange(10), 200)

    def classes_seen(alpha):
        parts = datasets.dirichlet_partition(y, 10, alpha=alpha, seed=0)
        # classes holding at least 5% of a client's rows
        return np.mean([(np.bincount(y[p], minlength=10) > 0.05 * p.size).sum()
                        for p in parts])

    assert classes_seen(0.05) < 4 < 9 < classes_seen(100.0)


@PROPS
@given(labels_strategy(), st.integers(1, 8), st.integers(1, 4), st.integers(0, 2**32))
def test_shard_partition_respects_classes_per_client(y, k, s, seed):
    c = np.unique(y).size
    if k * s < c or k * s > y.size:
        with pytest.raises(ValueError):
            datasets.shard_partition(y, k, classes_per_client=s, seed=seed)
        return
    parts = datasets.shard_partition(y, k, classes_per_client=s, seed=seed)
    assert len(parts) == k
    assert_partition(parts, y.size)
    for p in parts:
        assert p.size > 0 and np.unique(y[p]).size <= s
    again = datasets.shard_partition(y, k, classes_per_client=s, seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))


def test_shard_partition_is_mcmahan_on_balanced_data():
    y = np.repeat(np.arange(10), 60)
    parts = datasets.shard_partition(y, 10, classes_per_client=2, seed=3)
    # 20 shards of 30 rows, never across a class: each client gets 2 x 30 rows
    assert [p.size for p in parts] == [60] * 10
    for p in parts:
        counts = np.bincount(y[p], minlength=10)
        assert sorted(counts[counts > 0].tolist()) in ([30, 30], [60])


def test_partition_errors():
    y = np.repeat(np.arange(4), 5)
    with pytest.raises(ValueError, match="alpha"):
        datasets.dirichlet_partition(y, 2, alpha=0)
    with pytest.raises(ValueError, match="num_clients"):
        datasets.dirichlet_partition(y, 0, alpha=1.0)
    with pytest.raises(ValueError, match="min_size"):
        datasets.dirichlet_partition(y, 3, alpha=1.0, min_size=7)
    with pytest.raises(ValueError, match="classes_per_client"):
        datasets.shard_partition(y, 1, classes_per_client=3)
    with pytest.raises(ValueError, match="classes_per_client"):
        datasets.shard_partition(y, 2, classes_per_client=0)
    with pytest.raises(ValueError, match="num_clients"):
        datasets.shard_partition(y, 11, classes_per_client=2)
    with pytest.raises(TypeError, match="seed"):
        datasets.shard_partition(y, 2, classes_per_client=2, seed="x")


# --------------------------------------------------------------------------------------
# blurry continual stream
# --------------------------------------------------------------------------------------


@PROPS
@given(labels_strategy(), st.integers(1, 5), st.floats(0, 1), st.floats(0, 1),
       st.integers(0, 2**32))
def test_blurry_stream_properties(y, t, dfrac, bfrac, seed):
    tasks, info = datasets.blurry_stream(y, t, disjoint_fraction=dfrac, blurry_fraction=bfrac,
                                         seed=seed, return_classes=True)
    assert len(tasks) == t
    assert_partition(tasks, y.size)
    classes = np.unique(y)
    assert np.array_equal(info["classes"], classes)
    assert info["disjoint"].sum() == round(dfrac * classes.size)
    for c, home, disjoint in zip(classes, info["home_task"], info["disjoint"]):
        per = [int((y[task] == c).sum()) for task in tasks]
        n_c = sum(per)
        if disjoint or t == 1:
            assert per[home] == n_c  # a disjoint class appears in one task only
        else:
            assert per[home] == n_c - round(bfrac * n_c)
    # each kind is dealt out evenly over the tasks
    for kind in (True, False):
        load = np.bincount(info["home_task"][info["disjoint"] == kind], minlength=t)
        assert load.max() - load.min() <= 1
    again = datasets.blurry_stream(y, t, disjoint_fraction=dfrac, blurry_fraction=bfrac,
                                   seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip(tasks, again))


def test_blurry_stream_exact_counts():
    y = np.repeat(np.arange(10), 100)
    tasks = datasets.blurry_stream(y, 5, disjoint_fraction=0.4, blurry_fraction=0.1, seed=1)
    per = np.array([np.bincount(y[task], minlength=10) for task in tasks])  # (task, class)
    tasks_per_class = (per > 0).sum(0)
    disjoint = np.flatnonzero(tasks_per_class == 1)
    blurry = np.flatnonzero(tasks_per_class > 1)
    assert disjoint.size == 4 and blurry.size == 6
    assert (per[:, blurry].max(0) == 90).all()  # 10 of 100 rows left the home task
    # every task holds some classes of each kind (dealt out evenly)
    homes = per.argmax(0)
    assert sorted(np.bincount(homes[disjoint], minlength=5).tolist()) == [0, 1, 1, 1, 1]
    assert sorted(np.bincount(homes[blurry], minlength=5).tolist()) == [1, 1, 1, 1, 2]
    with pytest.raises(ValueError, match="disjoint_fraction"):
        datasets.blurry_stream(y, 2, disjoint_fraction=1.5, blurry_fraction=0.1)
    with pytest.raises(ValueError, match="blurry_fraction"):
        datasets.blurry_stream(y, 2, disjoint_fraction=0.5, blurry_fraction=-0.1)
    with pytest.raises(ValueError, match="num_tasks"):
        datasets.blurry_stream(y, 0, disjoint_fraction=0.5, blurry_fraction=0.1)
