"""Samplers: longtail against torch's WeightedRandomSampler and pytorch-metric-learning.

Same Zipf-distributed labels (1000 classes) for every contender; each output is
checked for the right class frequencies (chi-square at a fixed seed) before its time
counts. Prints a Markdown table with ratios = peer time / longtail time.

    python benches/samplers.py            # n = 10**6
    python benches/samplers.py --large    # also n = 10**7 and 3 * 10**8 weights
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import chisquare

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table, timeit  # noqa: E402

from longtail.samplers import ClassBalancedSampler, MPerClassSampler, WeightedSampler  # noqa: E402

C = 1000


def zipf_labels(n: int, seed: int = 0) -> np.ndarray:
    """n labels over C classes with class sizes proportional to (rank + 1)**-1.1."""
    rng = np.random.default_rng(seed)
    p = (np.arange(1, C + 1) ** -1.1).astype(np.float64)
    p /= p.sum()
    y = rng.choice(C, size=n, p=p)
    y[:C] = np.arange(C)  # every class present
    return y.astype(np.int64)


def balanced_ok(idx, y) -> str:
    """Class-balanced output: class counts uniform over the C classes?"""
    counts = np.bincount(y[np.asarray(idx)], minlength=C)
    p = chisquare(counts).pvalue
    return f"ok (p={p:.2g})" if p > 1e-4 else f"WRONG (p={p:.2g})"


def m_per_class_ok(batches, y, m: int, batch_size: int) -> str:
    b = np.asarray(batches).reshape(-1, batch_size)
    cls = y[b].reshape(len(b), batch_size // m, m)
    groups_ok = (cls == cls[:, :, :1]).all()
    distinct = all(len(set(row[:, 0].tolist())) == batch_size // m for row in cls[:200])
    # Classes of the m-groups (not of the indices: those come m at a time).
    p = chisquare(np.bincount(cls[:, :, 0].reshape(-1), minlength=C)).pvalue
    if not (groups_ok and distinct):
        return "WRONG batches"
    return f"batches ok, class-uniform {'yes' if p > 1e-4 else 'no'} (p={p:.2g})"


def bench_class_balanced(n: int, repeats: int, peer_repeats: int) -> list[dict]:
    y = zipf_labels(n)
    counts = np.bincount(y, minlength=C)
    weights = torch.as_tensor(1.0 / counts[y])  # class-balanced per-example weights
    rows = []

    wrs = torch.utils.data.WeightedRandomSampler(weights, n, replacement=True)
    torch.manual_seed(0)
    t_wrs, out_wrs = timeit(lambda: list(iter(wrs)), repeats=peer_repeats)
    check_wrs = balanced_ok(out_wrs, y)

    t_init, ours = timeit(lambda: ClassBalancedSampler(y, seed=0), repeats=repeats)
    t_idx, idx = timeit(ours.indices, repeats=repeats)
    t_list, lst = timeit(lambda: list(iter(ours)), repeats=repeats)
    check = balanced_ok(idx, y)
    assert lst == idx.tolist()
    name = f"class-balanced epoch, n={n:.0e}"
    rows.append(
        dict(task=name + ": indices()", peer="WeightedRandomSampler list(iter)",
             peer_s=t_wrs, ours_s=t_idx, ratio=t_wrs / t_idx, goal=">= 30",
             check=f"ours {check}, peer {check_wrs}")
    )
    rows.append(
        dict(task=name + ": list(iter(sampler))", peer="WeightedRandomSampler list(iter)",
             peer_s=t_wrs, ours_s=t_list, ratio=t_wrs / t_list, goal=">= 2", check=check)
    )
    rows.append(
        dict(task=name + ": construction (one-off)", peer="", peer_s="", ours_s=t_init,
             ratio="", goal="", check="")
    )
    # The same weights through the drop-in WeightedSampler (alias table, O(1) per draw).
    t_w, w_idx = timeit(lambda: WeightedSampler(weights, n, seed=0).indices(), repeats=repeats)
    rows.append(
        dict(task=f"WeightedSampler same weights, n={n:.0e}: build + indices()",
             peer="WeightedRandomSampler list(iter)", peer_s=t_wrs, ours_s=t_w,
             ratio=t_wrs / t_w, goal="", check=balanced_ok(w_idx, y))
    )
    del out_wrs, lst
    return rows


def bench_m_per_class(n: int, repeats: int, peer_repeats: int) -> list[dict]:
    from pytorch_metric_learning.samplers import MPerClassSampler as PMLSampler

    y = zipf_labels(n)
    m, bs = 4, 32
    # pml draws each group with np.random.choice(class, m, replace=False), which
    # permutes the whole class: its cost grows like n * (largest class), so above 1e6 we
    # time a tenth of its epoch and scale by 10 (said so in the table).
    part = 1 if n <= 10**6 else 10
    pml = PMLSampler(y, m=m, batch_size=bs, length_before_new_iter=n // part)
    t_pml, out_pml = timeit(lambda: list(iter(pml)), repeats=peer_repeats)
    t_pml *= part
    ours = MPerClassSampler(y, m=m, batch_size=bs, length=n // bs, seed=0)
    t_ours, batches = timeit(lambda: list(iter(ours)), repeats=repeats)
    peer = "pytorch-metric-learning MPerClassSampler list(iter)"
    if part > 1:
        peer += f" (1/{part} epoch timed, x{part})"
    return [
        dict(task=f"m-per-class epoch (m={m}, batch {bs}), n={n:.0e}: list(iter)",
             peer=peer, peer_s=t_pml,
             ours_s=t_ours, ratio=t_pml / t_ours, goal=">= 50",
             check=f"ours {m_per_class_ok(batches, y, m, bs)}, "
                   f"peer {m_per_class_ok(out_pml[: len(out_pml) // bs * bs], y, m, bs)}")
    ]


def huge_weighted_child(n: int) -> None:
    """Run in a subprocess so that its peak RSS is its own."""
    import resource

    w = np.random.default_rng(0).random(n) + 0.5  # float64, 8 bytes per weight
    t0 = time.perf_counter()
    s = WeightedSampler(w, n, seed=0)
    t1 = time.perf_counter()
    idx = s.indices()
    t2 = time.perf_counter()
    assert len(idx) == n and idx.min() >= 0 and idx.max() < n
    # Share of draws on items with w > 1 against their share of the mass.
    heavy = w > 1.0
    want = float(w[heavy].sum() / w.sum())
    got = float(heavy[idx[: 10**7]].mean())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(f"RESULT {t1 - t0:.3f} {t2 - t1:.3f} {peak:.2f} {got:.4f} {want:.4f}")
    try:
        next(iter(torch.utils.data.WeightedRandomSampler(torch.from_numpy(w[: 2**24 + 1]), 10)))
        print("TORCH ok")
    except RuntimeError as e:
        print(f"TORCH {str(e).splitlines()[0][:80]}")


def bench_huge_weighted(n: int) -> list[dict]:
    out = subprocess.run(
        [sys.executable, __file__, "--huge-child", str(n)],
        capture_output=True, text=True, env=os.environ.copy(),
    )
    if out.returncode != 0:
        return [dict(task=f"WeightedSampler, {n:.0e} weights", check="FAILED: "
                     + out.stderr.strip().splitlines()[-1][:100])]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT"))
    torch_line = next((ln for ln in out.stdout.splitlines() if ln.startswith("TORCH")), "")
    _, build, draw, peak, got, want = line.split()
    return [
        dict(task=f"WeightedSampler, {n:.0e} float64 weights: alias build", ours_s=float(build),
             peer="WeightedRandomSampler", peer_s="fails (> 2**24)",
             check=torch_line.replace("TORCH ", "torch: ")[:60]),
        dict(task=f"WeightedSampler, {n:.0e} weights: indices() of {n:.0e}",
             ours_s=float(draw), check=f"draws on w > 1: {got} (mass share {want})"),
        dict(task=f"WeightedSampler, {n:.0e} weights: peak RSS of the process (GiB)",
             ours_s=float(peak), check="weights 8 B + table 12 B + output 8 B per item"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true")
    parser.add_argument("--huge-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=5, help="runs of longtail (median)")
    parser.add_argument("--peer-repeats", type=int, default=3, help="runs of the peers")
    args = parser.parse_args()
    if args.huge_child:
        huge_weighted_child(args.huge_child)
        return 0
    cols = ["task", "peer", "peer_s", "ours_s", "ratio", "goal", "check"]
    rows: list[dict] = []

    def run(fn, *a):
        new = fn(*a)
        rows.extend(new)
        print("\n".join(table(new, cols).splitlines()[2:]), file=sys.stderr, flush=True)

    run(bench_class_balanced, 10**6, args.repeats, args.peer_repeats)
    run(bench_m_per_class, 10**6, args.repeats, args.peer_repeats)
    if args.large:
        run(bench_huge_weighted, 3 * 10**8)
        run(bench_class_balanced, 10**7, args.repeats, args.peer_repeats)
        run(bench_m_per_class, 10**7, args.repeats, 1)
    print(table(rows, cols))
    print(f"\nmachine: {machine()}; torch {torch.__version__}; times in seconds, medians of "
          f"{args.repeats} runs of longtail and {args.peer_repeats} of the peers (the peer "
          "MPerClassSampler at 1e7: 1 run of a tenth of its epoch)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
