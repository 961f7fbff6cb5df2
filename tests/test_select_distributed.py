"""Two real processes (gloo on 127.0.0.1): select_per_class (with and without scores) and
class_balanced_pseudo_labels on two ranks holding halves of the rows with ``indexes=``
return what one process holding all rows returns, and each rank sends at most quota_j
candidates per class.

The workers are this file run as a script, started with a hard timeout so that a hang
fails the test instead of blocking it (the pattern of tests/test_distributed.py).
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

N, C, Q = 1001, 7, 9  # odd N: DistributedSampler pads one repeated row
TIMEOUT_S = 240
CASES = {
    "scores": dict(quotas=Q, scores=True),
    "scores_smallest": dict(quotas={0: 3, 2: 50, 5: 1}, scores=True, largest=False),
    "random": dict(quotas=Q, seed=3),
    "random_array": dict(quotas=np.arange(C) * 2, seed=11),
}


def _data():
    rng = np.random.default_rng(0)
    y = (rng.zipf(1.7, N) - 1) % C
    s = rng.integers(0, 30, N).astype(np.float32)  # many ties: the global index decides
    z = rng.normal(size=(N, C)) * 2
    probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return y.astype(np.int64), s, probs


def _run(case, y, s, rows):
    from longtail.select import select_per_class

    kw = dict(CASES[case])
    use_scores = kw.pop("scores", False)
    return select_per_class(y[rows], scores=s[rows] if use_scores else None, indexes=rows, **kw)


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist
    from torch.utils.data import DistributedSampler

    import longtail.select.per_class as pc
    from longtail.select import class_balanced_pseudo_labels

    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=120),
    )
    sent = []
    real = pc.all_gather_objects

    def recording(obj, group=None):
        sent.append(obj)
        return real(obj, group)

    pc.all_gather_objects = recording
    y, s, probs = _data()
    mine = np.array(list(DistributedSampler(range(N), num_replicas=world, rank=rank, seed=2)))
    results = {"sent": {}}
    for case in CASES:
        sent.clear()
        results[case] = _run(case, y, s, mine)
        results["sent"][case] = [(o[0].copy(), o[1].copy()) for o in sent if isinstance(o, tuple)]
    results["pseudo"] = class_balanced_pseudo_labels(probs[mine], threshold=0.4, indexes=mine)
    with open(out, "wb") as f:
        pickle.dump(results, f)
    dist.barrier()
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp_select")
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


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_ranks_equal_one_process_on_all_rows(two_ranks, case):
    y, s, _ = _data()
    want = _run(case, y, s, np.arange(N))
    assert want.size > 0
    for result in two_ranks:
        np.testing.assert_array_equal(result[case], want)


@pytest.mark.parametrize("case", sorted(CASES))
def test_ranks_send_at_most_quota_candidates_per_class(two_ranks, case):
    quotas = CASES[case]["quotas"]
    for result in two_ranks:
        ((ids, labels),) = result["sent"][case]
        counts = np.bincount(labels, minlength=C)
        if isinstance(quotas, dict):
            q = np.array([quotas.get(c, 0) for c in range(C)])
        else:
            q = np.broadcast_to(quotas, (C,))
        assert np.all(counts <= q)
        assert ids.size < N // 2


def test_pseudo_labels_two_ranks_equal_one_process(two_ranks):
    from longtail.select import class_balanced_pseudo_labels

    _, _, probs = _data()
    want = class_balanced_pseudo_labels(probs, threshold=0.4)
    assert want[0].size > 0
    for result in two_ranks:
        np.testing.assert_array_equal(result["pseudo"][0], want[0])
        np.testing.assert_array_equal(result["pseudo"][1], want[1])


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "WORKER":
    _worker(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
