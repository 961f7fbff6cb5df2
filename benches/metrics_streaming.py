"""Binned streaming AUROC: longtail vs torchmetrics' binned AUROC (``thresholds=``).

    python benches/metrics_streaming.py            # n = 1e5 (under a minute)
    python benches/metrics_streaming.py --large    # n = 1e7 too (torchmetrics: minutes)

Same data for both (float32 scores in [0, 1], torch tensors as input). longtail's
``AUROC("binary", bins=T, score_range=(0, T/(T-1)))`` puts its bin edges on
torchmetrics' thresholds ``linspace(0, 1, T)``, so both compute the same binned ROC
curve and must agree to float32 round-off; each is also checked against the exact AUC.
Prints peer time / longtail time. torchmetrics loops over the thresholds (one pass over
the data per threshold), so its time grows as n x T; longtail makes one pass.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table, timeit  # noqa: E402


def _data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    s = np.clip(rng.beta(2.0, 5.0, n) + 0.2 * y, 0.0, 1.0).astype(np.float32)
    return torch.from_numpy(s), torch.from_numpy(y.astype(np.int64))


def time_binned_auroc(
    n: int, thresholds: int, peer_repeats: int = 1
) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((seconds, auc) of longtail, (seconds, auc) of torchmetrics)``: update + compute
    on the same n rows, longtail's bins on torchmetrics' thresholds. Also used by
    ``benches/metrics.py``."""
    from torchmetrics.classification import BinaryAUROC

    from longtail.metrics.streaming import AUROC

    preds, target = _data(n)
    t = thresholds

    def ours() -> float:
        acc = AUROC("binary", bins=t, score_range=(0.0, t / (t - 1)))
        acc.update(preds, target)
        return acc.compute()

    def peer() -> float:
        m = BinaryAUROC(thresholds=t)
        m.update(preds, target)
        return float(m.compute())

    return timeit(ours, repeats=5, warmup=1), timeit(peer, repeats=peer_repeats)


def bench_binned_auroc(n: int, thresholds: int, peer_repeats: int = 1) -> dict:
    """One row: time of update + compute for longtail and torchmetrics, and agreement."""
    from sklearn.metrics import roc_auc_score

    t = thresholds
    (t_ours, r_ours), (t_peer, r_peer) = time_binned_auroc(n, t, peer_repeats)
    preds, target = _data(n)
    exact = roc_auc_score(target.numpy(), preds.numpy())
    agree = abs(r_ours - r_peer)
    assert agree < 1e-5, f"longtail {r_ours} vs torchmetrics {r_peer}"
    return {
        "n": f"{n:.0e}",
        "bins": t,
        "longtail s": t_ours,
        "torchmetrics s": t_peer,
        "ratio": t_peer / t_ours,
        "lt-tm diff": agree,
        "lt-exact diff": abs(r_ours - exact),
        "state": f"{2 * t * 8} B",
    }


def bench_binned_accuracy(n: int) -> dict:
    """4096 bins over [0, 1] against the exact AUC (criterion: within 1e-3)."""
    from longtail.metrics.streaming import AUROC

    preds, target = _data(n, seed=1)
    binned = AUROC("binary", bins=4096)
    exact = AUROC("binary")
    for chunk in range(0, n, 1 << 20):  # streamed in batches, as in an eval loop
        sl = slice(chunk, chunk + (1 << 20))
        binned.update(preds[sl], target[sl])
        exact.update(preds[sl], target[sl])
    gap = abs(binned.compute() - exact.compute())
    return {"n": f"{n:.0e}", "bins": 4096, "binned-exact diff": gap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also n = 1e7")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"# binned streaming AUROC ({machine()}, torch threads {torch.get_num_threads()})")
    rows = [bench_binned_auroc(10**5, 100), bench_binned_auroc(10**5, 1024)]
    if args.large:
        rows.append(bench_binned_auroc(10**7, 100))
    print(
        table(
            rows,
            ["n", "bins", "longtail s", "torchmetrics s", "ratio", "lt-tm diff", "lt-exact diff",
             "state"],
        )
    )
    acc = [bench_binned_accuracy(10**6)]
    print()
    print(table(acc, ["n", "bins", "binned-exact diff"]))


if __name__ == "__main__":
    main()
