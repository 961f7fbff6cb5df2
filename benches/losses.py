"""Time every loss of longtail.losses, forward + backward, next to plain cross-entropy.

    python benches/losses.py            # CPU (and CUDA when a GPU is present), ~1 minute
    python benches/losses.py --large    # LVIS-sized heads and larger dense maps
    python benches/losses.py --device cuda

Each loss runs on the same logits as its baseline, the torch loss a user would otherwise
write: ``F.cross_entropy`` for softmax losses (also on dense maps),
``F.binary_cross_entropy_with_logits`` (summed over classes) for the sigmoid ones (on
one-hot targets for single-label sigmoid heads: class-balanced sigmoid/focal, EQLv2).
Loss and baseline are timed alternately, so that load from other processes hits both.
"x baseline" is loss time / baseline time (1 = free re-balancing). "check" is the
relative difference between the loss at a limiting setting and the baseline's value there
(Seesaw p = q = 0 and GCE q -> 0 are CE, ASL gamma = clip = 0 and class-balanced BCE
with beta = 0 are BCE, Tversky 0.5/0.5 is 1 - Dice), computed in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, table, timeit  # noqa: E402

import longtail.losses as L  # noqa: E402


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def step(fn: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
         device: str) -> Callable[[], float]:
    def run() -> float:
        zz = z.detach().requires_grad_()
        loss = fn(zz)
        loss.backward()
        _sync(device)
        return 0.0

    return run


def alternate(a: Callable[[], Any], b: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median times of ``a`` and ``b``, measured in turns (one warm-up call each)."""
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(timeit(a, repeats=1, warmup=0 if ta else 1)[0])
        tb.append(timeit(b, repeats=1, warmup=0 if tb else 1)[0])
    return statistics.median(ta), statistics.median(tb)


def cases(large: bool, device: str) -> list[dict[str, Any]]:
    g = torch.Generator().manual_seed(0)
    n, c = (16384, 1203) if large else (4096, 1000)
    counts = torch.floor(2000.0 * torch.arange(c, dtype=torch.float64).add(1).pow(-1.0)) + 1
    z = (torch.randn(n, c, generator=g) * 2).to(device)
    y = torch.randint(0, c, (n,), generator=g).to(device)
    yb = (torch.rand(n, c, generator=g) < 0.01).float().to(device)
    pos = yb.sum(0).cpu() + 1
    neg = float(n) - pos + 1
    hw = 256 if large else 128
    zd = (torch.randn(8, 21, hw, hw, generator=g)).to(device)
    yd = torch.randint(0, 21, (8, hw, hw), generator=g).to(device)
    f = F.normalize(torch.randn(512, 2, 128, generator=g), dim=-1).to(device)
    sub = torch.randint(0, 64, (512,), generator=g).to(device)
    cls = (sub // 4).to(device)

    def mod(m: torch.nn.Module) -> torch.nn.Module:
        return m.to(device)

    def ce(x: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(x, y)

    onehot = F.one_hot(y, c).float()

    def bce_onehot(x: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(x, onehot, reduction="sum") / x.shape[0]

    def bce(x: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(x, yb, reduction="sum") / x.shape[0]

    def dense_ce(x: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(x, yd)

    def dice(x: torch.Tensor) -> torch.Tensor:
        p = torch.softmax(x, 1)
        t = F.one_hot(yd, 21).movedim(-1, 1).float()
        dims = (0, 2, 3)
        return (1 - 2 * (p * t).sum(dims) / (p.sum(dims) + t.sum(dims))).mean()

    cb = mod(L.ClassBalancedLoss(counts, beta=0.999))
    cbs = mod(L.ClassBalancedLoss(counts, beta=0.999, loss_type="sigmoid"))
    cbf = mod(L.ClassBalancedLoss(counts, beta=0.999, loss_type="focal", gamma=2.0))
    focal = L.FocalLoss(gamma=2.0)
    ldam = mod(L.LDAMLoss(counts, s=30.0))
    bs = mod(L.BalancedSoftmaxLoss(counts))
    la = mod(L.LogitAdjustedLoss(counts))
    seesaw = mod(L.SeesawLoss(c, counts=counts))
    eql = mod(L.EQLv2Loss(c))
    gce = L.GCELoss(0.7)
    cbb = mod(L.ClassBalancedBCELoss(pos, neg, beta=0.9999))
    asl = L.AsymmetricLoss()
    tv = L.TverskyLoss(0.3, 0.7)
    sbcl = L.SubclassContrastiveLoss(0.1)

    out = [
        dict(loss="ClassBalancedLoss softmax", z=z, fn=lambda x: cb(x, y), base=ce),
        dict(loss="ClassBalancedLoss sigmoid", z=z, fn=lambda x: cbs(x, y), base=bce_onehot),
        dict(loss="ClassBalancedLoss focal", z=z, fn=lambda x: cbf(x, y), base=bce_onehot),
        dict(loss="FocalLoss", z=z, fn=lambda x: focal(x, y), base=ce),
        dict(loss="LDAMLoss", z=z, fn=lambda x: ldam(x, y), base=ce),
        dict(loss="BalancedSoftmaxLoss", z=z, fn=lambda x: bs(x, y), base=ce),
        dict(loss="LogitAdjustedLoss", z=z, fn=lambda x: la(x, y), base=ce),
        dict(loss="SeesawLoss", z=z, fn=lambda x: seesaw(x, y), base=ce,
             check=lambda: (L.seesaw_loss(z, y, counts, p=0.0, q=0.0), ce(z))),
        dict(loss="EQLv2Loss", z=z, fn=lambda x: eql(x, y), base=bce_onehot),
        dict(loss="GCELoss", z=z, fn=lambda x: gce(x, y), base=ce,
             check=lambda: (L.gce_loss(z, y, q=1e-7), ce(z))),
        dict(loss="ClassBalancedBCELoss", z=z, fn=lambda x: cbb(x, yb), base=bce,
             check=lambda: (L.class_balanced_bce_loss(z, yb, [1.0] * c, beta=0.0), bce(z))),
        dict(loss="AsymmetricLoss", z=z, fn=lambda x: asl(x, yb), base=bce,
             check=lambda: (L.asymmetric_loss(z, yb, gamma_neg=0, gamma_pos=0, clip=0), bce(z))),
        dict(loss=f"TverskyLoss (8x21x{hw}x{hw})", z=zd, fn=lambda x: tv(x, yd), base=dense_ce,
             check=lambda: (L.tversky_loss(zd, yd), dice(zd))),
        dict(loss="SubclassContrastiveLoss (512x2x128)", z=f,
             fn=lambda x: sbcl(x, sub, cls),
             base=lambda x: F.cross_entropy(x[:, 0] @ x[:, 1].T / 0.1,
                                            torch.arange(512, device=device))),
    ]
    for case in out:
        case["n"] = n if case["z"] is z else None
    return out


def run(device: str, large: bool, repeats: int) -> list[dict[str, Any]]:
    rows = []
    for case in cases(large, device):
        t_loss, t_base = alternate(step(case["fn"], case["z"], device),
                                   step(case["base"], case["z"], device), repeats)
        row = {"device": device, "loss": case["loss"], "loss ms": 1e3 * t_loss,
               "baseline ms": 1e3 * t_base, "x baseline": t_loss / t_base}
        if "check" in case:
            with torch.no_grad():
                ours, ref = (float(v) for v in case["check"]())
                row["check"] = f"{abs(ours - ref) / abs(ref):.1e}"
        rows.append(row)
    # remix is a batch transform, not a loss: time it next to plain mixup
    g = torch.Generator().manual_seed(1)
    x = torch.randn(256, 3, 32, 32, generator=g).to(device)
    y = torch.randint(0, 100, (256,), generator=g).to(device)
    counts = torch.floor(500 * torch.arange(1, 101, dtype=torch.float64).pow(-1.0)).to(device)

    def mixup() -> Any:
        perm = torch.randperm(256, device=device)
        out = 0.7 * x + 0.3 * x[perm]
        _sync(device)
        return out

    def rmx() -> Any:
        out = L.remix(x, y, counts)
        _sync(device)
        return out

    t_rmx, t_base = alternate(rmx, mixup, repeats)
    rows.append({"device": device, "loss": "remix (256x3x32x32)", "loss ms": 1e3 * t_rmx,
                 "baseline ms": 1e3 * t_base, "x baseline": t_rmx / t_base})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="N=16384 x C=1203, 256x256 maps")
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if not torch.cuda.is_available():
        devices = [d for d in devices if d != "cuda"]
    print(f"machine: {machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads"
          + (f", GPU {torch.cuda.get_device_name(0)}" if "cuda" in devices else ""))
    rows = []
    for device in devices:
        rows += run(device, args.large, args.repeats)
    n, c = (16384, 1203) if args.large else (4096, 1000)
    print(f"forward + backward, logits {n} x {c} float32 unless named; median of "
          f"{args.repeats}")
    print(table(rows, ["device", "loss", "loss ms", "baseline ms", "x baseline", "check"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
