"""Long-tailed subsets of balanced datasets (CIFAR-LT style) and test distributions.

>>> labels = [c for c in range(3) for _ in range(100)]
>>> idx = long_tailed_indices(labels, imbalance_ratio=10)
>>> np.bincount(np.asarray(labels)[idx]).tolist()
[100, 31, 10]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from longtail.samplers import _check_seed, _labels

__all__ = ["long_tailed_indices", "test_distribution_indices"]


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

def long_tailed_indices(
    labels: Any, *, imbalance_ratio: float, profile: str = "exp", seed: int = 0
) -> np.ndarray:
    """Indices of a long-tailed subset of a (balanced) dataset, CIFAR-LT style.

    Classes are ordered by sorted class id; ``n_max`` is the largest class size.
    ``profile="exp"``: class ``i`` keeps ``floor(n_max * IF**(-i/(C-1)))`` examples
    (Cao et al. 2019, LDAM; Cui et al. 2019); ``profile="step"``: the first half of the
    classes keep ``n_max``, the rest ``floor(n_max / IF)`` (Buda et al. 2018). A class
    keeps at most what it has. Which examples are kept is random, fixed by ``seed``.

    Args:
        labels: 1-D integer class ids, or a dataset with ``targets`` / ``labels``.
        imbalance_ratio: ``IF = n_max / n_min`` (>= 1).
        profile: ``"exp"`` or ``"step"``.
        seed: any integer.

    Returns:
        Sorted int64 indices into ``labels``.

    >>> y = np.repeat(np.arange(4), 50)
    >>> np.bincount(y[long_tailed_indices(y, imbalance_ratio=5, profile="step")]).tolist()
    [50, 50, 10, 10]
    """
    y, ratio, seed, classes, inverse, counts = _prepare(labels, imbalance_ratio, seed)
    n_max, c = int(counts.max()), len(classes)
    if profile == "exp":
        want = _exp_profile(n_max, c, ratio)
    elif profile == "step":
        want = np.full(c, n_max, dtype=np.int64)
        want[c // 2 :] = int(math.floor(n_max / ratio + 1e-9))
    else:
        raise ValueError(f"profile: expected 'exp' or 'step', got {profile!r}")
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
