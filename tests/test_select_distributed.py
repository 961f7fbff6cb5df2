"""Two real processes (gloo on 127.0.0.1): select_per_class (with and without scores) and
class_balanced_pseudo_labels on two ranks holding halves of the rows with ``indexes=``
return what one process holding all rows returns, and each rank sends at most quota_j
candidates per class.

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

N, C, Q = 1001, 7, 9  # odd N: DistributedSampler pads one repeated row
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


def worker(rank: int, world: int) -> dict:
    from torch.utils.data import DistributedSampler

    import longtail.select.per_class as pc
    from longtail.select import class_balanced_pseudo_labels

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
    return results


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    return ddp_launch.run(__file__, tmp_path_factory.mktemp("ddp_select"))


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


if __name__ == "__main__":
    ddp_launch.worker_main(worker)
