"""Two real processes (gloo on 127.0.0.1): MeanAveragePrecision.sync() then compute()
equals one metric fed rank 0's images then rank 1's, with one all_gather_object.

The workers are this file run as a script, started with a hard timeout so that a hang
fails the test instead of blocking it.
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

N_IMAGES, BATCH = 37, 5
TIMEOUT_S = 240
KW = dict(class_metrics=True, frequency={"rare": [0, 1], "common": [2], "frequent": [3, 4]})


def _data():
    from test_metrics_detection import make_boxes

    return make_boxes(11, n_images=N_IMAGES, dets=20)


def _mine(rank, world):
    return list(range(rank, N_IMAGES, world))  # DistributedSampler(shuffle=False) order


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch
    import torch.distributed as dist

    from longtail.metrics.detection import MeanAveragePrecision

    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=120),
    )
    calls = {"all_gather_object": 0}
    real = dist.all_gather_object

    def counting(*args, **kwargs):
        calls["all_gather_object"] += 1
        return real(*args, **kwargs)

    dist.all_gather_object = counting
    preds, target = _data()
    mine = _mine(rank, world)
    metric = MeanAveragePrecision(**KW)
    for s in range(0, len(mine), BATCH):
        idx = mine[s : s + BATCH]
        metric.update(
            [{k: torch.as_tensor(v) for k, v in preds[i].items()} for i in idx],
            [{k: torch.as_tensor(v) for k, v in target[i].items()} for i in idx],
        )
    local = metric.compute()
    metric.sync()
    result = metric.compute()
    gathers = calls["all_gather_object"]
    metric.sync()  # syncing twice must not count a rank twice
    again = metric.compute()
    with open(out, "wb") as f:
        pickle.dump({"result": result, "again": again, "local": local, "gathers": gathers}, f)
    dist.barrier()
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp_det")
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
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


def _assert_same(got, want):
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_sync_equals_one_metric_fed_all_ranks(two_ranks):
    from longtail.metrics.detection import MeanAveragePrecision

    preds, target = _data()
    order = _mine(0, 2) + _mine(1, 2)
    ref = MeanAveragePrecision(**KW)
    ref.update([preds[i] for i in order], [target[i] for i in order])
    want = ref.compute()
    for r in two_ranks:
        _assert_same(r["result"], want)
        _assert_same(r["again"], want)
        assert r["gathers"] == 1
    # the local results differ: the sync really moved data
    assert two_ranks[0]["local"]["map"] != want["map"]


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "WORKER":
    sys.path.insert(0, str(Path(__file__).parent))
    _worker(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
