"""Label issues: longtail.noise vs cleanlab 2.x, same data, same run.

    python benches/noise.py            # 1e5 x 100 float32 (about a minute)
    python benches/noise.py --large    # the issue's sizes: 1e6 x 100, 2e5 x 5000, and
                                       # 1e7 x 100 streamed from a 4 GB memmap (under
                                       # flock /tmp/bench.lock; data files under /tmp)

Data: long-tailed labels (Zipf class sizes), noisy softmax predictions (float32), 20% of
labels flipped; written once to an .npy file. Every measurement runs in a fresh process
that loads the matrix (in memory, or as a memmap for the streamed rows), so peak RSS
(``ru_maxrss``) is per method; "extra" = peak RSS - RSS once the matrix is loaded. cleanlab
runs with ``n_jobs=1`` and with its default (one process per physical core), and its
children get an address-space limit (so an out-of-memory failure is reported, not
suffered by the machine). Ratios are cleanlab time / longtail time against the faster
cleanlab run; masks are compared element by element. The streamed rows compare
``LabelIssueFinder.fit`` over the memmap with cleanlab's ``find_label_issues_batched``
(a different, approximate method: low self-confidence), so the found sets' overlap is
reported, and the in-memory ``find_label_issues`` is checked equal where it fits.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

TMP = Path(os.environ.get("NOISE_BENCH_DIR", "/tmp"))


def make_data(path: Path, n: int, c: int, seed: int = 0) -> Path:
    """``_make_data`` in a child process, so this one never holds the written pages (a
    child started later would count them in its peak RSS)."""
    cmd = [sys.executable, __file__, "--make", str(path), str(n), str(c), str(seed)]
    subprocess.run(cmd, check=True)
    return path


def _make_data(path: Path, n: int, c: int, seed: int = 0, chunk: int = 50_000) -> Path:
    """Labels (.labels.npy) and float32 probabilities (.npy) of a long-tailed set."""
    rng = np.random.default_rng(seed)
    sizes = 1.0 / np.arange(1, c + 1)
    y_true = rng.choice(c, size=n, p=sizes / sizes.sum())
    y = y_true.copy()
    flip = rng.random(n) < 0.2
    y[flip] = rng.integers(0, c, flip.sum())
    np.save(str(path) + ".labels.npy", y.astype(np.int64))
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, c))
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        z = rng.standard_normal((e - s, c), dtype=np.float32)
        z[np.arange(e - s), y_true[s:e]] += 5.0
        z -= z.max(1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(1, keepdims=True)
        mm[s:e] = z
    mm.flush()
    del mm
    return path


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(method: str, path: str, out: str, limit_gb: float, batch: int) -> None:
    """Run one method in this (fresh) process; print a JSON line."""
    if limit_gb > 0:
        lim = int(limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    # imports first, so that neither their time nor their memory counts
    if method.startswith("longtail"):
        from longtail import noise
    else:
        from cleanlab.experimental.label_issues_batched import find_label_issues_batched
        from cleanlab.filter import find_label_issues
    y = np.load(path + ".labels.npy")
    stream = method in ("longtail_stream", "cleanlab_batched")
    p = np.load(path, mmap_mode="r") if stream else np.load(path)
    base = _rss_mb()
    t0 = time.perf_counter()
    status = "ok"
    result = None
    try:
        if method == "longtail":
            result = noise.find_label_issues(y, p)
        elif method == "longtail_stream":
            f = noise.LabelIssueFinder(p.shape[1]).fit(y, p, batch_size=batch)
            result = f.find_label_issues()
        elif method in ("cleanlab1", "cleanlab"):
            n_jobs = 1 if method == "cleanlab1" else None
            result = find_label_issues(y, p, n_jobs=n_jobs)
        elif method == "cleanlab_batched":
            result = find_label_issues_batched(
                labels=y, pred_probs=p, batch_size=batch, n_jobs=1, verbose=False
            )
    except MemoryError as e:
        status = f"MemoryError ({limit_gb:g} GB address-space limit): {str(e)[:80]}"
    except Exception as e:  # report, don't hide: the parent prints it
        status = f"{type(e).__name__}: {str(e)[:120]}"
    seconds = time.perf_counter() - t0
    if result is not None:
        np.save(out, np.asarray(result))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {"s": seconds, "peak_mb": peak, "base_mb": base, "kids_mb": kids, "status": status}
        )
    )


def run(method: str, path: Path, limit_gb: float = 0.0, batch: int = 100_000) -> dict:
    out = str(path) + f".{method}.out.npy"
    cmd = [sys.executable, __file__, "--child", method, str(path), out, str(limit_gb), str(batch)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-300:].replace("\n", " ")
        return {"status": f"exit {proc.returncode}: {tail}", "s": float("nan")}
    r = json.loads(lines[-1])
    r["out"] = out if Path(out).exists() else None
    return r


def _load(r: dict) -> np.ndarray | None:
    if not r.get("out"):
        return None
    a = np.load(r["out"])
    os.remove(r["out"])
    return a


def in_memory(n: int, c: int, limit_gb: float, keep: bool = False) -> list[dict]:
    path = TMP / f"lt_noise_{n}x{c}.npy"
    make_data(path, n, c)
    size_mb = n * c * 4 / 2**20
    rows = []
    try:
        res = {m: run(m, path, limit_gb if m != "longtail" else 0.0) for m in
               ("longtail", "cleanlab1", "cleanlab")}
        masks = {m: _load(r) for m, r in res.items()}
        ok = [res[m]["s"] for m in ("cleanlab1", "cleanlab") if res[m]["status"] == "ok"]
        best = min(ok) if ok else float("nan")
        for m, r in res.items():
            same = ""
            if m != "longtail" and masks[m] is not None and masks["longtail"] is not None:
                same = "identical" if np.array_equal(masks[m], masks["longtail"]) else (
                    f"differ in {int((masks[m] != masks['longtail']).sum())} rows"
                )
            rows.append({
                "case": f"{n:.0e} x {c} f32 ({size_mb:.0f} MB)",
                "method": {"longtail": "longtail", "cleanlab1": "cleanlab n_jobs=1",
                           "cleanlab": "cleanlab default n_jobs"}[m],
                "time s": r["s"],
                "vs longtail": (r["s"] / res["longtail"]["s"]) if m != "longtail" else
                (best / r["s"]),
                "peak RSS MB": r.get("peak_mb", float("nan")),
                "extra / matrix": (r.get("peak_mb", np.nan) - r.get("base_mb", np.nan)) / size_mb,
                "issues": int(masks[m].sum()) if masks[m] is not None else "",
                "answer": same,
                "status": r["status"],
            })
    finally:
        if not keep:
            for f in (path, Path(str(path) + ".labels.npy")):
                f.unlink(missing_ok=True)
    return rows


def streamed(n: int, c: int, batch: int, limit_gb: float, check_in_memory: bool) -> list[dict]:
    path = TMP / f"lt_noise_stream_{n}x{c}.npy"
    make_data(path, n, c, seed=1)
    size_mb = n * c * 4 / 2**20
    rows = []
    try:
        res = {
            "longtail_stream": run("longtail_stream", path, 0.0, batch),
            "cleanlab_batched": run("cleanlab_batched", path, limit_gb, batch),
        }
        ours = _load(res["longtail_stream"])
        theirs = _load(res["cleanlab_batched"])
        exact = ""
        if check_in_memory and ours is not None:
            r = run("longtail", path)
            full = _load(r)
            exact = "= find_label_issues" if full is not None and np.array_equal(
                np.flatnonzero(full), ours) else "DIFFERS from find_label_issues"
        for m, r in res.items():
            found = ours if m == "longtail_stream" else theirs
            overlap = ""
            if found is not None and ours is not None and theirs is not None:
                inter = np.intersect1d(ours, theirs).size
                overlap = f"{inter} common ({inter / max(1, len(found)):.0%} of its set)"
            rows.append({
                "case": f"{n:.0e} x {c} f32 memmap ({size_mb:.0f} MB), batch {batch}",
                "method": {"longtail_stream": "longtail LabelIssueFinder.fit",
                           "cleanlab_batched": "cleanlab find_label_issues_batched"}[m],
                "time s": r["s"],
                "vs longtail": r["s"] / res["longtail_stream"]["s"],
                "peak RSS MB": r.get("peak_mb", float("nan")),
                "issues": len(found) if found is not None else "",
                "answer": (exact if m == "longtail_stream" else "") + " " + overlap,
                "status": r["status"],
            })
    finally:
        for f in (path, Path(str(path) + ".labels.npy")):
            f.unlink(missing_ok=True)
    return rows


COLUMNS = ["case", "method", "time s", "vs longtail", "peak RSS MB", "extra / matrix", "issues",
           "answer", "status"]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--make":
        _make_data(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="the issue's sizes")
    parser.add_argument("--only", choices=["1e6", "5000", "stream"], nargs="*", default=None)
    parser.add_argument("--limit-gb", type=float, default=14.0, help="cleanlab's RLIMIT_AS")
    args = parser.parse_args()
    print(f"# label issues, longtail vs cleanlab ({machine()})")
    rows: list[dict] = []
    if not args.large:
        rows += in_memory(10**5, 100, args.limit_gb)
        rows += streamed(10**5, 100, 10_000, args.limit_gb, check_in_memory=True)
    else:
        only = set(args.only or ["1e6", "5000", "stream"])
        if "1e6" in only:
            rows += in_memory(10**6, 100, args.limit_gb)
        if "5000" in only:
            rows += in_memory(2 * 10**5, 5000, args.limit_gb)
        if "stream" in only:
            rows += streamed(10**7, 100, 200_000, args.limit_gb, check_in_memory=False)
    print(table(rows, COLUMNS))


if __name__ == "__main__":
    main()
