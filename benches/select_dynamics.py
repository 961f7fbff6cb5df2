"""Per-step overhead of class-adaptive thresholds and training dynamics.

    python benches/select_dynamics.py            # 10**5 unlabeled examples
    python benches/select_dynamics.py --large    # 10**6 (the issue's size)

FlexMatch: longtail's ``ClassAdaptiveThreshold("flexmatch").step`` (mask, then update
with incremental counts on the device) against USB's hook, which recounts the whole
unlabeled set on the host with ``collections.Counter`` every step. Same batches for
both; the masks and thresholds are checked to agree at every step. TrainingDynamics
is timed against a plain-numpy per-example accumulation (same sums). Ratios are peer
time / longtail time per step (median over steps).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

from longtail.select import ClassAdaptiveThreshold, TrainingDynamics  # noqa: E402


class UsbFlexMatch:
    """USB's FlexMatchThresholdingHook (semilearn/algorithms/flexmatch/utils.py), restated."""

    def __init__(self, n: int, c: int, p_cutoff: float) -> None:
        self.selected = torch.full((n,), -1, dtype=torch.long)
        self.acc = torch.zeros(c)
        self.n, self.c, self.p = n, c, p_cutoff

    def masking(self, probs: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        maxp, pred = probs.max(-1)
        mask = maxp.ge(self.p * (self.acc[pred] / (2.0 - self.acc[pred]))).float()
        sel = maxp.ge(self.p)
        self.selected[idx[sel]] = pred[sel]
        cnt = Counter(self.selected.tolist())
        if max(cnt.values()) < self.n:
            top = max(cnt.values())
            for i in range(self.c):
                self.acc[i] = cnt[i] / top
        return mask


def _batches(n: int, c: int, batch: int, steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        ids = torch.from_numpy(rng.choice(n, size=batch, replace=False))
        z = torch.from_numpy(rng.normal(size=(batch, c)).astype(np.float32) * 4)
        yield torch.softmax(z, dim=1), ids


def bench_flexmatch(n: int, c: int = 100, batch: int = 448, steps: int = 30) -> dict:
    ours = ClassAdaptiveThreshold(c, method="flexmatch", threshold=0.7, num_unlabeled=n)
    usb = UsbFlexMatch(n, c, 0.7)
    t_ours, t_usb = [], []
    for probs, ids in _batches(n, c, batch, steps):
        t0 = time.perf_counter()
        a = ours.step(probs, ids)
        t1 = time.perf_counter()
        b = usb.masking(probs, ids)
        t2 = time.perf_counter()
        t_ours.append(t1 - t0)
        t_usb.append(t2 - t1)
        assert torch.equal(a, b), "masks differ"
    assert torch.allclose(ours.thresholds(), 0.7 * usb.acc / (2 - usb.acc))
    o, u = statistics.median(t_ours), statistics.median(t_usb)
    return {"case": f"flexmatch step, {n:.0e} unlabeled, batch {batch}, C={c}",
            "longtail_ms": o * 1e3, "peer": "USB Counter recount", "peer_ms": u * 1e3,
            "ratio": u / o}


def bench_dynamics(n: int, c: int = 100, batch: int = 512, steps: int = 30) -> dict:
    td = TrainingDynamics(n, c)
    sums = np.zeros((4, n))
    rng = np.random.default_rng(1)
    t_ours, t_np = [], []
    for _ in range(steps):
        ids = rng.choice(n, size=batch, replace=False)
        z = rng.normal(size=(batch, c)).astype(np.float32)
        y = rng.integers(0, c, batch)
        zt, it, yt = torch.from_numpy(z), torch.from_numpy(ids), torch.from_numpy(y)
        t0 = time.perf_counter()
        td.update(it, zt, yt)
        t1 = time.perf_counter()
        zz = z.astype(np.float64)
        p = np.exp(zz - zz.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        onehot = np.eye(c)[y]
        zy = zz[np.arange(batch), y]
        other = np.where(onehot > 0, -np.inf, zz).max(1)
        py = p[np.arange(batch), y]
        np.add.at(sums[0], ids, np.linalg.norm(p - onehot, axis=1))
        np.add.at(sums[1], ids, zy - other)
        np.add.at(sums[2], ids, py)
        np.add.at(sums[3], ids, 1.0)
        t2 = time.perf_counter()
        t_ours.append(t1 - t0)
        t_np.append(t2 - t1)
    seen = sums[3] > 0
    got = td.aum().numpy()[seen]
    assert np.allclose(got, sums[1][seen] / sums[3][seen], rtol=1e-9), "AUM differs"
    o, u = statistics.median(t_ours), statistics.median(t_np)
    return {"case": f"TrainingDynamics update, {n:.0e} examples, batch {batch}, C={c}",
            "longtail_ms": o * 1e3, "peer": "numpy add.at", "peer_ms": u * 1e3,
            "ratio": u / o}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large", action="store_true", help="10**6 unlabeled examples")
    args = ap.parse_args()
    n = 10**6 if args.large else 10**5
    # Per-step work is small: one thread for both (USB's Counter is single-threaded, and
    # torch's thread pool only adds wake-up cost on a busy 2-core machine).
    torch.set_num_threads(1)
    rows = [bench_flexmatch(n), bench_dynamics(n)]
    print(machine())
    print(table(rows, ["case", "longtail_ms", "peer", "peer_ms", "ratio"]))


if __name__ == "__main__":
    main()
