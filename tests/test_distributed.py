"""Two real processes (gloo on 127.0.0.1): for every streaming accumulator, sync() then
compute() equals one accumulator fed all the data; binned state takes one all_reduce;
with indexes= the samples DistributedSampler pads in are counted once.

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

import longtail.distributed as ltd  # noqa: E402

N, C, DIM, BATCH = 103, 4, 3, 16  # 103 rows on 2 ranks: DistributedSampler pads one copy


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


def worker(rank: int, world: int) -> dict:
    import torch
    import torch.distributed as dist
    from torch.utils.data import DistributedSampler

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
    results["indices"] = ltd.all_gather_objects(mine)
    return results


def _equal(a, b, tol=1e-9):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k], tol) for k in a)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0, atol=tol, equal_nan=True))


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    return ddp_launch.run(
        __file__,
        tmp_path_factory.mktemp("ddp"),
        env={"PYTHONWARNINGS": "error::UserWarning:longtail"},
    )


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


if __name__ == "__main__":
    ddp_launch.worker_main(worker)
