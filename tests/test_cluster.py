"""longtail.cluster: KMeans against scikit-learn, determinism, balanced clusters,
subclass labels (SBCL), equal-frequency bins and argument checking."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans as SkKMeans
from sklearn.datasets import make_blobs

import longtail
from longtail import _core
from longtail.cluster import KMeans, equal_frequency_bins, subclass_labels


def _blobs(n=2000, d=8, centers=10, seed=0):
    return make_blobs(n, d, centers=centers, cluster_std=1.5, random_state=seed)[0]


def _random(n=2000, d=8, seed=0):
    return np.random.default_rng(seed).random((n, d))


def _brute_labels(X, C):
    d2 = ((X[:, None, :].astype(np.float64) - C[None, :, :]) ** 2).sum(-1)
    return d2.argmin(1), d2.min(1)


# --- quality against scikit-learn -------------------------------------------------


@pytest.mark.parametrize("data", ["blobs", "random"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("max_iter", [5, 100])
def test_inertia_within_one_percent_of_sklearn(data, dtype, max_iter):
    X = (_blobs() if data == "blobs" else _random()).astype(dtype)
    k = 10 if data == "blobs" else 16
    # Mean over a few seeds on both sides: single runs of k-means on uniform noise
    # differ by a fraction of a percent from seed to seed.
    ours = np.mean([KMeans(k, seed=s, max_iter=max_iter).fit(X).inertia_ for s in range(4)])
    ref = np.mean(
        [SkKMeans(k, n_init=1, max_iter=max_iter, random_state=s).fit(X).inertia_ for s in range(4)]
    )
    assert ours <= 1.01 * ref, (ours, ref)


@pytest.mark.parametrize("init_size", [None, 2000])
def test_sampled_seeding_keeps_sklearn_quality(init_size):
    # 40k rows: the default seeds on a sample of max(128 k, 16384) rows, init_size=2000
    # on 2000; Lloyd's iterations run on all rows either way.
    X = make_blobs(40_000, 16, centers=30, cluster_std=3.0, random_state=1)[0]
    ours = np.mean(
        [KMeans(30, seed=s, max_iter=20, init_size=init_size).fit(X).inertia_ for s in range(3)]
    )
    ref = np.mean(
        [SkKMeans(30, n_init=1, max_iter=20, random_state=s).fit(X).inertia_ for s in range(3)]
    )
    assert ours <= 1.01 * ref, (ours, ref)


def test_init_size_at_least_n_seeds_on_all_rows():
    X = _random(3000, 5)
    full = KMeans(12, seed=4, max_iter=1, init_size=3000).fit(X)
    assert np.array_equal(
        full.cluster_centers_,
        KMeans(12, seed=4, max_iter=1, init_size=10**9).fit(X).cluster_centers_,
    )
    # below the default threshold the default is all rows too
    assert np.array_equal(
        full.cluster_centers_, KMeans(12, seed=4, max_iter=1).fit(X).cluster_centers_
    )
    # a sample gives other seeds (same seed, different rows)
    part = KMeans(12, seed=4, max_iter=1, init_size=100).fit(X)
    assert not np.array_equal(full.cluster_centers_, part.cluster_centers_)
    # every seed of a sampled run is a row of X
    C0 = _core.kmeans_init(X, _core.kmeans_row_norms(X), 12, "k-means++", 4, 0, init_size=100)
    assert all((X == c).all(1).any() for c in C0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("data", ["blobs", "random"])
def test_bounded_lloyd_follows_plain_lloyd(dtype, data):
    # Hamerly's bounds only skip work: every iteration must give the labels and
    # centres of a plain Lloyd step (full assignment, then means).
    X = (_blobs(3000, 6, 12) if data == "blobs" else _random(3000, 6)).astype(dtype)
    xn = _core.kmeans_row_norms(X)
    C = np.ascontiguousarray(X[:: 3000 // 15][:15])
    run = _core.LloydRun(C)
    skipped = 0
    for _ in range(25):
        C_next, labels, _, shift, _ = _core.kmeans_step(X, xn, C)
        shift_b, _ = run.step(X, xn)
        skipped += len(X) - run.recomputed()
        assert np.array_equal(run.labels(), labels)
        np.testing.assert_allclose(
            run.centers(), C_next, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6
        )
        C = run.centers()
    assert skipped > 10 * len(X)  # the bounds did skip rows


def test_n_init_keeps_the_best_run():
    X = _random(800, 4)
    runs = [KMeans(12, seed=3, n_init=1).fit(X)]
    best = KMeans(12, seed=3, n_init=4).fit(X)
    assert best.inertia_ <= runs[0].inertia_ + 1e-9
    assert KMeans(12, seed=3, n_init=1).fit(X).inertia_ == runs[0].inertia_


def test_blobs_are_recovered():
    X, y = make_blobs(1500, 5, centers=6, cluster_std=0.3, random_state=1)
    km = KMeans(6, seed=0).fit(X)
    # every true blob maps to exactly one cluster
    for c in range(6):
        assert len(np.unique(km.labels_[y == c])) == 1
    assert len(np.unique(km.labels_)) == 6


def test_attributes_labels_and_inertia_are_consistent():
    X = _random(700, 3)
    km = KMeans(9, seed=1).fit(X)
    assert km.cluster_centers_.shape == (9, 3)
    assert km.labels_.dtype == np.int64 and km.labels_.shape == (700,)
    labels, d2 = _brute_labels(X, km.cluster_centers_)
    np.testing.assert_array_equal(km.labels_, labels)
    assert km.inertia_ == pytest.approx(d2.sum(), rel=1e-10)
    assert 1 <= km.n_iter_ <= 300
    assert km.n_features_in_ == 3
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    np.testing.assert_array_equal(km.fit_predict(X), km.labels_)
    assert km.score(X) == pytest.approx(-km.inertia_)
    np.testing.assert_allclose(
        km.transform(X[:5]) ** 2, ((X[:5, None] - km.cluster_centers_) ** 2).sum(-1)
    )


def test_predict_is_the_nearest_centre():
    X = _random(500, 6)
    km = KMeans(7, seed=2).fit(X)
    Z = np.random.default_rng(5).normal(size=(300, 6))
    np.testing.assert_array_equal(km.predict(Z), _brute_labels(Z, km.cluster_centers_)[0])


def test_max_iter_and_tol():
    X = _random(2000, 5)
    km = KMeans(20, seed=0, max_iter=3, tol=0.0).fit(X)
    assert km.n_iter_ == 3
    loose = KMeans(20, seed=0, tol=10.0).fit(X)
    assert loose.n_iter_ == 1


def test_float32_stays_float32_and_matches_float64():
    X = _blobs(1000, 6, 5)
    a = KMeans(5, seed=0).fit(X.astype(np.float32))
    b = KMeans(5, seed=0).fit(X)
    assert a.cluster_centers_.dtype == np.float32
    assert b.cluster_centers_.dtype == np.float64
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-4)
    # integer data becomes float64, as in scikit-learn
    assert KMeans(2).fit(np.arange(10).reshape(5, 2)).cluster_centers_.dtype == np.float64


def test_torch_and_list_inputs():
    X = _random(300, 3).astype(np.float32)
    a = KMeans(4, seed=1).fit(torch.from_numpy(X))
    b = KMeans(4, seed=1).fit(X.tolist())
    np.testing.assert_array_equal(a.labels_, KMeans(4, seed=1).fit(X).labels_)
    assert b.labels_.shape == (300,)


def test_init_random_and_array():
    X = _blobs(600, 4, 3)
    km = KMeans(3, init="random", seed=4).fit(X)
    assert len(np.unique(km.labels_)) == 3
    start = X[[0, 1, 2]].copy()
    a = KMeans(3, init=start).fit(X)
    b = KMeans(3, init=start, seed=99, n_init=3).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    with pytest.raises(ValueError, match="init"):
        KMeans(3, init=start[:2]).fit(X)
    with pytest.raises(ValueError, match="init"):
        KMeans(3, init="kmeans").fit(X)


def test_empty_clusters_are_reseeded_deterministically():
    X = _random(200, 2)
    # three centres far outside the data: they attract nothing at first
    start = np.array([[0.5, 0.5], [50.0, 50.0], [50.0, 50.0], [-40.0, 0.0]])
    a = KMeans(4, init=start, max_iter=20).fit(X)
    b = KMeans(4, init=start, max_iter=20).fit(X)
    assert len(np.unique(a.labels_)) == 4
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert np.abs(a.cluster_centers_).max() <= 1.0


def test_duplicate_points():
    X = np.ones((20, 3))
    km = KMeans(5).fit(X)
    assert km.inertia_ == 0.0


def test_sklearn_estimator_protocol():
    km = KMeans(3, seed=7, n_init=2)
    assert km.get_params()["seed"] == 7
    c = clone(km).set_params(n_clusters=4)
    assert c.n_clusters == 4 and c.n_init == 2
    with pytest.raises(Exception, match="not fitted"):
        km.predict([[0.0, 0.0]])
    assert "KMeans(" in repr(km)


def test_verbose_shows_progress_and_changes_nothing(capsys):
    X = _random(500, 3)
    quiet = KMeans(5, seed=0).fit(X)
    loud = KMeans(5, seed=0, verbose=True).fit(X)
    assert "k-means" in capsys.readouterr().err
    np.testing.assert_array_equal(quiet.labels_, loud.labels_)


def _bar_counts(err: str) -> tuple[int, int]:
    """The last ``n/total`` a tqdm bar printed."""
    import re

    n, total = re.findall(r"(\d+)/(\d+) \[", err)[-1]
    return int(n), int(total)


def test_verbose_bar_ends_at_the_iterations_run(capsys):
    X = _blobs(1500, 4, centers=6)
    km = KMeans(6, seed=0, max_iter=300, verbose=True).fit(X)
    assert 1 < km.n_iter_ < 300  # stopped early, so the old bar would read 300/300
    assert _bar_counts(capsys.readouterr().err) == (km.n_iter_, km.n_iter_)
    # several runs: the bar counts every iteration of every run, and stops full
    three = KMeans(6, seed=0, n_init=3, max_iter=300, verbose=True).fit(X)
    n, total = _bar_counts(capsys.readouterr().err)
    assert n == total < 3 * 300 and total >= three.n_iter_ + 2
    # a run that reaches max_iter fills the bar exactly too
    KMeans(6, seed=0, max_iter=2, tol=0.0, verbose=True).fit(_random(800, 3))
    assert _bar_counts(capsys.readouterr().err) == (2, 2)


# --- random_state (scikit-learn's name for seed) ------------------------------------


def test_random_state_is_the_seed():
    X = _random(1200, 5)
    by_seed = KMeans(9, seed=4).fit(X)
    for rs in (4, np.int64(4)):
        km = KMeans(9, random_state=rs).fit(X)
        np.testing.assert_array_equal(km.cluster_centers_, by_seed.cluster_centers_)
        np.testing.assert_array_equal(km.labels_, by_seed.labels_)
    # both given and equal is fine; None means seed
    same = KMeans(9, seed=4, random_state=4).fit(X)
    np.testing.assert_array_equal(same.labels_, by_seed.labels_)
    none = KMeans(9, seed=4, random_state=None).fit(X)
    np.testing.assert_array_equal(none.labels_, by_seed.labels_)
    # the default random_state=None gives the documented default seed 0
    np.testing.assert_array_equal(
        KMeans(9).fit(X).labels_, KMeans(9, random_state=0).fit(X).labels_
    )
    assert not np.array_equal(KMeans(9, random_state=5).fit(X).labels_, by_seed.labels_)
    # scikit-learn's parameter protocol sees it
    km = clone(KMeans(3, random_state=2))
    assert km.get_params()["random_state"] == 2 and km.get_params()["seed"] == 0
    # and a grid over random_state works as in scikit-learn
    assert KMeans(3).set_params(random_state=1).random_state == 1


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(seed=1, random_state=2), ValueError, "random_state: random_state=2 and seed=1"),
        (dict(random_state=-1), ValueError, "random_state"),
        (dict(random_state=2**64), ValueError, "random_state"),
        (dict(random_state=1.5), TypeError, "random_state: expected an int or None"),
        (dict(random_state=True), TypeError, "random_state"),
        (dict(random_state=np.random.RandomState(0)), TypeError, "RandomState"),
    ],
)
def test_random_state_bad_values(kwargs, exc, match):
    X = _random(50, 2)
    with pytest.raises(exc, match=match):
        KMeans(2, **kwargs).fit(X)
    with pytest.raises(exc, match=match):
        subclass_labels(X, np.repeat([0, 1], 25), **kwargs)


def test_subclass_labels_random_state():
    X = _random(600, 4)
    y = np.repeat([0, 1, 2], [400, 150, 50])
    a = subclass_labels(X, y, seed=3)
    b = subclass_labels(X, y, random_state=3)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    c = subclass_labels(X, y, random_state=4)
    assert not np.array_equal(a[0], c[0])


# --- determinism ------------------------------------------------------------------


def test_same_seed_same_result_other_seed_other_result():
    X = _random(1500, 6)
    a = KMeans(10, seed=5).fit(X)
    b = KMeans(10, seed=5).fit(X)
    c = KMeans(10, seed=6).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert not np.array_equal(a.cluster_centers_, c.cluster_centers_)


@pytest.mark.parametrize("balanced", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identical_across_thread_counts(balanced, dtype):
    # several blocks of rows, so the thread split matters if anything does
    X = _random(3000, 20).astype(dtype)
    old = longtail.get_num_threads()
    try:
        out = []
        for n in (1, 2, 3):
            longtail.set_num_threads(n)
            km = KMeans(17, seed=1, n_init=2, balanced=balanced).fit(X)
            sub, _ = subclass_labels(X, np.arange(3000) % 4, subclass_size=100)
            out.append(
                (km.cluster_centers_.tobytes(), km.labels_.tobytes(), km.inertia_, sub.tobytes())
            )
    finally:
        longtail.set_num_threads(0)
    assert longtail.get_num_threads() == old
    assert out[0] == out[1] == out[2]


def test_identical_at_every_simd_level():
    # The bound test, the argmin sweep and the inertia run as AVX-512/AVX2 code when
    # the CPU has it; LONGTAIL_SIMD caps the level for a whole process.
    import subprocess
    import sys

    code = (
        "import numpy as np; from longtail import _core; from longtail.cluster import KMeans;"
        "X = np.random.default_rng(0).random((3000, 24)).astype(np.float32);"
        "km = KMeans(20, seed=1, max_iter=30).fit(X);"
        "print(_core.simd_level());"
        "print(km.inertia_.hex(), km.labels_.tobytes().hex(), km.cluster_centers_.tobytes().hex())"
    )
    out = {
        level: subprocess.run(
            [sys.executable, "-c", code],
            env={**__import__("os").environ, "LONGTAIL_SIMD": level},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        for level in ("baseline", "avx2", "best")
    }
    levels = {k: int(v.split()[0]) for k, v in out.items()}
    assert levels["baseline"] == 0 and levels["avx2"] <= 1 and levels["best"] >= levels["avx2"]
    results = {v.split(None, 1)[1] for v in out.values()}
    assert len(results) == 1


@pytest.mark.parametrize("balanced", [False, True])
def test_python_loop_equals_the_rust_fit(balanced):
    # KMeans.fit drives Lloyd's iterations from Python (for the progress bar); the
    # batched per-class path runs the same loop in Rust. They must agree bit for bit.
    X = _random(1200, 5).astype(np.float32)
    km = KMeans(9, seed=3, n_init=2, balanced=balanced).fit(X)
    c, labels, inertia, n_iter = _core.kmeans_fit(X, 9, seed=3, n_init=2, balanced=balanced)
    np.testing.assert_array_equal(km.cluster_centers_, c)
    np.testing.assert_array_equal(km.labels_, labels)
    assert km.inertia_ == inertia and km.n_iter_ == n_iter


# --- balanced ---------------------------------------------------------------------


@pytest.mark.parametrize("n,k", [(1000, 7), (999, 10), (64, 64), (50, 1), (1003, 2)])
def test_balanced_sizes_differ_by_at_most_one(n, k):
    # unequal blobs: plain k-means would give very unequal clusters
    X = np.concatenate([_random(n - n // 5, 3), _random(n // 5, 3) + 5.0])
    km = KMeans(k, seed=0, balanced=True).fit(X)
    sizes = np.bincount(km.labels_, minlength=k)
    assert sizes.max() - sizes.min() <= 1, sizes
    assert sizes.sum() == n
    # reported inertia is that of the returned clusters around the returned centres
    d2 = ((X - km.cluster_centers_[km.labels_]) ** 2).sum()
    assert km.inertia_ == pytest.approx(d2, rel=1e-10)
    # centres are the means of the balanced clusters
    for j in range(k):
        np.testing.assert_allclose(km.cluster_centers_[j], X[km.labels_ == j].mean(0), atol=1e-12)


def test_balanced_costs_little_on_balanced_blobs():
    X, _ = make_blobs(1200, 4, centers=6, cluster_std=0.5, random_state=3)
    plain = KMeans(6, seed=0).fit(X)
    bal = KMeans(6, seed=0, balanced=True).fit(X)
    assert bal.inertia_ <= 1.05 * plain.inertia_
    assert bal.inertia_ >= plain.inertia_ * (1 - 1e-9)


# --- subclass labels (SBCL) -------------------------------------------------------


def _long_tailed(seed=0):
    rng = np.random.default_rng(seed)
    counts = [400, 250, 120, 61, 40]
    y = np.concatenate([np.full(c, 10 * j + 3) for j, c in enumerate(counts)])
    perm = rng.permutation(len(y))
    return rng.normal(size=(len(y), 6)), y[perm], counts


@pytest.mark.parametrize("subclass_size", [None, 40, 75, 100.5, 1000])
def test_subclass_counts_and_ids(subclass_size):
    X, y, counts = _long_tailed()
    sub, parent = subclass_labels(X, y, subclass_size=subclass_size)
    size = min(counts) if subclass_size is None else subclass_size
    want = [max(1, round(c / size)) for c in counts]
    assert len(parent) == sum(want)
    # contiguous, globally unique ids; each subclass inside one class
    assert sub.dtype == np.int64
    np.testing.assert_array_equal(np.unique(sub), np.arange(sum(want)))
    np.testing.assert_array_equal(parent[sub], y)
    classes = np.unique(y)
    for j, c in enumerate(classes):
        assert (parent == c).sum() == want[j]
    # subclasses of a class are consecutive, classes in sorted order
    assert np.all(np.diff(parent) >= 0)


def test_subclass_labels_match_kmeans_per_class_and_are_deterministic():
    X, y, _ = _long_tailed(1)
    sub, parent = subclass_labels(X, y, seed=4)
    again, _ = subclass_labels(torch.from_numpy(X), y.tolist(), seed=4)
    np.testing.assert_array_equal(sub, again)
    # the first class (in sorted order) gets what KMeans gives it alone
    c0 = np.unique(y)[0]
    k0 = int((parent == c0).sum())
    km = KMeans(k0, seed=4).fit(X[y == c0])
    np.testing.assert_array_equal(sub[y == c0], km.labels_)
    # the clusters of every class are k-means clusters: each row is nearest to its own
    # subclass mean among its class's subclasses (converged Lloyd)
    for c in np.unique(y):
        rows = X[y == c]
        ids = sub[y == c]
        means = np.stack([rows[ids == s].mean(0) for s in np.unique(ids)])
        near = _brute_labels(rows, means)[0] + ids.min()
        assert (near == ids).mean() > 0.99


def test_subclass_labels_balanced():
    X, y, _ = _long_tailed(2)
    sub, parent = subclass_labels(X, y, subclass_size=50, balanced=True)
    for c in np.unique(y):
        sizes = np.bincount(sub[y == c])[np.flatnonzero(parent == c)]
        assert sizes.max() - sizes.min() <= 1


def test_subclass_labels_bad_input():
    X, y, _ = _long_tailed()
    with pytest.raises(ValueError, match="labels"):
        subclass_labels(X, y[:-1])
    with pytest.raises(ValueError, match="subclass_size"):
        subclass_labels(X, y, subclass_size=0.5)
    with pytest.raises(TypeError, match="subclass_size"):
        subclass_labels(X, y, subclass_size="10")
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="features"):
        subclass_labels(X, y)
    with pytest.raises(ValueError, match="features"):
        subclass_labels(np.zeros(5), np.zeros(5, dtype=int))


# --- equal-frequency bins ---------------------------------------------------------


@pytest.mark.parametrize("n,bins", [(10, 3), (100, 7), (5, 5), (1, 1), (1000, 1)])
def test_equal_frequency_bins(n, bins):
    v = np.random.default_rng(n).integers(0, 5, n).astype(float)  # many ties
    edges, ids = equal_frequency_bins(v, bins)
    counts = np.bincount(ids, minlength=bins)
    assert counts.max() - counts.min() <= 1 and counts.sum() == n
    assert edges.shape == (bins + 1,) and np.all(np.diff(edges) >= 0)
    for b in range(bins):
        inside = v[ids == b]
        assert inside.min() == edges[b] and inside.max() <= edges[b + 1]
    # smaller values never land in a later bin than larger ones
    order = np.argsort(v, kind="stable")
    assert np.all(np.diff(ids[order]) >= 0)


def test_equal_frequency_bins_bad_input():
    with pytest.raises(ValueError, match="n_bins"):
        equal_frequency_bins([1.0, 2.0], 3)
    with pytest.raises(ValueError, match="n_bins"):
        equal_frequency_bins([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="values"):
        equal_frequency_bins([1.0, np.inf], 1)
    with pytest.raises(ValueError, match="values"):
        equal_frequency_bins([[1.0, 2.0]], 1)


# --- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "X,exc,match",
    [
        (np.zeros(10), ValueError, "X"),  # 1-D
        (np.zeros((0, 3)), ValueError, "X"),  # empty
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), ValueError, "X"),
        (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]]), ValueError, "X"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "X"),
        (np.ones((3, 2), dtype=complex), TypeError, "X"),
        (np.zeros((3, 2, 2)), ValueError, "X"),
    ],
)
def test_bad_X(X, exc, match):
    with pytest.raises(exc, match=match):
        KMeans(2).fit(X)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"n_clusters": 0}, ValueError, "n_clusters"),
        ({"n_clusters": -3}, ValueError, "n_clusters"),
        ({"n_clusters": 11}, ValueError, "n_clusters"),  # k > n
        ({"n_clusters": 2.5}, TypeError, "n_clusters"),
        ({"n_clusters": 2, "n_init": 0}, ValueError, "n_init"),
        ({"n_clusters": 2, "max_iter": 0}, ValueError, "max_iter"),
        ({"n_clusters": 2, "tol": -1.0}, ValueError, "tol"),
        ({"n_clusters": 2, "tol": float("nan")}, ValueError, "tol"),
        ({"n_clusters": 2, "seed": -1}, ValueError, "seed"),
        ({"n_clusters": 2, "seed": 1.5}, TypeError, "seed"),
        ({"n_clusters": 2, "seed": 2**64}, ValueError, "seed"),
        ({"n_clusters": 2, "n_local_trials": 0}, ValueError, "n_local_trials"),
        ({"n_clusters": 2, "init_size": 0}, ValueError, "init_size"),
        ({"n_clusters": 2, "init_size": 2.5}, TypeError, "init_size"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        KMeans(**kwargs).fit(_random(10, 2))


def test_predict_checks_its_input():
    km = KMeans(2).fit(_random(10, 3))
    with pytest.raises(ValueError, match="X"):
        km.predict(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="X"):
        km.predict(np.full((4, 3), np.nan))


def test_core_rejects_mismatched_arrays():
    X = _random(20, 3)
    xn = _core.kmeans_row_norms(X)
    with pytest.raises(TypeError, match="centers"):
        _core.kmeans_step(X, xn, X[:2].astype(np.float32))
    with pytest.raises(TypeError, match="x_squared_norms"):
        _core.kmeans_step(X, xn.astype(np.float32), X[:2].copy())
    with pytest.raises(ValueError, match="x_squared_norms"):
        _core.kmeans_step(X, xn[:-3], X[:2].copy())
    with pytest.raises(ValueError, match="centers"):
        _core.kmeans_step(X, xn, np.ascontiguousarray(X[:2, :2]))
    run = _core.LloydRun(X[:2].copy())
    with pytest.raises(TypeError, match="x_squared_norms"):
        run.step(X, xn.astype(np.float32))
    with pytest.raises(ValueError, match="X"):
        run.step(np.ascontiguousarray(X[:, :2]), xn)
    run.step(X, xn)
    with pytest.raises(ValueError, match="X"):
        run.step(X[:10].copy(), xn[:10].copy())
    with pytest.raises(ValueError, match="labels"):
        _core.kmeans_inertia(X, X[:2].copy(), np.full(20, 5, dtype=np.int64))
    with pytest.raises(ValueError, match="n_clusters"):
        _core.kmeans_fit(X, 21)
    with pytest.raises(ValueError, match="offsets"):
        _core.subclass_kmeans(X, [0, 5], [1])
