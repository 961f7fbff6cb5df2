"""Two real processes (gloo on 127.0.0.1): for every streaming accumulator, sync() then
compute() equals one accumulator fed all the data; binned state takes one all_reduce;
with indexes= the samples DistributedSampler pads in are counted once.

The workers are this file run as a script (``python test_distributed.py WORKER ...``),
started with a hard timeout so that a hang fails the test instead of blocking it.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

import longtail.distributed as ltd

N, C, DIM, BATCH = 103, 4, 3, 16  # 103 rows on 2 ranks: DistributedSampler pads one copy
TIMEOUT_S = 240  # generous: two torch imports on a loaded 2-core machine


def _make_all():
    from longtail.metrics import streaming as st

    counts = np.array([400, 60, 25, 3])
    return {
        "ConfusionMatrix": st.ConfusionMatrix(C),
        "ShotAccuracy": st.ShotAccuracy(counts),
        "CalibrationError": st.CalibrationError(n_bins=10),
        "CalibrationError_classwise": st.CalibrationError(
            n_bins=5, norm="max", classwise=True, num_classes=C
        ),
        "AUROC": st.AUROC("multiclass", num_classes=C),
        "AUROC_binned": st.AUROC("multiclass", num_classes=C, bins=256),
        "AUROC_binary_binned": st.AUROC("binary", bins=128),
        "AveragePrecision": st.AveragePrecision("multiclass", num_classes=C, average=None),
        "AveragePrecision_binned": st.AveragePrecision(
            "multilabel", num_classes=C, bins=256, average="micro"
        ),
        "ClassFeatureStats": st.ClassFeatureStats(C, DIM),
    }


def _inputs(name, probs, y, feats):
    """(preds, target) for accumulator ``name`` from the shared data rows."""
    if name == "ClassFeatureStats":
        return feats, y
    if name.startswith("AUROC_binary"):
        return probs[:, 1], (y == 1).astype(int)
    if name == "AveragePrecision_binned":
        return probs, np.eye(C, dtype=int)[y]
    return probs, y


def _data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, C, N)
    z = rng.normal(size=(N, C)) + 2.0 * np.eye(C)[y]
    probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    feats = rng.normal(size=(N, DIM)) + y[:, None]
    return probs, y, feats


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch
    import torch.distributed as dist
    from torch.utils.data import DistributedSampler

    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=120),
    )
    calls = {"all_reduce": 0}
    real_all_reduce = dist.all_reduce

    def counting_all_reduce(*args, **kwargs):
        calls["all_reduce"] += 1
        return real_all_reduce(*args, **kwargs)

    dist.all_reduce = counting_all_reduce
    probs, y, feats = _data()
    sampler = DistributedSampler(range(N), num_replicas=world, rank=rank, shuffle=True, seed=1)
    mine = np.array(list(sampler))
    results = {}
    for mode in ("indexes", "plain"):
        accs = _make_all()
        for start in range(0, len(mine), BATCH):
            idx = mine[start : start + BATCH]
            for name, acc in accs.items():
                preds, target = _inputs(name, probs[idx], y[idx], feats[idx])
                if name.startswith("AUROC") and mode == "plain":
                    preds = torch.from_numpy(preds)  # torch inputs too
                acc.update(preds, target, indexes=idx if mode == "indexes" else None)
        for name, acc in accs.items():
            before = calls["all_reduce"]
            acc.sync()
            results[(mode, name)] = (acc.compute(), calls["all_reduce"] - before)
            acc.sync()  # syncing twice must not count a rank twice
            assert _equal(acc.compute(), results[(mode, name)][0]), name
    # the rows every rank saw, to rebuild the no-dedupe reference in the parent
    gathered = ltd.all_gather_objects(mine)
    results["indices"] = gathered
    with open(out, "wb") as f:
        pickle.dump(results, f)
    dist.barrier()
    dist.destroy_process_group()


def _equal(a, b, tol=1e-9):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k], tol) for k in a)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0, atol=tol, equal_nan=True))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "error::UserWarning:longtail"}
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "WORKER", str(r), "2", str(port), str(tmp / f"{r}.pkl")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for r in range(2)
    ]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=TIMEOUT_S)[0].decode(errors="replace"))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
            p.communicate()
        pytest.fail(f"distributed workers did not finish within {TIMEOUT_S} s")
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-4000:]
    return [pickle.loads(Path(tmp / f"{r}.pkl").read_bytes()) for r in range(2)]


def _reference(name, rows):
    acc = _make_all()[name]
    probs, y, feats = _data()
    preds, target = _inputs(name, probs[rows], y[rows], feats[rows])
    acc.update(preds, target)
    return acc.compute()


NAMES = sorted(_make_all())


@pytest.mark.parametrize("name", NAMES)
def test_sync_with_indexes_equals_one_accumulator_on_the_dataset(two_ranks, name):
    want = _reference(name, np.arange(N))  # every sample exactly once
    for rank_result in two_ranks:
        got, _ = rank_result[("indexes", name)]
        assert _equal(got, want), (name, got, want)


@pytest.mark.parametrize("name", NAMES)
def test_sync_without_indexes_equals_one_accumulator_fed_all_ranks_rows(two_ranks, name):
    rows = np.concatenate(two_ranks[0]["indices"])
    assert rows.size == N + 1  # DistributedSampler's padded copy is really there
    want = _reference(name, rows)
    for rank_result in two_ranks:
        got, _ = rank_result[("plain", name)]
        assert _equal(got, want), (name, got, want)


# states that merge by addition (exact AUROC/AP and ClassFeatureStats are gathered)
ADDITIVE = [n for n in NAMES if n not in {"AUROC", "AveragePrecision", "ClassFeatureStats"}]


@pytest.mark.parametrize("name", ADDITIVE)
def test_additive_state_syncs_with_exactly_one_all_reduce(two_ranks, name):
    for rank_result in two_ranks:
        assert rank_result[("plain", name)][1] == 1


def test_padded_duplicate_changes_the_plain_confusion_matrix(two_ranks):
    plain, _ = two_ranks[0][("plain", "ConfusionMatrix")]
    dedup, _ = two_ranks[0][("indexes", "ConfusionMatrix")]
    assert plain.sum() == N + 1 and dedup.sum() == N


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "WORKER":
    _worker(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
