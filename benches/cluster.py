"""k-means: longtail against faiss-cpu and scikit-learn on the same data.

    python benches/cluster.py            # 100k x 128, k = 100; 100 classes x (2000 x 128 -> 20)
    python benches/cluster.py --large    # also 200k x 512, k = 256

Every method runs 20 Lloyd iterations (faiss: niter=20; scikit-learn and longtail:
max_iter=20, tol=0, which may stop earlier only when the labels stop changing; the
iteration counts are printed). faiss is run on all rows (max_points_per_centroid = n,
"same data"); its default subsamples k * 256 rows, shown as a separate row. Inertia is
recomputed the same way for every method (exact sum of squared distances of every row
to its nearest returned centre). Ratios: peer time / longtail time (higher is better for
longtail) and inertia / scikit-learn's inertia (lower is better, 1.00 = same quality).
GFLOP/s counts the 2 n d k flops of every Lloyd iteration over the whole fit time
(seeding included), as if every distance were computed; longtail's Lloyd iterations
skip most of them (Hamerly's bounds), so its figure is an "effective" rate. "assign
GFLOP/s" times one full assignment step alone (all n x k distances).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, table, timeit  # noqa: E402

import longtail  # noqa: E402
from longtail import _core  # noqa: E402
from longtail.cluster import KMeans, subclass_labels  # noqa: E402

ITERS = 20


def peak_gflops() -> float:
    """Nominal f32 peak: cores x FMA units (2) x SIMD lanes x 2 flops x clock."""
    flags, mhz = "", 0.0
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags") and not flags:
                flags = line
            if line.startswith("cpu MHz") and not mhz:
                mhz = float(line.split(":")[1])
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    return (os.cpu_count() or 1) * 2 * lanes * 2 * mhz / 1e3


def data(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    """Overlapping Gaussian blobs (k centres), float32: Lloyd needs many iterations."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)).astype(np.float32) * 1.5
    X = centres[rng.integers(0, k, n)]
    X += rng.normal(size=(n, d)).astype(np.float32)
    return X


def exact_inertia(X: np.ndarray, C: np.ndarray) -> float:
    C = np.ascontiguousarray(C, dtype=X.dtype)
    labels, _ = _core.kmeans_assign(X, C)
    return _core.kmeans_inertia(X, C, labels)


def bench_kmeans(n: int, d: int, k: int, repeats: int, sk_repeats: int) -> list[dict]:
    import faiss
    from sklearn.cluster import KMeans as SkKMeans

    X = data(n, d, k)
    flops = 2.0 * n * d * k
    rows = []

    def lt():
        return KMeans(k, max_iter=ITERS, tol=0.0, seed=0).fit(X)

    t_lt, km = timeit(lt, repeats=repeats, warmup=1)
    xn = _core.kmeans_row_norms(X)
    t_step, _ = timeit(lambda: _core.kmeans_step(X, xn, km.cluster_centers_), repeats=5)

    def fa(mp):
        def run():
            f = faiss.Kmeans(d, k, niter=ITERS, seed=1, max_points_per_centroid=mp)
            f.train(X)
            return f

        return run

    t_fa, f_all = timeit(fa(n), repeats=repeats)
    t_fd, f_def = timeit(fa(256), repeats=repeats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_sk, sk = timeit(
            lambda: SkKMeans(k, n_init=1, max_iter=ITERS, tol=0.0, random_state=0).fit(X),
            repeats=sk_repeats,
        )
    i_sk = exact_inertia(X, sk.cluster_centers_)
    shape = f"{n // 1000}k x {d}, k={k}"
    # faiss's default trains on min(n, 256 k) sampled rows: count only those flops.
    sub = min(n, 256 * k) / n
    for name, t, C, it, frac in [
        ("longtail", t_lt, km.cluster_centers_, km.n_iter_, 1.0),
        ("faiss (all rows)", t_fa, f_all.centroids, ITERS, 1.0),
        ("faiss (default, subsampled)", t_fd, f_def.centroids, ITERS, sub),
        ("scikit-learn", t_sk, sk.cluster_centers_, sk.n_iter_, 1.0),
    ]:
        rows.append(
            {
                "case": shape,
                "method": name,
                "time s": t,
                "vs longtail": t / t_lt,
                "iters": it,
                "inertia / sklearn": exact_inertia(X, C) / i_sk,
                "GFLOP/s": flops * frac * it / t / 1e9,
            }
        )
    rows[0]["assign GFLOP/s"] = flops / t_step / 1e9
    return rows


def bench_per_class(
    classes: int, per: int, d: int, k: int, repeats: int, sk_repeats: int
) -> list[dict]:
    import faiss
    from sklearn.cluster import KMeans as SkKMeans

    X = np.concatenate([data(per, d, k, seed=c) + 3.0 * c for c in range(classes)])
    y = np.repeat(np.arange(classes), per)
    flops = 2.0 * classes * per * d * k

    def within(labels: np.ndarray) -> float:
        # sum over subclasses of squared distances to the subclass mean
        tot = 0.0
        for s in np.unique(labels):
            rows = X[labels == s].astype(np.float64)
            tot += ((rows - rows.mean(0)) ** 2).sum()
        return tot

    def lt():
        return subclass_labels(X, y, subclass_size=per / k, max_iter=ITERS, tol=0.0)[0]

    def fa():
        out = np.empty(len(y), dtype=np.int64)
        for c in range(classes):
            f = faiss.Kmeans(d, k, niter=ITERS, seed=1)
            xc = X[y == c]
            f.train(xc)
            out[y == c] = f.index.search(xc, 1)[1][:, 0] + c * k
        return out

    def sk():
        out = np.empty(len(y), dtype=np.int64)
        for c in range(classes):
            xc = X[y == c]
            m = SkKMeans(k, n_init=1, max_iter=ITERS, tol=0.0, random_state=0).fit(xc)
            out[y == c] = m.labels_ + c * k
        return out

    t_lt, l_lt = timeit(lt, repeats=repeats, warmup=1)
    t_fa, l_fa = timeit(fa, repeats=repeats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_sk, l_sk = timeit(sk, repeats=sk_repeats)
    i_sk = within(l_sk)
    shape = f"{classes} classes x ({per} x {d} -> {k})"
    return [
        {
            "case": shape,
            "method": name,
            "time s": t,
            "vs longtail": t / t_lt,
            "iters": f"<= {ITERS}",
            "inertia / sklearn": within(lab) / i_sk,
            "GFLOP/s": flops * ITERS / t / 1e9,
        }
        for name, t, lab in [
            ("longtail subclass_labels", t_lt, l_lt),
            ("faiss loop", t_fa, l_fa),
            ("scikit-learn loop", t_sk, l_sk),
        ]
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also 200k x 512, k = 256")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of longtail and faiss")
    parser.add_argument(
        "--sk-repeats", type=int, default=1, help="repeats of scikit-learn (>= 10x slower)"
    )
    parser.add_argument(
        "--cases", default="kmeans,per-class", help="comma-separated: kmeans, per-class"
    )
    args = parser.parse_args()
    print(f"# {machine()}; longtail threads: {longtail.get_num_threads()}")
    print(f"# nominal f32 peak ~{peak_gflops():.0f} GFLOP/s; load average {os.getloadavg()}")
    print(f"# {' '.join(sys.argv)}", flush=True)
    cases = args.cases.split(",")
    cols = ["case", "method", "time s", "vs longtail", "iters", "inertia / sklearn", "GFLOP/s"]
    cols.append("assign GFLOP/s")
    rows: list[dict] = []

    def show(new: list[dict]) -> None:
        rows.extend(new)
        print(table(new, cols), flush=True)

    if "kmeans" in cases:
        show(bench_kmeans(100_000, 128, 100, args.repeats, args.sk_repeats))
    if "per-class" in cases:
        show(bench_per_class(100, 2000, 128, 20, args.repeats, args.sk_repeats))
    if args.large:
        show(bench_kmeans(200_000, 512, 256, args.repeats, args.sk_repeats))
    print("\n" + table(rows, cols))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"# load average after: {os.getloadavg()}; {when}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
