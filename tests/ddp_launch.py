"""Run a test module's worker function in 2 real processes (gloo on 127.0.0.1).

A test file defines ``worker(rank, world, out_path)`` and ends with
``if __name__ == "__main__": ddp_launch.worker_main(worker)``; its test calls
``ddp_launch.run(__file__)`` and gets each rank's pickled result. The workers run with a
hard timeout, so a hang fails the test instead of blocking the suite.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest

TIMEOUT_S = 240  # generous: two torch imports on a loaded 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(
    script: str,
    tmp_path: Path,
    world: int = 2,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> list[Any]:
    """Start ``world`` workers of ``script``; return their results in rank order."""
    port = _free_port()
    env = {
        **os.environ,
        **(env or {}),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, script, "WORKER", str(r), str(world), str(port),
             str(tmp_path / f"{r}.pkl"), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for r in range(world)
    ]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=TIMEOUT_S)[0].decode(errors="replace"))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
            p.communicate()
        pytest.fail(f"distributed workers of {script} did not finish within {TIMEOUT_S} s")
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-4000:]
    return [pickle.loads((tmp_path / f"{r}.pkl").read_bytes()) for r in range(world)]


def worker_main(worker: Callable[..., Any]) -> None:
    """Entry point of a worker process: init gloo, run ``worker``, pickle its result."""
    if len(sys.argv) < 6 or sys.argv[1] != "WORKER":
        return
    import torch.distributed as dist

    rank, world, port, out = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=120),
    )
    try:
        result = worker(rank, world, *sys.argv[6:])
        with open(out, "wb") as f:
            pickle.dump(result, f)
        dist.barrier()
    finally:
        dist.destroy_process_group()
