"""Two real processes (gloo on 127.0.0.1): MeanAveragePrecision.sync() then compute()
equals one metric fed rank 0's images then rank 1's, with one all_gather_object.

The workers are this file run as a script by ``ddp_launch`` (a hard timeout, so that a
hang fails the test instead of blocking it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import ddp_launch  # noqa: E402

N_IMAGES, BATCH = 37, 5
KW = dict(class_metrics=True, frequency={"rare": [0, 1], "common": [2], "frequent": [3, 4]})


def _data():
    from test_metrics_detection import make_boxes

    return make_boxes(11, n_images=N_IMAGES, dets=20)


def _mine(rank, world):
    return list(range(rank, N_IMAGES, world))  # DistributedSampler(shuffle=False) order


def worker(rank: int, world: int) -> dict:
    import torch
    import torch.distributed as dist

    from longtail.metrics.detection import MeanAveragePrecision

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
    return {"result": result, "again": again, "local": local, "gathers": gathers}


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    return ddp_launch.run(__file__, tmp_path_factory.mktemp("ddp_det"))


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


if __name__ == "__main__":
    ddp_launch.worker_main(worker)
