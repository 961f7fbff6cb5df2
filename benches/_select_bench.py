"""The body of ``benches/select.py`` (kept apart, see there).

Selection: longtail.select against the fastest numpy / torch references on the same data.

    python benches/select.py            # default sizes (about a minute)
    python benches/select.py --large    # the sizes of issue 13 (10**7 and 10**8 rows,
                                        # 10**5 x 128 k-center, 10**6 x 1000 probabilities)

Rows (issue 13, criterion 5; ClassAdaptiveThreshold is benchmarked with the lead's module):

- ``select_per_class``: float32 scores, 1000 Zipf classes, quota 1000 per class, against
  two vectorised numpy versions -- one stable argsort of a combined (class, score) key,
  and a per-class ``np.partition`` threshold with exact tie handling on a stable
  class grouping -- the faster of which is the reference. At 10**8 rows only longtail
  runs, in a fresh process, and the extra peak memory of the call is reported
  (``VmHWM`` after the call minus ``VmRSS`` before it, the peak reset through
  ``/proc/self/clear_refs``).
- ``kcenter_greedy``: Gaussian blobs, against the incremental torch reference that
  updates the nearest-centre distances with one ``torch.cdist`` per step, on the same
  number of threads.
- ``uncertainty_query(strategy="entropy", class_balanced=True)`` on float32 softmax rows,
  against numpy (entropy, argmax and the per-class top-k, in row blocks of 10**5 so the
  temporaries fit in memory).

"x ref" = reference time / longtail time. Every row checks that the outputs agree.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table, timeit  # noqa: E402

import longtail  # noqa: E402
from longtail.select import (  # noqa: E402
    kcenter_greedy,
    random_keys,
    select_per_class,
    uncertainty_query,  # noqa: E402
)
from longtail.select.query import _balanced_quotas  # noqa: E402

ENTRY = Path(__file__).resolve().parent / "select.py"
COLUMNS = [
    "function",
    "size",
    "longtail s",
    "reference",
    "reference s",
    "x ref",
    "agree",
    "extra bytes/row",
]


def zipf_labels(n: int, c: int, seed: int = 0) -> np.ndarray:
    """Class j with probability proportional to 1 / (j + 1), drawn in blocks."""
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(1.0 / np.arange(1, c + 1))
    cdf /= cdf[-1]
    out = np.empty(n, dtype=np.int64)
    for s in range(0, n, 10**7):
        e = min(n, s + 10**7)
        out[s:e] = np.searchsorted(cdf, rng.random(e - s), side="right")
    return np.minimum(out, c - 1)


def scores_f32(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=np.float32)
    for s in range(0, n, 10**7):
        e = min(n, s + 10**7)
        out[s:e] = rng.random(e - s, dtype=np.float32)
    return out


def _desc_key(scores: np.ndarray) -> np.ndarray:
    """uint32 key, ascending = descending float32 score (-0.0 as 0.0)."""
    b = (scores + np.float32(0)).view(np.uint32)
    neg = b >> np.uint32(31) == 1
    up = np.where(neg, ~b, b | np.uint32(0x80000000))
    return ~up


def numpy_topk_sort(labels, scores, quota):
    """One stable argsort of (class << 32 | descending score key); ties by index."""
    key = (labels.astype(np.uint64) << np.uint64(32)) | _desc_key(scores).astype(np.uint64)
    order = np.argsort(key, kind="stable")
    lab = labels[order]
    starts = np.searchsorted(lab, np.arange(labels.max() + 1))
    rank = np.arange(order.size) - starts[lab]
    return np.sort(order[rank < quota])


def numpy_topk_partition(labels, scores, quota):
    """Stable grouping by class, then per class the quota-th largest score by
    ``np.partition``; rows above it, plus the first rows (by index) equal to it."""
    order = np.argsort(labels, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(labels))])
    out = []
    for c in range(bounds.size - 1):
        rows = order[bounds[c] : bounds[c + 1]]
        if rows.size <= quota:
            out.append(rows)
            continue
        s = scores[rows]
        t = np.partition(s, rows.size - quota)[rows.size - quota]
        above = rows[s > t]
        ties = rows[s == t][: quota - above.size]
        out.append(above)
        out.append(ties)
    return np.sort(np.concatenate(out))


def bench_per_class(n: int, c: int = 1000, quota: int = 1000) -> list[dict[str, Any]]:
    y = zipf_labels(n, c)
    s = scores_f32(n)
    t_lt, got = timeit(lambda: select_per_class(y, quota, scores=s), repeats=3, warmup=1)
    rows = []
    for name, fn in [("numpy argsort", numpy_topk_sort), ("numpy partition", numpy_topk_partition)]:
        t_ref, want = timeit(lambda fn=fn: fn(y, s, quota), repeats=1)
        rows.append(
            {
                "function": "select_per_class",
                "size": f"n={n:.0e}, C={c}, q={quota}",
                "longtail s": t_lt,
                "reference": name,
                "reference s": t_ref,
                "x ref": t_ref / t_lt,
                "agree": bool(np.array_equal(got, want)),
            }
        )
    return rows


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0


def rss_child(n: int) -> None:
    """In a fresh process: make the data, reset the peak RSS, run one call, report."""
    import time

    y, s = zipf_labels(n, 1000), scores_f32(n)
    before = _status("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS
    t0 = time.perf_counter()
    out = select_per_class(y, 1000, scores=s)
    t = time.perf_counter() - t0
    print(t, _status("VmHWM:") - before, out.size)


def bench_per_class_rss(n: int) -> dict[str, Any]:
    """One call on n rows in a fresh process: time and extra peak memory per row."""
    out = subprocess.run(
        [sys.executable, str(ENTRY), "--rss-child", str(n)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    t, extra, size = float(out[0]), int(out[1]), int(out[2])
    return {
        "function": "select_per_class (fresh process)",
        "size": f"n={n:.0e}, C=1000, q=1000",
        "longtail s": t,
        "reference": "(none)",
        "agree": f"{size} chosen",
        "extra bytes/row": round(extra / n, 2),
    }


def blobs(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)).astype(np.float32) * 3
    x = centres[rng.integers(0, k, n)]
    x += rng.normal(size=(n, d)).astype(np.float32)
    return x


def torch_kcenter(x: np.ndarray, budget: int, first: int, how: str) -> list[int]:
    """Incremental greedy k-center in torch: one distance column per step, by
    ``torch.cdist`` (its default mode) or by the GEMV expansion ``||x||^2 - 2 X c +
    ||c||^2`` (the fastest torch formulation)."""
    import torch

    X = torch.from_numpy(x)
    xn = (X * X).sum(1)

    def col(i: int) -> torch.Tensor:
        if how == "cdist":
            return torch.cdist(X, X[i : i + 1])[:, 0] ** 2
        return (xn - 2 * (X @ X[i]) + xn[i]).clamp_min_(0)

    dmin = col(first)
    out = [first]
    while len(out) < budget:
        i = int(torch.argmax(dmin))
        out.append(i)
        dmin = torch.minimum(dmin, col(i))
    return out


def bench_kcenter(n: int, d: int, budget: int) -> list[dict[str, Any]]:
    import torch

    torch.set_num_threads(longtail.get_num_threads())
    x = blobs(n, d, 200)
    first = int(np.argmin(random_keys(np.arange(n), 0)))
    t_lt, got = timeit(lambda: kcenter_greedy(x, budget), repeats=3, warmup=1)
    rows = []
    for how in ("cdist", "matmul"):
        t_ref, want = timeit(lambda how=how: torch_kcenter(x, budget, first, how), repeats=1)
        same = int(np.sum(np.asarray(want) == got))
        rows.append(
            {
                "function": "kcenter_greedy",
                "size": f"{n}x{d}, budget {budget}",
                "longtail s": t_lt,
                "reference": f"torch {how} ({torch.get_num_threads()} threads)",
                "reference s": t_ref,
                "x ref": t_ref / t_lt,
                "agree": f"{same}/{budget} same order",
            }
        )
    return rows


def softmax_rows(n: int, c: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, c), dtype=np.float32)
    for s in range(0, n, 10**5):
        e = min(n, s + 10**5)
        z = rng.normal(size=(e - s, c)).astype(np.float32) * 3
        z -= z.max(1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(1, keepdims=True)
        out[s:e] = z
    return out


def numpy_balanced_entropy(p: np.ndarray, budget: int) -> np.ndarray:
    n, c = p.shape
    ent = np.empty(n, dtype=np.float64)
    pred = np.empty(n, dtype=np.int64)
    # The fastest numpy we found: float32 log and product in place in one block buffer
    # (3x faster than np.where(p > 0, p log p, 0)); valid because the bench's softmax
    # rows have no exact zeros.
    buf = np.empty((min(n, 10**5), c), dtype=p.dtype)
    for s in range(0, n, 10**5):
        blk = p[s : s + 10**5]
        b = buf[: blk.shape[0]]
        np.log(blk, out=b)
        b *= blk
        ent[s : s + blk.shape[0]] = -b.sum(1)
        pred[s : s + blk.shape[0]] = blk.argmax(1)
    q = _balanced_quotas(np.zeros(c, dtype=np.int64), np.bincount(pred, minlength=c), budget)
    order = np.lexsort((np.arange(n), -ent, pred))
    starts = np.concatenate([[0], np.cumsum(np.bincount(pred, minlength=c))])
    rank = np.arange(n) - starts[pred[order]]
    return np.sort(order[rank < q[pred[order]]])


def bench_query(n: int, c: int, budget: int) -> dict[str, Any]:
    p = softmax_rows(n, c)

    def ours():
        return uncertainty_query(p, budget, strategy="entropy", class_balanced=True)

    t_lt, got = timeit(ours, repeats=3, warmup=1)
    t_ref, want = timeit(lambda: numpy_balanced_entropy(p, budget), repeats=1)
    overlap = np.intersect1d(got, want).size
    return {
        "function": "uncertainty_query (entropy, balanced)",
        "size": f"{n}x{c} f32, budget {budget}",
        "longtail s": t_lt,
        "reference": "numpy",
        "reference s": t_ref,
        "x ref": t_ref / t_lt,
        "agree": "yes" if np.array_equal(got, want) else f"{overlap}/{budget}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="the sizes of issue 13")
    parser.add_argument("--rss-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child)
        return
    print(f"# {machine()}, longtail threads: {longtail.get_num_threads()}\n", flush=True)
    rows = []
    if args.large:
        rows += bench_per_class(10**7)
        rows.append(bench_per_class_rss(10**8))
        rows += bench_kcenter(10**5, 128, 500)
        rows.append(bench_query(10**6, 1000, 10**4))
    else:
        rows += bench_per_class(10**6)
        rows.append(bench_per_class_rss(10**6))
        rows += bench_kcenter(2 * 10**4, 128, 200)
        rows.append(bench_query(5 * 10**4, 1000, 2000))
    print(table(rows, COLUMNS))


if __name__ == "__main__":
    main()
