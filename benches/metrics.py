"""Functional metrics: longtail vs scikit-learn, torchmetrics and numpy on the same data.

    python benches/metrics.py            # default sizes (about a minute or two)
    python benches/metrics.py --large    # the sizes of issue 4 (n = 10**7 / 10**8; slow peers)
    python benches/metrics.py --large --cases binary_ranking   # only these functions

Every row times the same call on the same arrays, checks that the answers agree and
prints peer time / longtail time. Other benchmark functions can be added to
``BENCHMARKS`` (each takes ``large`` and returns table rows).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table, timeit  # noqa: E402

import longtail.metrics as lm  # noqa: E402

COLUMNS = [
    "metric",
    "size",
    "longtail s",
    "sklearn s",
    "torchmetrics s",
    "numpy s",
    "x sklearn",
    "x torchmetrics",
    "x numpy",
    "agree",
]

BENCHMARKS: list[Callable[[bool], list[dict[str, Any]]]] = []


def bench(fn: Callable[[bool], list[dict[str, Any]]]) -> Callable[[bool], list[dict[str, Any]]]:
    """Register a benchmark function (other modules may append to BENCHMARKS too)."""
    BENCHMARKS.append(fn)
    return fn


def _row(
    metric: str,
    size: str,
    ours: tuple[float, Any],
    peers: dict[str, tuple[float, Any]],
    tol: float = 1e-9,
) -> dict[str, Any]:
    t_ours, v_ours = ours
    row: dict[str, Any] = {"metric": metric, "size": size, "longtail s": t_ours}
    agree = True
    for name, (t, v) in peers.items():
        row[f"{name} s"] = t
        row[f"x {name}"] = t / t_ours
        agree &= bool(
            np.allclose(
                np.asarray(v, dtype=float), np.asarray(v_ours, dtype=float), rtol=0, atol=tol
            )
        )
    row["agree"] = "yes" if agree else "NO"
    return row


def _torch():
    try:
        import torch
        from torchmetrics.functional import classification as tmc
    except ImportError:  # torchmetrics is optional for the benchmarks
        return None, None
    return torch, tmc


def _binary_row(name, ours, ref, tm, y, s, large, torch) -> dict[str, Any]:
    n = y.shape[0]
    # Medians of 3 for the peers too: one run of scikit-learn's AP at 1e7 varied from
    # 4.5 to 6.4 s on this machine, which alone moves the ratio by 40%.
    peers = {"sklearn": timeit(lambda: ref(y, s), repeats=3)}
    if tm is not None:
        ts, ty = torch.from_numpy(s), torch.from_numpy(y)
        peers["torchmetrics"] = timeit(lambda: float(tm(ts, ty)), repeats=3)
    mine = timeit(lambda: ours(y, s), repeats=5, warmup=1)
    return _row(name, f"n={n:.0e}", mine, peers, tol=1e-6)


@bench
def binary_ranking(large: bool) -> list[dict[str, Any]]:
    """Binary ROC AUC and average precision (issue 4 goal at n = 10**7)."""
    from sklearn import metrics as skm

    n = 10**7 if large else 10**6
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    s = rng.random(n)
    torch, tmc = _torch()
    rows = []
    for name, ours, ref, tm in [
        (
            "binary ROC AUC",
            lm.roc_auc_score,
            skm.roc_auc_score,
            tmc and (lambda p, t: tmc.binary_auroc(p, t, thresholds=None)),
        ),
        (
            "average precision",
            lm.average_precision_score,
            skm.average_precision_score,
            tmc and (lambda p, t: tmc.binary_average_precision(p, t, thresholds=None)),
        ),
    ]:
        rows.append(_binary_row(name, ours, ref, tm, y, s, large, torch))
    return rows


@bench
def multiclass_auroc(large: bool) -> list[dict[str, Any]]:
    """One-vs-rest macro AUROC (goal vs torchmetrics) and one-vs-one (goal vs sklearn)."""
    from sklearn import metrics as skm

    rng = np.random.default_rng(1)
    torch, tmc = _torch()
    rows = []
    n, c = (10**5, 1000) if large else (10**4, 100)
    y = rng.integers(0, c, n)
    p = rng.random((n, c))
    p /= p.sum(axis=1, keepdims=True)
    peers = {}
    if tmc is not None:
        tp, ty = torch.from_numpy(p), torch.from_numpy(y)
        peers["torchmetrics"] = timeit(
            lambda: float(
                tmc.multiclass_auroc(tp, ty, num_classes=c, average="macro", thresholds=None)
            ),
            repeats=1,
        )
    peers["sklearn"] = timeit(lambda: skm.roc_auc_score(y, p, multi_class="ovr"), repeats=1)
    ours = timeit(lambda: lm.roc_auc_score(y, p, multi_class="ovr"), repeats=3, warmup=1)
    rows.append(_row("OvR macro AUROC", f"n={n:.0e}, C={c}", ours, peers, tol=1e-6))

    n, c = (10**5, 100) if large else (10**4, 30)
    y = rng.integers(0, c, n)
    p = rng.random((n, c))
    p /= p.sum(axis=1, keepdims=True)
    peers = {"sklearn": timeit(lambda: skm.roc_auc_score(y, p, multi_class="ovo"), repeats=1)}
    ours = timeit(lambda: lm.roc_auc_score(y, p, multi_class="ovo"), repeats=3, warmup=1)
    rows.append(_row("OvO macro AUROC", f"n={n:.0e}, C={c}", ours, peers))
    return rows


@bench
def confusion(large: bool) -> list[dict[str, Any]]:
    """Confusion matrix against np.bincount(C*y+p) (goal at n = 10**8, 20 classes)."""
    from sklearn import metrics as skm

    n, c = (10**8, 20) if large else (10**7, 20)
    rng = np.random.default_rng(2)
    y = rng.integers(0, c, n)
    p = rng.integers(0, c, n)
    ours = timeit(lambda: lm.confusion_matrix(y, p), repeats=5, warmup=1)
    peers = {
        "numpy": timeit(
            lambda: np.bincount(c * y + p, minlength=c * c).reshape(c, c), repeats=5, warmup=1
        )
    }
    if not large:
        peers["sklearn"] = timeit(lambda: skm.confusion_matrix(y, p), repeats=1)
    return [_row("confusion matrix", f"n={n:.0e}, C={c}", ours, peers, tol=0)]


@bench
def binned_streaming_auroc(large: bool) -> list[dict[str, Any]]:
    """streaming.AUROC(bins=100) vs torchmetrics BinaryAUROC(thresholds=100), issue 4 goal 6.

    Owned by the streaming work (details, more rows: benches/metrics_streaming.py).
    torchmetrics makes one pass over the data per threshold, so 100 thresholds keep it to
    minutes at 1e7; longtail's bins sit on the same thresholds, so the AUCs must agree.
    """
    from metrics_streaming import time_binned_auroc

    n = 10**7 if large else 10**5
    ours, peer = time_binned_auroc(n, 100)
    return [
        _row(
            "binned streaming AUROC, 100 bins", f"n={n:.0e}", ours, {"torchmetrics": peer}, tol=1e-5
        )
    ]


# --------------------------------------------------------------------------------------
# float32 inputs, first call in a fresh process (issue 12, criterion 7)

_FRESH = r"""
import json, sys, time
import numpy as np

case, lib, metric, n, c = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if lib.startswith("longtail"):
    import longtail.metrics as lm
elif lib.startswith("torchmetrics"):
    import torch
    from torchmetrics.functional import classification as tmc
    if lib == "torchmetrics1":
        torch.set_num_threads(1)  # no OpenMP oversubscription on a loaded machine
    lib = "torchmetrics"
else:
    from sklearn import metrics as skm
if lib == "longtail torch":
    import torch

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0

rng = np.random.default_rng(7)
y = rng.integers(0, c if case == "ovr" else 2, n)
# Built in row blocks, so that no temporary raises the high-water mark above the input.
shape = (n, c) if case == "ovr" else (n,)
s = np.empty(shape, dtype=np.float32)
step = max(1, (1 << 20) // (c if case == "ovr" else 1))
for i in range(0, n, step):
    b = rng.random((min(step, n - i),) + shape[1:], dtype=np.float32)
    if case == "ovr":
        b /= b.sum(axis=1, keepdims=True)
    s[i : i + step] = b
if lib in ("torchmetrics", "longtail torch"):
    s_in, y_in = torch.from_numpy(s), torch.from_numpy(y)
else:
    s_in, y_in = s, y
with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current RSS
    f.write("5")
base = status("VmRSS")
t0 = time.perf_counter()
if case == "ovr":
    if lib == "torchmetrics":
        v = float(tmc.multiclass_auroc(s_in, y_in, num_classes=c, average="macro", thresholds=None))
    elif lib == "sklearn":
        v = skm.roc_auc_score(y_in, s_in, multi_class="ovr")
    else:
        v = lm.roc_auc_score(y_in, s_in, multi_class="ovr")
else:
    if lib == "torchmetrics":
        fn = tmc.binary_auroc if metric == "roc_auc" else tmc.binary_average_precision
        v = float(fn(s_in, y_in, thresholds=None))
    elif lib == "sklearn":
        fn = skm.roc_auc_score if metric == "roc_auc" else skm.average_precision_score
        v = fn(y_in, s_in)
    else:
        fn = lm.roc_auc_score if metric == "roc_auc" else lm.average_precision_score
        v = fn(y_in, s_in)
seconds = time.perf_counter() - t0
extra = status("VmHWM") - base
print(json.dumps({"s": seconds, "v": v, "extra": extra, "input": s.nbytes}))
"""


def _fresh(case: str, lib: str, metric: str, n: int, c: int) -> dict[str, Any]:
    """First call of one metric in a new Python process: seconds, value, and the peak
    RSS above the RSS once the input exists (VmHWM after resetting it), in bytes."""
    import json
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", _FRESH, case, lib, metric, str(n), str(c)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fresh_row(name: str, size: str, ours: dict, peers: dict, tol: float) -> dict[str, Any]:
    times = {k: (v["s"], v["v"]) for k, v in peers.items()}
    row = _row(name, size, (ours["s"], ours["v"]), times, tol=tol)
    row["extra MB"] = ours["extra"] / 2**20
    row["extra / scores"] = ours["extra"] / ours["input"]
    return row


FRESH_COLUMNS = [
    "metric",
    "size",
    "longtail s",
    "torchmetrics s",
    "torchmetrics 1 thread s",
    "sklearn s",
    "x torchmetrics",
    "x torchmetrics 1 thread",
    "x sklearn",
    "extra MB",
    "extra / scores",
    "agree",
]


@bench
def float32_first_call(large: bool) -> list[dict[str, Any]]:
    """float32 scores, first call in a fresh process, peak extra RSS (issue 12 goal 7):
    OvR macro AUROC at 10**5 x 1000 >= 15x torchmetrics with extra memory <= 0.25x the
    scores; binary AUROC / AP at 10**7 on float32 numpy and on a torch tensor."""
    rows = []
    n, c = (10**5, 1000) if large else (10**4, 200)
    size = f"n={n:.0e}, C={c}, float32"
    peers = {
        "torchmetrics": _fresh("ovr", "torchmetrics", "roc_auc", n, c),
        "torchmetrics 1 thread": _fresh("ovr", "torchmetrics1", "roc_auc", n, c),
    }
    if not large:  # scikit-learn takes about 30 s at the large size
        peers["sklearn"] = _fresh("ovr", "sklearn", "roc_auc", n, c)
    for lib in ("longtail", "longtail torch"):
        ours = _fresh("ovr", lib, "roc_auc", n, c)
        name = "OvR macro AUROC, first call" + (" (torch in)" if lib != "longtail" else "")
        rows.append(_fresh_row(name, size, ours, peers, tol=1e-6))
    n = 10**7 if large else 10**6
    for metric, label in (("roc_auc", "binary ROC AUC"), ("average_precision", "AP")):
        peers = {
            "torchmetrics": _fresh("binary", "torchmetrics", metric, n, 1),
            "sklearn": _fresh("binary", "sklearn", metric, n, 1),
        }
        for lib in ("longtail", "longtail torch"):
            ours = _fresh("binary", lib, metric, n, 1)
            name = f"{label}, first call" + (" (torch in)" if lib != "longtail" else "")
            rows.append(_fresh_row(name, f"n={n:.0e}, float32", ours, peers, tol=1e-6))
    return rows


# --------------------------------------------------------------------------------------
# float16 / bfloat16 inputs, first call in a fresh process (issue 12, criterion 2)

_FRESH_HALF = r"""
import json, sys, time
import numpy as np
import torch

lib, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if lib.startswith("longtail"):
    import longtail.metrics as lm
else:
    from torchmetrics.functional import classification as tmc
    if lib.startswith("torchmetrics1"):
        torch.set_num_threads(1)  # no OpenMP oversubscription on a loaded machine

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0

# Probabilities k / 2**15 whose rows sum to exactly 1 in float16 and in bfloat16 (every k
# has at most 8 significant bits), so that the metric's sum-to-one check passes on the
# half values; built in row blocks so that no temporary raises the high-water mark.
rng = np.random.default_rng(7)
y = rng.integers(0, c, n)
half = np.float16 if lib.endswith(" f16") else None
s = np.empty((n, c), dtype=np.float16) if half else torch.empty((n, c), dtype=torch.bfloat16)
step = max(1, (1 << 20) // c)
for i in range(0, n, step):
    m = min(step, n - i)
    k = 31 + rng.integers(-16, 17, (m, c))
    r = (1 << 15) - k[:, : c - 2].sum(1)
    k[:, c - 2], k[:, c - 1] = (r // 256) * 256, r % 256
    b = (k / (1 << 15)).astype(np.float32)
    s[i : i + m] = b.astype(np.float16) if half else torch.from_numpy(b).bfloat16()
y_in = y if half else torch.from_numpy(y)
with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current RSS
    f.write("5")
base = status("VmRSS")
t0 = time.perf_counter()
if lib.startswith("torchmetrics"):
    s_in, y_in = torch.as_tensor(s), torch.as_tensor(y)  # no copy of the float16 array
    v = float(tmc.multiclass_auroc(s_in, y_in, num_classes=c, average="macro", thresholds=None))
else:
    v = lm.roc_auc_score(y_in, s, multi_class="ovr")
seconds = time.perf_counter() - t0
extra = status("VmHWM") - base
print(json.dumps({"s": seconds, "v": v, "extra": extra, "input": n * c * 4}))
"""


def _fresh_half(lib: str, n: int, c: int) -> dict[str, Any]:
    """:func:`_fresh` for the half-precision OvR case; ``input`` is the bytes of the
    float32 matrix of the same shape (extra memory is reported against it)."""
    import json
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", _FRESH_HALF, lib, str(n), str(c)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@bench
def half_first_call(large: bool) -> list[dict[str, Any]]:
    """float16 / bfloat16 scores, first call in a fresh process (issue 12, criterion 2):
    OvR macro AUROC at 10**5 x 1000 given as a torch bfloat16 tensor and as numpy
    float16; torchmetrics on the same half tensor; extra memory / float32 matrix bytes."""
    n, c = (10**5, 1000) if large else (10**4, 200)
    rows = []
    for dtype, ours_lib, peer_lib in (
        ("bfloat16 torch", "longtail bf16", "torchmetrics bf16"),
        ("float16 numpy", "longtail f16", "torchmetrics f16"),
    ):
        peers = {
            "torchmetrics": _fresh_half(peer_lib, n, c),
            "torchmetrics 1 thread": _fresh_half(peer_lib.replace("s ", "s1 "), n, c),
        }
        ours = _fresh_half(ours_lib, n, c)
        size = f"n={n:.0e}, C={c}, {dtype}"
        rows.append(_fresh_row("OvR macro AUROC, first call", size, ours, peers, tol=1e-6))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="the sizes of issue 4")
    parser.add_argument(
        "--cases",
        nargs="+",
        metavar="NAME",
        help="run only these benchmark functions (of: "
        + ", ".join(fn.__name__ for fn in BENCHMARKS)
        + ")",
    )
    args = parser.parse_args()
    chosen = [fn for fn in BENCHMARKS if not args.cases or fn.__name__ in args.cases]
    if args.cases and len(chosen) != len(set(args.cases)):
        known = {fn.__name__ for fn in BENCHMARKS}
        parser.error(f"unknown case(s): {sorted(set(args.cases) - known)}")
    warnings.filterwarnings("ignore")
    print(f"# {machine()}\n")
    rows = []
    for fn in chosen:
        new = fn(args.large)
        rows.extend(new)
        for r in new:
            cols = FRESH_COLUMNS if "extra MB" in r else COLUMNS
            print(table([r], cols).splitlines()[-1], flush=True)
    print()
    plain = [r for r in rows if "extra MB" not in r]
    fresh = [r for r in rows if "extra MB" in r]
    if plain:
        print(table(plain, COLUMNS))
    if fresh:
        print()
        print(table(fresh, FRESH_COLUMNS))
    return 0 if all(r["agree"] == "yes" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
