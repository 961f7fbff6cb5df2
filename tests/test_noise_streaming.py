"""LabelIssueFinder: batches, a memmap, merged shards and 2 gloo processes each give
exactly ``find_label_issues`` on the concatenated data.

The DDP workers are this file run as a script by ``ddp_launch`` (a hard timeout).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import ddp_launch  # noqa: E402
from test_noise import long_tailed, make_data  # noqa: E402

from longtail import noise  # noqa: E402

SETTINGS = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def reference(y, p, **kw):
    return np.flatnonzero(noise.find_label_issues(y, p, **kw))


def run_batches(finder, y, p, sizes, indexes=None):
    for _ in range(finder.passes_needed):
        start, i = 0, 0
        while start < len(y):
            stop = min(len(y), start + sizes[i % len(sizes)])
            idx = None if indexes is None else indexes[start:stop]
            finder.update(y[start:stop], p[start:stop], idx)
            start, i = stop, i + 1
        finder.next_pass()
    return finder.find_label_issues()


@SETTINGS
@given(
    long_tailed(),
    st.sampled_from(noise.FILTERS),
    st.lists(st.integers(1, 40), min_size=1, max_size=5),
    st.sampled_from([1.0, 0.5]),
    st.integers(0, 4),
)
def test_batches_equal_find_label_issues(data, filter_by, sizes, frac_noise, min_examples):
    y, p = data
    kw = {"filter_by": filter_by}
    if filter_by in ("prune_by_noise_rate", "prune_by_class", "both"):
        kw.update(frac_noise=frac_noise, min_examples_per_class=min_examples)
    finder = noise.LabelIssueFinder(p.shape[1], **kw)
    np.testing.assert_array_equal(run_batches(finder, y, p, sizes), reference(y, p, **kw))


def test_passes_needed():
    assert noise.LabelIssueFinder(3, filter_by="predicted_neq_given").passes_needed == 1
    assert noise.LabelIssueFinder(3, filter_by="confident_learning").passes_needed == 3
    for f in ("prune_by_noise_rate", "prune_by_class", "both"):
        assert noise.LabelIssueFinder(3, filter_by=f).passes_needed == 4


def test_global_indexes_and_num_to_remove():
    y, p = make_data(5, 6, 90, 1.1, np.float32, missing=True)
    counts = np.bincount(y, minlength=6)
    kw = {"num_to_remove_per_class": (counts // 3).tolist()}
    ids = np.arange(len(y)) * 3 + 1000  # sparse, increasing global ids
    got = run_batches(noise.LabelIssueFinder(6, **kw), y, p, [17], ids)
    np.testing.assert_array_equal(got, ids[reference(y, p, **kw)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_memmap_equals_in_memory(tmp_path, dtype):
    y, p = make_data(11, 8, 400, 1.3, dtype)
    mm = np.lib.format.open_memmap(tmp_path / "p.npy", mode="w+", dtype=dtype, shape=p.shape)
    mm[:] = p
    mm.flush()
    del mm
    ro = np.load(tmp_path / "p.npy", mmap_mode="r")
    for filter_by in noise.FILTERS:
        f = noise.LabelIssueFinder(8, filter_by=filter_by).fit(y, ro, batch_size=97)
        np.testing.assert_array_equal(f.find_label_issues(), reference(y, p, filter_by=filter_by))
    rows = noise._rows(ro, 5, 9)
    assert not isinstance(rows, np.memmap) and np.array_equal(rows, p[5:9])


@pytest.mark.parametrize("filter_by", noise.FILTERS)
def test_merged_shards_equal_find_label_issues(filter_by):
    y, p = make_data(7, 7, 150, 1.0, np.float32, missing=True)
    cuts = [0, 101, 102, len(y)]  # three contiguous shards, one of a single row
    finders = [noise.LabelIssueFinder(7, filter_by=filter_by) for _ in range(3)]
    for _ in range(finders[0].passes_needed):
        for f, a, b in zip(finders, cuts, cuts[1:]):
            for s in range(a, b, 13):
                e = min(b, s + 13)
                f.update(y[s:e], p[s:e], np.arange(s, e))
        states = [f.state() for f in finders]
        for f in finders:
            for st_ in states:
                f.merge(st_)
                f.merge(st_)  # merging twice counts once
            f.next_pass()
    want = reference(y, p, filter_by=filter_by)
    for f in finders:
        np.testing.assert_array_equal(f.find_label_issues(), want)


def test_misuse_is_refused():
    y, p = make_data(2, 4, 40, 1.0, np.float64)
    f = noise.LabelIssueFinder(4)
    with pytest.raises(RuntimeError, match="find_label_issues"):
        f.find_label_issues()
    f.update(y[:10], p[:10], np.arange(10))
    with pytest.raises(ValueError, match="^indexes"):
        f.update(y[10:20], p[10:20], np.arange(5, 15))  # not increasing
    with pytest.raises(ValueError, match="^labels"):
        f.update(np.full(3, 4), p[:3])
    with pytest.raises(ValueError, match="^pred_probs"):
        f.update(y[:3], p[:3, :2])
    f.update(y[10:], p[10:], np.arange(10, len(y)))
    f.next_pass()
    with pytest.raises(ValueError, match="^pred_probs"):
        f.update(y[:3])  # the thresholds pass needs probabilities
    with pytest.raises(TypeError, match="^pred_probs"):
        f.update(y[:3], p[:3])
        f.update(y[3:6], p[3:6].astype(np.float32))
    f2 = noise.LabelIssueFinder(4)
    f2.update(y, p)
    f2.next_pass()
    f2.update(y[:-1], p[:-1])
    with pytest.raises(ValueError, match="^labels"):
        f2.next_pass()  # fewer rows than the first pass
    # interleaved shards (a DistributedSampler's split) cannot give numpy's sums
    a, b = noise.LabelIssueFinder(4), noise.LabelIssueFinder(4)
    a.update(y[::2], None, np.arange(0, len(y), 2))
    b.update(y[1::2], None, np.arange(1, len(y), 2))
    a.merge(b)
    with pytest.raises(ValueError, match="^indexes"):
        a.next_pass()
    with pytest.raises(ValueError, match="^other"):
        noise.LabelIssueFinder(4).merge(noise.LabelIssueFinder(4, filter_by="both"))
    with pytest.raises(ValueError, match="^filter_by"):
        noise.LabelIssueFinder(4, filter_by="x")
    with pytest.raises(ValueError, match="^num_classes"):
        noise.LabelIssueFinder(0)


# ------------------------------------------------------------ two gloo processes

DDP_FILTERS = ("prune_by_noise_rate", "both", "confident_learning", "predicted_neq_given")


def _ddp_data():
    return make_data(21, 9, 300, 1.2, np.float32, missing=True)


def worker(rank: int, world: int) -> dict:
    y, p = _ddp_data()
    bounds = np.linspace(0, len(y), world + 1).astype(int)
    mine = np.arange(bounds[rank], bounds[rank + 1])  # a contiguous block per rank
    results = {}
    for filter_by in DDP_FILTERS:
        f = noise.LabelIssueFinder(p.shape[1], filter_by=filter_by)
        for _ in range(f.passes_needed):
            for s in range(0, len(mine), 50):
                idx = mine[s : s + 50]
                f.update(y[idx], p[idx], idx)
            f.next_pass()  # syncs the ranks
        results[filter_by] = f.find_label_issues()
    return results


def test_two_processes_equal_find_label_issues(tmp_path):
    ranks = ddp_launch.run(__file__, tmp_path)
    y, p = _ddp_data()
    for got in ranks:
        for filter_by in DDP_FILTERS:
            want = reference(y, p, filter_by=filter_by)
            assert want.size > 0
            np.testing.assert_array_equal(got[filter_by], want)


if __name__ == "__main__":
    ddp_launch.worker_main(worker)
