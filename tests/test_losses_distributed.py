"""EQLv2's gradient statistics under torch.distributed: two real processes (gloo on
127.0.0.1, launched by ``ddp_launch``) end with the statistics of one process that saw
both ranks' batches."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import ddp_launch  # noqa: E402

from longtail.losses import EQLv2Loss  # noqa: E402

C, STEPS, BATCH = 4, 3, 8


def _batch(step: int, rank: int):
    g = torch.Generator().manual_seed(100 * step + rank)
    z = torch.randn(BATCH, C, generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, C + 1, (BATCH,), generator=g)  # C: background
    return z, y


def worker(rank: int, world: int) -> dict:
    crit = EQLv2Loss(C)
    for step in range(STEPS):
        z, y = _batch(step, rank)
        z.requires_grad_()
        crit(z, y).backward()
    return {k: v.numpy() for k, v in crit.state_dict().items()}


@pytest.mark.slow
def test_eqlv2_statistics_are_all_reduced(tmp_path):
    ranks = ddp_launch.run(__file__, tmp_path)
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


if __name__ == "__main__":
    ddp_launch.worker_main(worker)
