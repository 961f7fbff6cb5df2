"""longtail.select against independent references written here: an exact (Fraction)
water-filling quota reference, a numpy per-class top-k, the CCS stratified rule in plain
Python, numpy uncertainty scores, brute-force k-center and plain greedy coverage."""

from __future__ import annotations

import heapq
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from longtail.select import (
    class_balanced_pseudo_labels,
    class_quotas,
    coverage_select,
    kcenter_greedy,
    random_keys,
    select_per_class,
    stratified_select,
    uncertainty_query,
)

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)
MASK = (1 << 64) - 1


# --- references -------------------------------------------------------------------


def mix64_ref(z):
    z = [(int(v) + 0x9E3779B97F4A7C15) & MASK for v in z]
    z = [((v ^ (v >> 30)) * 0xBF58476D1CE4E5B9) & MASK for v in z]
    z = [((v ^ (v >> 27)) * 0x94D049BB133111EB) & MASK for v in z]
    return [v ^ (v >> 31) for v in z]


def keys_ref(indexes, seed):
    """The documented key: splitmix64(splitmix64(seed ^ SALT) ^ index), in Python ints."""
    sk = mix64_ref([seed ^ 0x5E1EC7ED5E1EC7ED])[0]
    return mix64_ref([sk ^ (int(i) & MASK) for i in indexes])


def quotas_ref(counts, budget, power, mn=0, mx=None):
    """Exact water-filling (Fractions) with largest remainder, ties to the smaller class."""
    counts = [int(c) for c in counts]
    cap = [c if mx is None else min(c, mx) for c in counts]
    base = [min(mn, c) for c in counts]
    if sum(base) > budget:
        return None
    rest = min(budget, sum(cap)) - sum(base)
    room = [a - b for a, b in zip(cap, base)]
    w = [Fraction(c) ** power if c > 0 else Fraction(0) for c in counts]
    x = [Fraction(0)] * len(counts)
    active = {j for j in range(len(counts)) if room[j] > 0 and w[j] > 0}
    left = Fraction(rest)
    while active and left > 0:
        t = left / sum(w[j] for j in active)
        capped = [j for j in active if t * w[j] >= room[j]]
        if not capped:
            for j in active:
                x[j] = t * w[j]
            break
        for j in capped:
            x[j] = Fraction(room[j])
            left -= room[j]
            active.discard(j)
    fl = [int(v) for v in x]  # floor of non-negative fractions
    extra = rest - sum(fl)
    order = sorted(range(len(x)), key=lambda j: (-(x[j] - fl[j]), j))
    for j in order[:extra]:
        fl[j] += 1
    return [b + f for b, f in zip(base, fl)]


def topk_ref(labels, quota_of, scores=None, largest=True, seed=0, gid=None):
    """numpy per-class top-k: lexsort by (class, key, global index); take the first q."""
    labels = np.asarray(labels)
    n = labels.size
    gid = np.arange(n) if gid is None else np.asarray(gid)
    if scores is None:
        key = np.array(keys_ref(gid, seed), dtype=np.uint64)
    else:
        key = -np.asarray(scores, dtype=np.float64) if largest else np.asarray(scores, np.float64)
        key = key + 0.0
    order = np.lexsort((gid, key, labels))
    out = []
    for c in np.unique(labels):
        rows = order[labels[order] == c]
        out.extend(rows[: quota_of(int(c))].tolist())
    return np.sort(np.array(out, dtype=np.int64))


# --- class_quotas -----------------------------------------------------------------


def test_class_quotas_hand_cases():
    assert class_quotas([500, 100, 20, 5], 100).tolist() == [38, 37, 20, 5]
    assert class_quotas([500, 100, 20, 5], 100, power=1.0).tolist() == [80, 16, 3, 1]
    got = class_quotas([500, 100, 20, 5], 90, min_per_class=10, max_per_class=30)
    assert got.tolist() == [30, 30, 20, 5]
    # Equal remainders: the smaller class index gets the unit.
    assert class_quotas([10, 10, 10], 4).tolist() == [2, 1, 1]
    assert class_quotas([1, 3], 2, power=1.0).tolist() == [1, 1]
    # Empty classes get nothing; the budget beyond the pool is not spent.
    assert class_quotas([0, 4, 2], 100).tolist() == [0, 4, 2]
    assert class_quotas([0, 0], 5).tolist() == [0, 0]
    assert class_quotas([7, 3], 0).tolist() == [0, 0]


@SETTINGS
@given(
    counts=st.lists(st.integers(0, 300), min_size=1, max_size=12),
    budget=st.integers(0, 1500),
    power=st.sampled_from([0, 1, 2]),
    mn=st.integers(0, 6),
    mx=st.one_of(st.none(), st.integers(6, 80)),
)
def test_class_quotas_matches_exact_reference(counts, budget, power, mn, mx):
    want = quotas_ref(counts, budget, power, mn, mx)
    if want is None:
        with pytest.raises(ValueError, match="min_per_class"):
            class_quotas(counts, budget, power=power, min_per_class=mn, max_per_class=mx)
        return
    got = class_quotas(counts, budget, power=power, min_per_class=mn, max_per_class=mx)
    assert got.dtype == np.int64
    assert got.tolist() == want
    cap = np.array(counts) if mx is None else np.minimum(counts, mx)
    assert got.sum() == min(budget, cap.sum())
    assert np.all(got <= cap) and np.all(got >= np.minimum(mn, counts))


@SETTINGS
@given(
    counts=st.lists(st.integers(0, 10**6), min_size=1, max_size=30),
    budget=st.integers(0, 10**6),
    power=st.floats(-1.5, 3.0),
)
def test_class_quotas_sum_and_caps_for_any_power(counts, budget, power):
    got = class_quotas(counts, budget, power=power)
    assert got.sum() == min(budget, sum(counts))
    assert np.all(got <= counts) and np.all(got >= 0)


# --- select_per_class -------------------------------------------------------------


def _data(n=3000, c=9, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    y = rng.zipf(1.6, n) % c * 3 - 4  # long-tailed, non-contiguous ids
    s = rng.integers(0, 20, n).astype(np.float64) if ties else rng.normal(size=n)
    return y.astype(np.int64), s


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("largest", [True, False])
def test_select_per_class_matches_numpy(dtype, largest):
    y, s = _data()
    s = s.astype(dtype)
    got = select_per_class(y, 25, scores=s, largest=largest)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, topk_ref(y, lambda c: 25, s, largest))
    quotas = {-4: 3, 2: 0, 5: 10**6, 99: 4}
    got = select_per_class(y, quotas, scores=s, largest=largest)
    np.testing.assert_array_equal(got, topk_ref(y, lambda c: quotas.get(c, 0), s, largest))
    classes = np.unique(y)
    arr = np.arange(classes.size) * 7
    got = select_per_class(y, arr, scores=s, largest=largest)
    q = dict(zip(classes.tolist(), arr.tolist()))
    np.testing.assert_array_equal(got, topk_ref(y, q.get, s, largest))


def test_select_per_class_ties_and_signed_zero():
    y = np.zeros(6, dtype=np.int64)
    s = np.array([1.0, -0.0, 0.0, 1.0, 0.0, -0.0], dtype=np.float32)
    assert select_per_class(y, 3, scores=s).tolist() == [0, 1, 3]
    assert select_per_class(y, 3, scores=s, largest=False).tolist() == [1, 2, 4]


def test_random_keys_follow_the_documented_formula():
    ix = np.array([0, 1, 2, 10**12, -5, 2**62])
    for seed in (0, 7, 2**64 - 1):
        assert random_keys(ix, seed).tolist() == keys_ref(ix, seed)


def test_random_selection_matches_reference_and_ignores_order_and_sharding():
    y, _ = _data(4000, seed=1)
    got = select_per_class(y, 30, seed=5)
    np.testing.assert_array_equal(got, topk_ref(y, lambda c: 30, seed=5))
    assert not np.array_equal(got, select_per_class(y, 30, seed=6))
    # Same rows in another order, fed with their global ids: same global selection.
    perm = np.random.default_rng(2).permutation(y.size)
    np.testing.assert_array_equal(select_per_class(y[perm], 30, seed=5, indexes=perm), got)
    # Two shards: each keeps its local top-30 per class, the union re-ranked gives the same.
    halves = np.array_split(perm, 2)
    cand = np.concatenate([select_per_class(y[h], 30, seed=5, indexes=h) for h in halves])
    np.testing.assert_array_equal(select_per_class(y[cand], 30, seed=5, indexes=cand), got)


def test_select_per_class_accepts_tensors_and_datasets():
    y, s = _data(500, seed=3)

    class DS:
        targets = y.tolist()

    want = select_per_class(y, 5, scores=s.astype(np.float32))
    got = select_per_class(torch.from_numpy(y), 5, scores=torch.from_numpy(s).float())
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(select_per_class(DS(), 5, scores=s.astype(np.float32)), want)
    # float16 scores are widened to float32.
    s16 = torch.from_numpy(s).half()
    np.testing.assert_array_equal(select_per_class(y, 5, scores=s16), want)


@SETTINGS
@given(
    n=st.integers(1, 400),
    c=st.integers(1, 8),
    q=st.integers(0, 60),
    seed=st.integers(0, 2**64 - 1),
    use_scores=st.booleans(),
)
def test_select_per_class_properties(n, c, q, seed, use_scores):
    rng = np.random.default_rng(n * 31 + c)
    y = rng.integers(0, c, n)
    s = rng.integers(0, 5, n).astype(np.float64) if use_scores else None
    got = select_per_class(y, q, scores=s, seed=seed)
    assert got.dtype == np.int64
    assert np.all(np.diff(got) > 0)  # ascending, unique
    sizes = np.bincount(y, minlength=c)
    np.testing.assert_array_equal(np.bincount(y[got], minlength=c), np.minimum(sizes, q))


# --- stratified_select ------------------------------------------------------------


def stratified_ref(y, s, quota, n_strata, frac, prune, seed):
    keys = keys_ref(range(len(y)), seed)
    out = []
    for c in sorted(set(y.tolist())):
        rows = [i for i in range(len(y)) if y[i] == c]
        sign = -1.0 if prune == "high" else 1.0
        rows.sort(key=lambda i: (sign * s[i] + 0.0, i))
        rows = rows[int(np.floor(frac * len(rows))) :]
        if quota >= len(rows):
            out += rows
            continue
        lo, hi = min(float(s[i]) for i in rows), max(float(s[i]) for i in rows)
        strata = [[] for _ in range(n_strata)]
        for i in rows:
            k = (
                0
                if hi == lo
                else min(int(np.floor((float(s[i]) - lo) / (hi - lo) * n_strata)), n_strata - 1)
            )
            strata[k].append(i)
        order = sorted(range(n_strata), key=lambda k: (len(strata[k]), k))
        rem = quota
        for left, k in zip(range(n_strata, 0, -1), order):
            take = min(len(strata[k]), rem // left)
            rem -= take
            out += sorted(strata[k], key=lambda i: (keys[i], i))[:take]
    return np.sort(np.array(out, dtype=np.int64))


@pytest.mark.parametrize("prune", ["high", "low"])
@pytest.mark.parametrize("frac", [0.0, 0.25])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stratified_select_matches_python_reference(prune, frac, dtype):
    rng = np.random.default_rng(4)
    y = rng.integers(0, 5, 1500)
    s = (rng.gamma(2.0, size=1500) * np.where(y == 2, 0, 1)).astype(dtype)  # class 2 constant
    got = stratified_select(y, s, 40, n_strata=7, prune_fraction=frac, prune=prune, seed=3)
    np.testing.assert_array_equal(got, stratified_ref(y, s, 40, 7, frac, prune, 3))


def test_stratified_select_per_class_quotas_not_the_last_class_size():
    y = np.repeat([0, 1, 2], [300, 100, 20])
    s = np.random.default_rng(0).random(420)
    got = stratified_select(y, s, {0: 50, 1: 30, 2: 5}, n_strata=10)
    assert np.bincount(y[got]).tolist() == [50, 30, 5]


# --- class_balanced_pseudo_labels --------------------------------------------------


def _probs(n, c, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, c)) * 2
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return p.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pseudo_labels_match_numpy(dtype):
    p = _probs(800, 6, 0, dtype)
    for thr, quotas in [(0.5, None), (0.3, 12), (0.0, [1, 2, 3, 4, 5, 6]), (0.6, {2: 5})]:
        idx, lab = class_balanced_pseudo_labels(p, quotas=quotas, threshold=thr)
        conf, pred = p.max(1), p.argmax(1)
        cand = np.flatnonzero(conf >= thr)
        counts = np.bincount(pred[cand], minlength=6)
        if quotas is None:
            qarr = np.full(6, counts[counts > 0].min())
        elif isinstance(quotas, int):
            qarr = np.full(6, quotas)
        elif isinstance(quotas, dict):
            qarr = np.array([quotas.get(c, 0) for c in range(6)])
        else:
            qarr = np.array(quotas)
        qof = qarr.__getitem__
        want = cand[topk_ref(pred[cand], qof, conf[cand])]
        np.testing.assert_array_equal(idx, want)
        np.testing.assert_array_equal(lab, pred[idx])
    # Torch in, global ids out.
    idx, lab = class_balanced_pseudo_labels(
        torch.from_numpy(p), threshold=0.5, indexes=np.arange(800) + 1000
    )
    np.testing.assert_array_equal(idx - 1000, class_balanced_pseudo_labels(p, threshold=0.5)[0])
    idx, lab = class_balanced_pseudo_labels(p, threshold=1.1)
    assert idx.size == 0 and lab.size == 0


# --- uncertainty_query ------------------------------------------------------------


def balanced_quotas_ref(labeled, pool, budget):
    """Unit by unit: to the class with the smallest labeled + quota that has pool rows left."""
    q = [0] * len(pool)
    heap = [(labeled[j], j) for j in range(len(pool)) if pool[j] > 0]
    heapq.heapify(heap)
    for _ in range(budget):
        v, j = heapq.heappop(heap)
        q[j] += 1
        if q[j] < pool[j]:
            heapq.heappush(heap, (v + 1, j))
    return q


def scores_ref(p, strategy):
    p64 = p.astype(np.float64)
    if strategy == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.where(p64 > 0, p64 * np.log(p64), 0.0).sum(1)
    top = np.sort(p64, axis=1)
    if strategy == "margin":
        return -(top[:, -1] - top[:, -2])
    return 1.0 - top[:, -1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("strategy", ["entropy", "margin", "least_confidence", "random"])
def test_uncertainty_query_matches_numpy(dtype, strategy):
    p = _probs(1200, 40, 1, dtype)
    p[5] = 0  # zero probabilities add nothing to the entropy
    p[5, 3] = 1
    exclude = np.arange(0, 1200, 7)
    pred = p.argmax(1)
    groups = np.zeros(1200, dtype=np.int64)
    groups[exclude] = -1
    if strategy == "random":
        s, largest = None, True
    else:
        s, largest = scores_ref(p, strategy), True
    got = uncertainty_query(p, 70, strategy=strategy, exclude=exclude, seed=4)
    np.testing.assert_array_equal(
        got, topk_ref(groups, lambda c: 70 if c == 0 else 0, s, largest, seed=4)
    )
    labeled = np.arange(40) % 9
    got = uncertainty_query(
        p,
        150,
        strategy=strategy,
        class_balanced=True,
        labeled_counts=labeled,
        exclude=exclude,
        seed=4,
    )
    groups = pred.copy()
    groups[exclude] = -1
    pool = np.bincount(groups[groups >= 0], minlength=40)
    q = balanced_quotas_ref(labeled.tolist(), pool.tolist(), 150)
    np.testing.assert_array_equal(
        got, topk_ref(groups, lambda c: 0 if c < 0 else q[c], s, largest, seed=4)
    )


@SETTINGS
@given(
    labeled=st.lists(st.integers(0, 30), min_size=1, max_size=10),
    pool_seed=st.integers(0, 1000),
    frac=st.floats(0, 1),
)
def test_balanced_query_quotas_match_unit_greedy(labeled, pool_seed, frac):
    from longtail.select.query import _balanced_quotas

    pool = np.random.default_rng(pool_seed).integers(0, 20, len(labeled))
    budget = int(frac * pool.sum())
    got = _balanced_quotas(np.array(labeled), pool, budget)
    assert got.tolist() == balanced_quotas_ref(labeled, pool.tolist(), budget)


# --- kcenter_greedy ---------------------------------------------------------------


def kcenter_ref(x, budget, labeled, first):
    x = x.astype(np.float64)
    cent = list(labeled) if len(labeled) else [first]
    out = [] if len(labeled) else [first]
    d = ((x[:, None, :] - x[cent][None, :, :]) ** 2).sum(-1).min(1)
    d[cent] = -1
    while len(out) < budget:
        i = int(np.argmax(d))
        out.append(i)
        d = np.minimum(d, ((x - x[i]) ** 2).sum(1))
        d[out] = -1
        d[list(labeled)] = -1
    return out


def test_kcenter_matches_numpy_reference():
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(30, 8)) * 10
    x = centres[rng.integers(0, 30, 900)] + rng.normal(size=(900, 8))
    got = kcenter_greedy(x, 60, labeled=[4, 100, 4])
    assert got.tolist() == kcenter_ref(x, 60, [4, 100], None)
    first = int(np.argmin(np.array(keys_ref(range(900), 3), dtype=np.uint64)))
    got = kcenter_greedy(x, 40, seed=3)
    assert got[0] == first
    assert got.tolist() == kcenter_ref(x, 40, [], first)
    mask = np.zeros(900, bool)
    mask[[1, 2]] = True
    assert kcenter_greedy(x, 5, labeled=mask).tolist() == kcenter_ref(x, 5, [1, 2], None)


def test_kcenter_float32_is_a_valid_greedy_sequence():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(700, 16)).astype(np.float32)
    got = kcenter_greedy(torch.from_numpy(x), 30, labeled=[0])
    x64 = x.astype(np.float64)
    chosen = [0]
    for i in got:
        d = ((x64[:, None] - x64[chosen][None]) ** 2).sum(-1).min(1)
        assert d[i] >= d.max() * (1 - 1e-4)
        chosen.append(int(i))
    assert len(set(got.tolist())) == 30


# --- coverage_select --------------------------------------------------------------


def coverage_ref(images, labels, budget, quota):
    ids = sorted(set(images.tolist()))
    objs = {i: [] for i in ids}
    for i, c in zip(images.tolist(), labels.tolist()):
        objs[i].append(c)
    have: dict = {}
    out = []
    while len(out) < budget:
        best, arg = 0, None
        for i in ids:
            if i in out:
                continue
            cnt: dict = {}
            for c in objs[i]:
                cnt[c] = cnt.get(c, 0) + 1
            g = sum(min(k, max(quota.get(c, 0) - have.get(c, 0), 0)) for c, k in cnt.items())
            if g > best:
                best, arg = g, i
        if arg is None:
            break
        for c in objs[arg]:
            have[c] = have.get(c, 0) + 1
        out.append(arg)
    return out


def test_coverage_matches_plain_greedy():
    rng = np.random.default_rng(7)
    n = 1500
    images = rng.integers(0, 300, n) * 3 + 11
    labels = rng.zipf(1.8, n) % 12
    for budget in (1, 10, 60, 400):
        classes = np.unique(labels)
        counts = np.bincount(labels)[classes]
        target = budget * n // np.unique(images).size
        q = dict(zip(classes.tolist(), class_quotas(counts, target).tolist()))
        assert coverage_select(images, labels, budget).tolist() == coverage_ref(
            images, labels, budget, q
        )
    q = {0: 5, 3: 40, 11: 2}
    assert coverage_select(images, labels, 100, quotas=q).tolist() == coverage_ref(
        images, labels, 100, q
    )
    arr = np.arange(np.unique(labels).size)
    qa = dict(zip(np.unique(labels).tolist(), arr.tolist()))
    assert coverage_select(images, labels, 50, quotas=arr).tolist() == coverage_ref(
        images, labels, 50, qa
    )


# --- bad input --------------------------------------------------------------------

P = _probs(10, 3, 0)
Y = np.array([0, 1, 1, 2, 2, 2, 0, 1, 2, 2])
S = np.linspace(0, 1, 10)
NAN = S.copy()
NAN[3] = np.nan

BAD = [
    (lambda: class_quotas([], 3), ValueError, "class_counts"),
    (lambda: class_quotas([3, -1], 3), ValueError, "class_counts"),
    (lambda: class_quotas([3, 1], -1), ValueError, "budget"),
    (lambda: class_quotas([3, 1], 2, min_per_class=2), ValueError, "min_per_class"),
    (
        lambda: class_quotas([3, 1], 2, min_per_class=2, max_per_class=1),
        ValueError,
        "max_per_class",
    ),
    (lambda: class_quotas([3, 1], 2, power=float("nan")), TypeError, "power"),
    (lambda: class_quotas([[3, 1]], 2), ValueError, "class_counts"),
    (lambda: select_per_class([], 3), ValueError, "labels"),
    (lambda: select_per_class(Y, -1), ValueError, "quotas"),
    (lambda: select_per_class(Y, {0: -2}), ValueError, "quotas"),
    (lambda: select_per_class(Y, [1, 2]), ValueError, "quotas"),
    (lambda: select_per_class(Y, 1.5), TypeError, "quotas"),
    (lambda: select_per_class(Y, 2, scores=NAN), ValueError, "scores"),
    (lambda: select_per_class(Y, 2, scores=S[:4]), ValueError, "scores"),
    (lambda: select_per_class(Y, 2, scores=P), ValueError, "scores"),
    (lambda: select_per_class(Y, 2, indexes=[1, 2]), ValueError, "indexes"),
    (lambda: select_per_class(Y, 2, seed=-1), ValueError, "seed"),
    (lambda: select_per_class(Y.astype(float) + 0.5, 2), ValueError, "labels"),
    (lambda: stratified_select(Y, S, 2, n_strata=0), ValueError, "n_strata"),
    (lambda: stratified_select(Y, S, 2, prune="middle"), ValueError, "prune"),
    (lambda: stratified_select(Y, S, 2, prune_fraction=1.5), ValueError, "prune_fraction"),
    (lambda: stratified_select(Y, NAN, 2), ValueError, "scores"),
    (lambda: class_balanced_pseudo_labels(P[0]), ValueError, "probs"),
    (lambda: class_balanced_pseudo_labels(np.full((2, 2), np.nan)), ValueError, "probs"),
    (lambda: class_balanced_pseudo_labels(P, indexes=[1]), ValueError, "indexes"),
    (lambda: class_balanced_pseudo_labels(P, quotas=-3), ValueError, "quotas"),
    (lambda: uncertainty_query(P, 11), ValueError, "budget"),
    (lambda: uncertainty_query(P, 9, exclude=[0, 1]), ValueError, "budget"),
    (lambda: uncertainty_query(P, -1), ValueError, "budget"),
    (lambda: uncertainty_query(P, 2, strategy="bald"), ValueError, "strategy"),
    (lambda: uncertainty_query(-P, 2), ValueError, "probs"),
    (lambda: uncertainty_query(np.full((2, 2), np.inf), 1, strategy="margin"), ValueError, "probs"),
    (lambda: uncertainty_query(P, 2, exclude=[10]), ValueError, "exclude"),
    (
        lambda: uncertainty_query(P, 2, class_balanced=True, labeled_counts=[1]),
        ValueError,
        "labeled_counts",
    ),
    (lambda: uncertainty_query(np.zeros((0, 3)), 0), ValueError, "probs"),
    (lambda: kcenter_greedy(P, 11), ValueError, "budget"),
    (lambda: kcenter_greedy(P, 8, labeled=[0, 1, 2]), ValueError, "budget"),
    (lambda: kcenter_greedy(P, 2, labeled=[-1]), ValueError, "labeled"),
    (lambda: kcenter_greedy(P[0], 2), ValueError, "features"),
    (lambda: kcenter_greedy(np.full((3, 2), np.nan), 1), ValueError, "features"),
    (lambda: coverage_select([1, 2], [0], 1), ValueError, "labels"),
    (lambda: coverage_select([], [], 1), ValueError, "image_ids"),
    (lambda: coverage_select([1, 2], [0, 1], -2), ValueError, "budget"),
    (lambda: coverage_select([1, 2], [0, 1], 1, quotas=[1, 2, 3]), ValueError, "quotas"),
]


@pytest.mark.parametrize("call,exc,name", BAD, ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_input_names_the_argument(call, exc, name):
    with pytest.raises(exc, match=name):
        call()

def test_results_do_not_depend_on_the_thread_count():
    import longtail

    y, s = _data(20_000, seed=8, ties=True)
    p = _probs(3000, 12, 9, np.float32)
    x = np.random.default_rng(10).normal(size=(3000, 6))

    def run():
        return [
            select_per_class(y, 40, scores=s.astype(np.float32)),
            select_per_class(y, 40, seed=1),
            stratified_select(y, s, 30, n_strata=5),
            uncertainty_query(p, 300, class_balanced=True),
            kcenter_greedy(x, 30),
        ]

    try:
        longtail.set_num_threads(1)
        one = run()
        longtail.set_num_threads(2)
        two = run()
    finally:
        longtail.set_num_threads(0)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
