"""Long-tailed subsets of balanced datasets (CIFAR-LT style), test distributions, and
federated and continual-learning splits of a labelled dataset.

>>> labels = [c for c in range(3) for _ in range(100)]
>>> idx = long_tailed_indices(labels, imbalance_ratio=10)
>>> np.bincount(np.asarray(labels)[idx]).tolist()
[100, 31, 10]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from longtail._checks import as_float_array, check_positive_int
from longtail.samplers import _check_seed, _labels

__all__ = [
    "long_tailed_indices",
    "test_distribution_indices",
    "dirichlet_partition",
    "shard_partition",
    "blurry_stream",
]

_PROFILES = ("exp", "step", "linear", "zipf")


def _check_ratio(imbalance_ratio: Any) -> float:
    if isinstance(imbalance_ratio, bool) or not isinstance(
        imbalance_ratio, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"imbalance_ratio: expected a real number, got {type(imbalance_ratio).__name__}"
        )
    ratio = float(imbalance_ratio)
    if not (math.isfinite(ratio) and ratio >= 1.0):
        raise ValueError(f"imbalance_ratio: must be a finite number >= 1, got {imbalance_ratio}")
    return ratio


def _exp_profile(n_max: int, num_classes: int, ratio: float) -> np.ndarray:
    # Cao et al. 2019 (LDAM), CIFAR-LT: n_i = floor(n_max * IF**(-i / (C - 1))).
    if num_classes == 1:
        return np.array([n_max], dtype=np.int64)
    i = np.arange(num_classes, dtype=np.float64)
    return np.floor(n_max * ratio ** (-i / (num_classes - 1)) + 1e-9).astype(np.int64)


def _subset(
    y: np.ndarray, classes: np.ndarray, inverse: np.ndarray, want: np.ndarray, seed: int
) -> np.ndarray:
    """Pick ``want[c]`` random examples of each class; sorted dataset indices."""
    rng = np.random.Generator(np.random.PCG64(seed))
    order = np.argsort(inverse, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(inverse, minlength=len(classes)))]
    picked = []
    for c in range(len(classes)):
        members = order[bounds[c] : bounds[c + 1]]
        k = int(min(want[c], len(members)))
        picked.append(rng.permutation(members)[:k])
    return np.sort(np.concatenate(picked)).astype(np.int64)



def _prepare(
    labels: Any, imbalance_ratio: float, seed: int
) -> tuple[np.ndarray, float, int, np.ndarray, np.ndarray, int]:
    """Checked labels, ratio and seed, the sorted classes, each label's class index, counts."""
    y = _labels(labels)
    ratio = _check_ratio(imbalance_ratio)
    seed = _check_seed(seed)
    classes, inverse = np.unique(y, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, minlength=len(classes))
    return y, ratio, seed, classes, inverse, counts

def _linear_profile(n_max: int, num_classes: int, ratio: float) -> np.ndarray:
    # n_i = floor(n_max - i (n_max - n_min) / (C - 1)), n_min = n_max / IF
    if num_classes == 1:
        return np.array([n_max], dtype=np.int64)
    i = np.arange(num_classes, dtype=np.float64)
    step = (n_max - n_max / ratio) / (num_classes - 1)
    return np.floor(n_max - i * step + 1e-9).astype(np.int64)


def _zipf_profile(n_max: int, num_classes: int, ratio: float) -> np.ndarray:
    # n_i = floor(n_max / (i + 1)**a), a = ln IF / ln C: the last class gets n_max / IF
    if num_classes == 1:
        return np.array([n_max], dtype=np.int64)
    a = math.log(ratio) / math.log(num_classes)
    i = np.arange(num_classes, dtype=np.float64)
    return np.floor(n_max / (i + 1) ** a + 1e-9).astype(np.int64)


def _explicit_counts(counts: Any, available: np.ndarray) -> np.ndarray:
    arr = as_float_array(counts, "counts", ndim=1)
    if arr.size != available.size:
        raise ValueError(f"counts: expected {available.size} entries (one per class, in "
                         f"sorted class-id order), got {arr.size}")
    if (arr < 0).any() or (arr != np.floor(arr)).any():
        raise ValueError("counts: per-class sizes must be non-negative integers")
    want = arr.astype(np.int64)
    over = np.flatnonzero(want > available)
    if over.size:
        c = int(over[0])
        raise ValueError(f"counts: class #{c} has {int(available[c])} examples, "
                         f"{int(want[c])} were asked for")
    return want


def long_tailed_indices(
    labels: Any, *, imbalance_ratio: float | None = None, profile: str = "exp", seed: int = 0,
    counts: Any = None,
) -> np.ndarray:
    """Indices of a long-tailed subset of a (balanced) dataset, CIFAR-LT style.

    Classes are ordered by sorted class id; ``n_max`` is the largest class size and
    ``n_min = n_max / IF``. Class ``i`` of C keeps

    - ``profile="exp"``: ``floor(n_max * IF**(-i/(C-1)))`` (Cao et al. 2019, LDAM; Cui et
      al. 2019);
    - ``profile="step"``: ``n_max`` for the first half of the classes, ``floor(n_max / IF)``
      for the rest (Buda et al. 2018);
    - ``profile="linear"``: ``floor(n_max - i (n_max - n_min) / (C-1))``;
    - ``profile="zipf"``: ``floor(n_max / (i+1)**a)`` with ``a = ln IF / ln C``, so that the
      last class keeps ``n_min`` (a power law, as word or category frequencies);

    or, with ``counts=``, exactly ``counts[i]`` examples (then ``imbalance_ratio`` and
    ``profile`` are not used). A profile class keeps at most what it has. Which examples
    are kept is random, fixed by ``seed``.

    Parameters
    ----------
    labels : array_like, tensor or dataset
        1-D integer class ids, or a dataset with ``targets`` / ``labels``.
    imbalance_ratio : float, optional
        ``IF = n_max / n_min`` (>= 1); required unless ``counts`` is given.
    profile : {"exp", "step", "linear", "zipf"}, default "exp"
        The shape of the class sizes.
    seed : int, default 0
        Any integer.
    counts : array_like of int, optional
        Explicit per-class sizes, in sorted class-id order (at most each class's size).

    Returns
    -------
    numpy.ndarray
        Sorted int64 indices into ``labels``.

    Raises
    ------
    TypeError
        If ``labels`` are not numeric class ids, or if ``imbalance_ratio`` is missing
        (without ``counts``) or not a number, or ``seed`` is not an integer.
    ValueError
        If ``imbalance_ratio`` is below 1 or not finite, or given together with
        ``counts``; if ``profile`` is unknown; if ``counts`` does not have one
        non-negative integer per class or asks a class for more examples than it has;
        if ``labels`` is empty or not integer class ids.

    References
    ----------
    Cao et al. 2019, "Learning imbalanced datasets with label-distribution-aware margin
    loss", NeurIPS. Cui et al. 2019, "Class-balanced loss based on effective number of
    samples", CVPR. Buda et al. 2018, "A systematic study of the class imbalance problem
    in convolutional neural networks", Neural Networks.

    Examples
    --------
    >>> y = np.repeat(np.arange(4), 50)
    >>> np.bincount(y[long_tailed_indices(y, imbalance_ratio=5, profile="step")]).tolist()
    [50, 50, 10, 10]
    >>> np.bincount(y[long_tailed_indices(y, imbalance_ratio=5, profile="linear")]).tolist()
    [50, 36, 23, 10]
    >>> np.bincount(y[long_tailed_indices(y, imbalance_ratio=4, profile="zipf")]).tolist()
    [50, 25, 16, 12]
    >>> np.bincount(y[long_tailed_indices(y, counts=[3, 0, 7, 50])]).tolist()
    [3, 0, 7, 50]
    """
    if counts is not None:
        if imbalance_ratio is not None:
            raise ValueError("imbalance_ratio: pass either imbalance_ratio (with a profile) "
                             "or counts, not both")
        y = _labels(labels)
        seed = _check_seed(seed)
        classes, inverse = np.unique(y, return_inverse=True)
        inverse = inverse.reshape(-1)
        have = np.bincount(inverse, minlength=len(classes))
        return _subset(y, classes, inverse, _explicit_counts(counts, have), seed)
    if imbalance_ratio is None:
        raise TypeError("imbalance_ratio: required unless counts= is given")
    y, ratio, seed, classes, inverse, have = _prepare(labels, imbalance_ratio, seed)
    n_max, c = int(have.max()), len(classes)
    if profile == "exp":
        want = _exp_profile(n_max, c, ratio)
    elif profile == "step":
        want = np.full(c, n_max, dtype=np.int64)
        want[c // 2 :] = int(math.floor(n_max / ratio + 1e-9))
    elif profile == "linear":
        want = _linear_profile(n_max, c, ratio)
    elif profile == "zipf":
        want = _zipf_profile(n_max, c, ratio)
    else:
        raise ValueError(f"profile: expected one of {_PROFILES}, got {profile!r}")
    return _subset(y, classes, inverse, want, seed)


def test_distribution_indices(
    labels: Any, *, imbalance_ratio: float, direction: str = "forward", seed: int = 0
) -> np.ndarray:
    """Indices of a test set with a chosen label distribution (test-agnostic evaluation).

    As SADE (Zhang et al. 2022, "Self-supervised aggregation of diverse experts for
    test-agnostic long-tailed recognition"): ``"forward"`` is long-tailed in the same
    direction as training (class ``i`` keeps ``floor(n_max * IF**(-i/(C-1)))``),
    ``"backward"`` reverses it (the tail classes become the head), ``"uniform"`` keeps
    the same number of examples, the smallest class size, of every class
    (``imbalance_ratio`` is then unused). Classes are ordered by sorted class id.

    Parameters
    ----------
    labels : array_like, tensor or dataset
        1-D integer class ids, or a dataset with ``targets`` / ``labels``.
    imbalance_ratio : float
        ``IF = n_max / n_min`` (>= 1) of the forward / backward profiles.
    direction : {"forward", "backward", "uniform"}, default "forward"
        The test label distribution.
    seed : int, default 0
        Any integer; which examples are kept is random, fixed by ``seed``.

    Returns
    -------
    numpy.ndarray
        Sorted int64 indices into ``labels``.

    Raises
    ------
    TypeError
        If ``labels`` are not numeric class ids, or if ``imbalance_ratio`` is not a number
        or ``seed`` is not an integer.
    ValueError
        If ``imbalance_ratio`` is below 1 or not finite, ``direction`` is unknown, or
        ``labels`` is empty or not integer class ids.

    References
    ----------
    Zhang et al. 2022, "Self-supervised aggregation of diverse experts for
    test-agnostic long-tailed recognition", NeurIPS.

    Examples
    --------
    >>> y = np.repeat(np.arange(3), 100)
    >>> idx = test_distribution_indices(y, imbalance_ratio=4, direction="backward")
    >>> np.bincount(y[idx]).tolist()
    [25, 50, 100]
    """
    y, ratio, seed, classes, inverse, counts = _prepare(labels, imbalance_ratio, seed)
    n_max, c = int(counts.max()), len(classes)
    if direction == "forward":
        want = _exp_profile(n_max, c, ratio)
    elif direction == "backward":
        want = _exp_profile(n_max, c, ratio)[::-1].copy()
    elif direction == "uniform":
        want = np.full(c, int(counts.min()), dtype=np.int64)
    else:
        raise ValueError(
            f"direction: expected 'forward', 'backward' or 'uniform', got {direction!r}"
        )
    return _subset(y, classes, inverse, want, seed)


# --------------------------------------------------------------------------------------
# federated and continual-learning splits
# --------------------------------------------------------------------------------------


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def _class_members(y: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sorted classes and, per class, its row indices in dataset order."""
    classes, inverse = np.unique(y, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(inverse, minlength=len(classes)))]
    return classes, [order[bounds[c] : bounds[c + 1]] for c in range(len(classes))]


def _check_fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    v = float(value)
    if not (0.0 <= v <= 1.0):
        raise ValueError(f"{name}: must lie in [0, 1], got {value}")
    return v


def dirichlet_partition(
    labels: Any, num_clients: int, *, alpha: float, min_size: int = 0, seed: int = 0
) -> list[np.ndarray]:
    """Label-skewed federated split: per class, client shares drawn from Dir(alpha).

    For every class c independently, proportions ``q ~ Dir(alpha, ..., alpha)`` over the
    K clients are drawn and the class's rows (in random order) are cut at
    ``floor(cumsum(q) * n_c)``, so client k gets about ``q_k n_c`` of them (the split of
    Hsu et al. 2019 and the NIID-Bench / FedLab code). Small ``alpha`` (0.1) gives clients
    that see few classes, large ``alpha`` (100) nearly identical label distributions. If
    some client ends up with fewer than ``min_size`` rows, all proportions are drawn again
    (as NIID-Bench does), at most 1000 times.

    Hsu, Qi, Brown, "Measuring the Effects of Non-Identical Data Distribution for
    Federated Visual Classification", 2019. Li, Diao, Chen, He, "Federated Learning on
    Non-IID Data Silos: An Experimental Study", ICDE 2022.

    Parameters
    ----------
    labels : array_like, tensor or dataset
        1-D integer class ids, or a dataset with ``targets`` / ``labels``.
    num_clients : int
        Number of clients K (>= 1).
    alpha : float
        Dirichlet concentration (> 0).
    min_size : int, default 0
        Smallest number of rows a client may get.
    seed : int, default 0
        Any integer.

    Returns
    -------
    list of numpy.ndarray
        K sorted int64 index arrays: disjoint, together covering every row.

    Raises
    ------
    TypeError
        If ``labels`` are not numeric class ids, or if ``alpha`` is not a number, or
        ``num_clients``, ``min_size`` or ``seed`` is not an integer.
    ValueError
        If ``num_clients`` is below 1, ``alpha`` is not a finite number > 0,
        ``min_size`` is negative, larger than the rows allow, or not reached in 1000
        draws; if ``labels`` is empty or not integer class ids.

    Examples
    --------
    >>> y = np.repeat(np.arange(3), 20)
    >>> parts = dirichlet_partition(y, 4, alpha=0.5, seed=0)
    >>> sorted(np.concatenate(parts).tolist()) == list(range(60))
    True
    """
    y = _labels(labels)
    k = check_positive_int(num_clients, "num_clients")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(f"alpha: expected a number, got {type(alpha).__name__}")
    if not (math.isfinite(float(alpha)) and float(alpha) > 0):
        raise ValueError(f"alpha: must be a finite number > 0, got {alpha}")
    min_size = check_positive_int(min_size, "min_size", minimum=0)
    if min_size * k > y.size:
        raise ValueError(f"min_size: {k} clients of at least {min_size} rows need "
                         f"{min_size * k} rows, the labels have {y.size}")
    rng = _rng(_check_seed(seed))
    _, members = _class_members(y)
    for _ in range(1000):
        parts: list[list[np.ndarray]] = [[] for _ in range(k)]
        for rows in members:
            rows = rng.permutation(rows)
            q = rng.dirichlet(np.full(k, float(alpha)))
            cuts = np.floor(np.cumsum(q)[:-1] * rows.size).astype(np.int64)
            for client, piece in enumerate(np.split(rows, cuts)):
                parts[client].append(piece)
        out = [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]
        if min(p.size for p in out) >= min_size:
            return out
    raise ValueError(f"min_size: no split with every client holding >= {min_size} rows in "
                     f"1000 draws; lower min_size or raise alpha")


def shard_partition(
    labels: Any, num_clients: int, *, classes_per_client: int, seed: int = 0
) -> list[np.ndarray]:
    """Pathological non-IID split of McMahan et al. 2017: a few label shards per client.

    The rows, sorted by label, are cut into ``S = num_clients * classes_per_client``
    shards and every client gets ``classes_per_client`` shards at random. Shards never
    straddle two classes: class c is cut into ``m_c`` near-equal shards, ``m_c``
    proportional to its size (largest remainders, at least one per class), which are
    McMahan's equal cuts whenever the class sizes are multiples of the shard size (e.g.
    MNIST-like balanced data); so a client never sees more than ``classes_per_client``
    classes. Needs ``S >= C`` (every class in at least one shard).

    McMahan, Moore, Ramage, Hampson, Aguera y Arcas, "Communication-Efficient Learning of
    Deep Networks from Decentralized Data", AISTATS 2017.

    Parameters
    ----------
    labels : array_like, tensor or dataset
        1-D integer class ids, or a dataset with ``targets`` / ``labels``.
    num_clients : int
        Number of clients (>= 1).
    classes_per_client : int
        Shards per client (>= 1), hence the most classes a client sees.
    seed : int, default 0
        Any integer.

    Returns
    -------
    list of numpy.ndarray
        ``num_clients`` sorted int64 index arrays: disjoint, together covering every row.

    Raises
    ------
    TypeError
        If ``labels`` are not numeric class ids, or if ``num_clients``,
        ``classes_per_client`` or ``seed`` is not an integer.
    ValueError
        If ``num_clients`` or ``classes_per_client`` is below 1; if
        ``num_clients * classes_per_client`` is smaller than the number of classes
        (``classes_per_client``) or larger than the number of rows (``num_clients``);
        if ``labels`` is empty or not integer class ids.

    Examples
    --------
    >>> y = np.repeat(np.arange(5), 10)
    >>> parts = shard_partition(y, 5, classes_per_client=2, seed=0)
    >>> [len(np.unique(y[p])) <= 2 for p in parts]
    [True, True, True, True, True]
    """
    y = _labels(labels)
    k = check_positive_int(num_clients, "num_clients")
    s = check_positive_int(classes_per_client, "classes_per_client")
    rng = _rng(_check_seed(seed))
    _, members = _class_members(y)
    sizes = np.array([m.size for m in members], dtype=np.int64)
    total = k * s
    if total < sizes.size:
        raise ValueError(f"classes_per_client: num_clients * classes_per_client = {total} "
                         f"shards cannot hold {sizes.size} classes without mixing them")
    if total > y.size:
        raise ValueError(f"num_clients: {total} shards need at least {total} rows, "
                         f"the labels have {y.size}")
    # one shard per class, the rest by largest remainder of the proportional share,
    # never more shards than rows in a class
    m = np.ones(sizes.size, dtype=np.int64)
    extra = total - sizes.size
    while extra > 0:
        share = sizes * total / sizes.sum() - m
        share[m >= sizes] = -np.inf
        j = int(np.argmax(share))
        m[j] += 1
        extra -= 1
    shards: list[np.ndarray] = []
    for rows, mc in zip(members, m):
        shards.extend(np.array_split(rng.permutation(rows), int(mc)))
    order = rng.permutation(total)
    return [np.sort(np.concatenate([shards[j] for j in order[c * s : (c + 1) * s]]))
            .astype(np.int64) for c in range(k)]


def blurry_stream(
    labels: Any, num_tasks: int, *, disjoint_fraction: float, blurry_fraction: float,
    seed: int = 0, return_classes: bool = False,
) -> Any:
    """Online continual-learning stream with blurry task boundaries (i-Blurry, Si-Blurry).

    The classes, in random order, are of two kinds: ``round(disjoint_fraction * C)``
    *disjoint* classes, each of which appears in exactly one task, and *blurry* classes,
    each with a home task that keeps its rows except ``round(blurry_fraction * n_c)``
    of them, which are spread uniformly at random over the other tasks. Each kind of
    class is dealt out to the tasks as evenly as possible. Every row appears exactly
    once; within a task the rows come in random (stream) order. With ``num_tasks = 1``
    nothing can move.

    Koh, Kim, Ha, Choi, Choi, "Online Continual Learning on Class Incremental Blurry Task
    Configuration with Anytime Inference", ICLR 2022 (i-Blurry-N-M: N% disjoint classes,
    M% blurry samples). Moon, Park, Kim, Choi, Han, Choi, "Online Class Incremental
    Learning on Stochastic Blurry Task Boundary via Mask and Visual Prompt Tuning",
    ICCV 2023 (Si-Blurry).

    Parameters
    ----------
    labels : array_like, tensor or dataset
        1-D integer class ids, or a dataset with ``targets`` / ``labels``.
    num_tasks : int
        Number of tasks (>= 1).
    disjoint_fraction : float
        Fraction of the classes, in [0, 1], that are disjoint (seen in one task only).
    blurry_fraction : float
        Fraction, in [0, 1], of each blurry class's rows spread over the other tasks.
    seed : int, default 0
        Any integer.
    return_classes : bool, default False
        Also return the per-class layout.

    Returns
    -------
    list of numpy.ndarray or tuple
        ``num_tasks`` int64 index arrays in stream order: disjoint, covering every row.
        With ``return_classes=True`` also a dict of per-class arrays (sorted class ids):
        ``"classes"``, ``"home_task"`` and ``"disjoint"`` (bool).

    Raises
    ------
    TypeError
        If ``labels`` are not numeric class ids, or if ``disjoint_fraction`` or
        ``blurry_fraction`` is not a number, or ``num_tasks`` or ``seed`` is not an integer.
    ValueError
        If ``num_tasks`` is below 1, ``disjoint_fraction`` or ``blurry_fraction`` lies
        outside [0, 1], or ``labels`` is empty or not integer class ids.

    Examples
    --------
    >>> y = np.repeat(np.arange(4), 10)
    >>> tasks = blurry_stream(y, 2, disjoint_fraction=0.5, blurry_fraction=0.2, seed=0)
    >>> sorted(np.concatenate(tasks).tolist()) == list(range(40))
    True
    """
    y = _labels(labels)
    t = check_positive_int(num_tasks, "num_tasks")
    dfrac = _check_fraction(disjoint_fraction, "disjoint_fraction")
    bfrac = _check_fraction(blurry_fraction, "blurry_fraction")
    rng = _rng(_check_seed(seed))
    classes, members = _class_members(y)
    c = len(members)
    order = rng.permutation(c)
    n_disjoint = int(round(dfrac * c))
    homes = np.zeros(c, dtype=np.int64)
    is_disjoint = np.zeros(c, dtype=bool)
    is_disjoint[order[:n_disjoint]] = True
    tasks: list[list[np.ndarray]] = [[] for _ in range(t)]
    for kind, group in ((0, order[:n_disjoint]), (1, order[n_disjoint:])):
        # deal each kind out evenly, starting at a random task so that the leftovers of
        # an uneven split do not always land in the first tasks
        start = int(rng.integers(t))
        for pos, cls in enumerate(group):
            home = (start + pos) % t
            homes[cls] = home
            rows = rng.permutation(members[cls])
            if kind == 0 or t == 1:
                tasks[home].append(rows)
                continue
            moved = int(round(bfrac * rows.size))
            tasks[home].append(rows[moved:])
            dest = rng.integers(t - 1, size=moved)
            dest = dest + (dest >= home)  # uniform over the other tasks
            for task in range(t):
                tasks[task].append(rows[:moved][dest == task])
    out = [rng.permutation(np.concatenate(parts)).astype(np.int64) if parts
           else np.zeros(0, dtype=np.int64) for parts in tasks]
    if return_classes:
        return out, {"classes": classes, "home_task": homes, "disjoint": is_disjoint}
    return out
