"""EQLv2's gradient statistics under torch.distributed: two real processes (gloo on
127.0.0.1) end with the statistics of one process that saw both ranks' batches.

The workers are this file run as a script, started with a hard timeout so that a hang
fails the test instead of blocking it (as tests/test_distributed.py).
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
import torch

from longtail.losses import EQLv2Loss

C, STEPS, BATCH = 4, 3, 8
TIMEOUT_S = 240


def _batch(step: int, rank: int):
    g = torch.Generator().manual_seed(100 * step + rank)
    z = torch.randn(BATCH, C, generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, C + 1, (BATCH,), generator=g)  # C: background
    return z, y


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=timedelta(seconds=120))
    crit = EQLv2Loss(C)
    for step in range(STEPS):
        z, y = _batch(step, rank)
        z.requires_grad_()
        crit(z, y).backward()
    with open(out, "wb") as f:
        pickle.dump({k: v.numpy() for k, v in crit.state_dict().items()}, f)
    dist.barrier()
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_eqlv2_statistics_are_all_reduced(tmp_path):
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "WORKER", str(r), "2", str(port), str(tmp_path / f"{r}")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
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
    ranks = [pickle.loads(Path(tmp_path / f"{r}").read_bytes()) for r in range(2)]
    # one process, both ranks' batches of each step together
    ref = EQLv2Loss(C)
    for step in range(STEPS):
        z = torch.cat([_batch(step, r)[0] for r in range(2)]).requires_grad_()
        y = torch.cat([_batch(step, r)[1] for r in range(2)])
        ref(z, y).backward()
    assert ref.pos_grad.sum() > 0
    for got in ranks:
        for key, want in ref.state_dict().items():
            np.testing.assert_allclose(got[key], want.numpy(), rtol=1e-12, atol=1e-12)


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "WORKER":
    _worker(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
