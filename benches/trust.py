"""Per-class bootstrap intervals: longtail's multinomial-on-confusion-rows bootstrap
against a numpy bootstrap that resamples examples within each class.

    python benches/trust.py            # 10**5 predictions (both methods, ~30 s)
    python benches/trust.py --large    # + 10**7 predictions, 1000 classes (issue 16)

The numpy reference draws, for each resample and class, indices into the class's
examples and recounts the hits: O(resamples x n). It is timed at 10**5 predictions and
extrapolated linearly in n (its cost is exactly proportional to n x resamples); the
two methods' intervals are compared at 10**5 (same distribution: the percentiles of
two independent runs agree to Monte-Carlo error).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import machine, table

from longtail.metrics import class_intervals


def make_data(n: int, c: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Long-tailed test labels (Zipf-like class sizes), a classifier with recall falling
    from 0.9 (head) to 0.4 (tail), errors spread over all classes."""
    rng = np.random.default_rng(seed)
    w = 1.0 / np.arange(1, c + 1) ** 0.8
    y = rng.choice(c, size=n, p=w / w.sum()).astype(np.int64)
    recall = np.linspace(0.9, 0.4, c)
    right = rng.random(n) < recall[y]
    pred = np.where(right, y, rng.integers(0, c, n))
    return y, pred


def numpy_bootstrap(y: np.ndarray, pred: np.ndarray, c: int, n_resamples: int, seed: int = 0):
    """Stratified bootstrap by resampling examples (per-class recall percentiles)."""
    rng = np.random.default_rng(seed)
    order = np.argsort(y, kind="stable")
    hit = (pred == y)[order]
    sizes = np.bincount(y, minlength=c)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.empty((n_resamples, c))
    for r in range(n_resamples):
        # One draw per example: an offset inside its own class's block.
        idx = starts.repeat(sizes) + (rng.random(y.size) * sizes.repeat(sizes)).astype(np.int64)
        out[r] = np.bincount(y[order], weights=hit[idx], minlength=c) / np.maximum(sizes, 1)
    return np.quantile(out, [0.025, 0.975], axis=0)


def bench(n: int, c: int, n_resamples: int, reference_n: int | None) -> list[dict]:
    y, pred = make_data(n, c)
    class_intervals(y[:1000], pred[:1000], method="bootstrap", n_resamples=10)  # warm-up
    t0 = time.perf_counter()
    class_intervals(y, pred, method="bootstrap", n_resamples=n_resamples)
    t_ours = time.perf_counter() - t0
    rows = [
        {
            "n": f"{n:.0e}",
            "classes": c,
            "resamples": n_resamples,
            "method": "longtail class_intervals (multinomial rows)",
            "time s": t_ours,
            "vs longtail": 1.0,
        }
    ]
    if reference_n is not None:
        yr, pr = (y, pred) if reference_n == n else make_data(reference_n, c)
        reps = max(20, min(n_resamples, 200))
        t0 = time.perf_counter()
        lo_hi = numpy_bootstrap(yr, pr, c, reps)
        t_ref = (time.perf_counter() - t0) * (n_resamples / reps) * (n / reference_n)
        note = "" if reference_n == n and reps == n_resamples else " (extrapolated)"
        rows.append(
            {
                "n": f"{n:.0e}",
                "classes": c,
                "resamples": n_resamples,
                "method": f"numpy, resampling examples{note}",
                "time s": t_ref,
                "vs longtail": t_ref / t_ours,
            }
        )
        if reference_n == n:
            ref = class_intervals(yr, pr, method="bootstrap", n_resamples=n_resamples)
            big = np.bincount(yr, minlength=c) >= 100
            gap = np.nanmax(np.abs(np.stack([ref["low"], ref["high"]])[:, big] - lo_hi[:, big]))
            rows[-1]["max |percentile diff|, classes n >= 100"] = float(gap)
    return rows


def readme_plot(out: str) -> None:
    """The README's example: ``longtail compare`` of plain cross-entropy against balanced
    softmax on the demo's long-tailed digits (one seed, real models)."""
    from pathlib import Path

    from longtail.cli import main as cli
    from longtail.demo import DemoConfig, run_demo

    cfg = DemoConfig(seeds=1, recipes=("ce", "balanced-softmax"))
    result = run_demo(cfg)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for recipe, name in (("ce", "cross_entropy.npz"), ("balanced-softmax", "balanced_softmax.npz")):
        np.savez(
            folder / name,
            y_true=result.y_test,
            scores=result.probs[recipe],
            train_counts=result.train_counts,
        )
    cli(
        [
            "compare",
            str(folder / "cross_entropy.npz"),
            str(folder / "balanced_softmax.npz"),
            "--many",
            str(cfg.many),
            "--few",
            str(cfg.few),
            "--out",
            str(folder / "compare"),
            "--force",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also 10**7 predictions")
    parser.add_argument(
        "--readme-plot", metavar="DIR", help="only write the README's compare example to DIR"
    )
    args = parser.parse_args()
    if args.readme_plot:
        readme_plot(args.readme_plot)
        return
    rows = bench(10**5, 1000, 2000, reference_n=10**5)
    if args.large:
        rows += bench(10**7, 1000, 2000, reference_n=10**5)
    print(machine())
    cols = ["n", "classes", "resamples", "method", "time s", "vs longtail"]
    cols.append("max |percentile diff|, classes n >= 100")
    print(table(rows, cols))


if __name__ == "__main__":
    main()
