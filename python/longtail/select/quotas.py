"""Per-class budgets: water-filling with caps and minimums, largest-remainder rounding."""

from __future__ import annotations

from typing import Any

import numpy as np

from longtail._checks import as_1d_labels
from longtail.select._common import check_count, check_real

__all__ = ["class_quotas"]


def _water_fill(room: np.ndarray, weight: np.ndarray, total: int) -> np.ndarray:
    """Continuous ``x_j = min(room_j, t * weight_j)`` with ``sum x = total``."""
    x = np.zeros(room.size, dtype=np.float64)
    active = (room > 0) & (weight > 0)
    if total <= 0 or not active.any():
        return x
    idx = np.flatnonzero(active)
    order = idx[np.argsort(room[idx] / weight[idx], kind="stable")]
    rest, wsum = float(total), float(weight[idx].sum())
    k = 0
    # Classes whose cap is reached at the current level are filled, the rest share on.
    while k < order.size:
        j = order[k]
        if rest * weight[j] >= room[j] * wsum:
            x[j] = room[j]
            rest -= room[j]
            wsum -= weight[j]
            k += 1
        else:
            break
    if k < order.size and wsum > 0:
        left = order[k:]
        x[left] = np.minimum(room[left], rest * weight[left] / wsum)
    return x


def _largest_remainder(x: np.ndarray, room: np.ndarray, total: int) -> np.ndarray:
    """Integers ``<= room`` summing to ``total``: floors of ``x``, the units left go to
    the largest fractional parts (ties to the smaller index)."""
    # Shares are computed in floats: a share within 1e-9 of an integer is that integer,
    # and fractional parts equal to 9 digits tie (then the smaller index wins), so
    # rounding noise never decides which class gets a unit.
    near = np.round(x)
    x = np.where(np.abs(x - near) <= 1e-9 * np.maximum(1.0, np.abs(x)), near, x)
    fl = np.minimum(np.floor(x).astype(np.int64), room)
    left = total - int(fl.sum())
    while left > 0:
        ok = np.flatnonzero(fl < room)
        if ok.size == 0:
            break
        frac = np.round((x[ok] - np.floor(x[ok])) * 1e9)
        pick = ok[np.lexsort((ok, -frac))][:left]
        fl[pick] += 1
        left -= pick.size
    return fl


def class_quotas(
    class_counts: Any,
    budget: int,
    *,
    power: float = 0.0,
    min_per_class: int = 0,
    max_per_class: int | None = None,
) -> np.ndarray:
    """Split ``budget`` examples over classes of sizes ``class_counts``.

    Each class first gets ``min(min_per_class, n_j)``. The rest of the budget is
    water-filled with shares proportional to ``n_j ** power`` over the classes with
    ``n_j > 0``, each class capped at ``min(n_j, max_per_class)``: a capped class's
    surplus goes to the others. The shares are made integers by largest remainder
    (ties to the smaller class index), so the quotas always sum to exactly
    ``min(budget, sum of caps)`` -- the rounding that DeepCore's ``--balance`` misses.
    ``power=0`` is class-balanced, ``1`` instance-proportional, ``0.5`` square-root
    (Kang et al. 2020; Mahajan et al. 2018).

    Parameters
    ----------
    class_counts : array-like of int, shape (C,)
        Examples available per class (>= 0).
    budget : int
        Examples to choose in total (>= 0).
    power : float
        Shares are proportional to ``n_j ** power``.
    min_per_class : int
        Every class gets at least ``min(min_per_class, n_j)``.
    max_per_class : int or None
        Cap on any class.

    Returns
    -------
    numpy.ndarray of int64, shape (C,)
        Examples per class, summing to ``min(budget, sum of caps)``.

    Raises
    ------
    TypeError
        If ``class_counts`` is not integer data, ``budget``, ``min_per_class`` or
        ``max_per_class`` is not an integer, or ``power`` is not a finite number.
    ValueError
        If the minimums alone exceed the budget, any count is negative,
        ``class_counts`` is empty or not 1-D, ``budget`` or a per-class bound is
        negative, or ``max_per_class < min_per_class``.

    Examples
    --------
    >>> from longtail.select import class_quotas
    >>> class_quotas([500, 100, 20, 5], 100).tolist()
    [38, 37, 20, 5]
    >>> class_quotas([500, 100, 20, 5], 100, power=1.0).tolist()
    [80, 16, 3, 1]
    >>> class_quotas([500, 100, 20, 5], 90, min_per_class=10, max_per_class=30).tolist()
    [30, 30, 20, 5]
    """
    counts = as_1d_labels(class_counts, "class_counts")
    if np.any(counts < 0):
        raise ValueError("class_counts: counts must be >= 0")
    budget = check_count(budget, "budget")
    power = check_real(power, "power")
    min_per_class = check_count(min_per_class, "min_per_class")
    cap = counts.copy()
    if max_per_class is not None:
        max_per_class = check_count(max_per_class, "max_per_class")
        if max_per_class < min_per_class:
            raise ValueError(
                f"max_per_class: must be >= min_per_class = {min_per_class}, got {max_per_class}"
            )
        cap = np.minimum(cap, max_per_class)
    base = np.minimum(counts, min_per_class)
    if int(base.sum()) > budget:
        raise ValueError(
            f"min_per_class: the minimums alone need {int(base.sum())} examples, more than "
            f"budget = {budget}"
        )
    total = min(budget, int(cap.sum()))
    rest = total - int(base.sum())
    room = cap - base
    present = counts > 0
    weight = np.zeros(counts.size, dtype=np.float64)
    if present.any():
        logn = np.log(counts[present].astype(np.float64))
        # Scaled by the largest weight, so large powers do not overflow.
        w = np.exp(power * logn - np.max(power * logn))
        weight[present] = np.maximum(w, 1e-300)
    extra = _water_fill(room.astype(np.float64), weight, rest)
    return base + _largest_remainder(extra, room, rest)
