"""longtail.plots: figures carry titles, labels and legends, and save as non-empty PNGs."""

from __future__ import annotations

import numpy as np
import pytest

from longtail.plots import (
    plot_recall_vs_train_count,
    plot_reliability_diagram,
    reliability_bins,
    save_figure,
)


def test_recall_plot_has_labels_legend_and_groups(tmp_path):
    counts = np.array([130, 78, 46, 28, 16, 10, 6, 3, 2, 1])
    recalls = {"cross-entropy": np.linspace(1, 0, 10), "balanced softmax": np.full(10, 0.8)}
    fig = plot_recall_vs_train_count(counts, recalls, many=40, few=10, title="T")
    (ax,) = fig.axes
    assert ax.get_title() == "T"
    assert ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(recalls)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "many-shot" in texts and "few-shot" in texts and "medium" in texts
    # Points are drawn in order of class size, with the recall of the matching class.
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), np.sort(counts))
    np.testing.assert_allclose(line.get_ydata(), np.linspace(0, 1, 10))
    path = tmp_path / "recall.png"
    save_figure(fig, path)
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5000


def test_recall_plot_skips_nan_and_handles_zero_counts():
    fig = plot_recall_vs_train_count([5, 0, 2], {"m": [0.5, 0.2, np.nan]})
    line = fig.axes[0].get_lines()[0]
    # The class without test examples (NaN) is left out; a class with 0 training
    # examples sits at 0.5 on the log axis instead of vanishing.
    np.testing.assert_array_equal(line.get_xdata(), [0.5, 5])
    np.testing.assert_array_equal(line.get_ydata(), [0.2, 0.5])


def test_recall_plot_many_classes_draws_points_only():
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 1000, 200)
    fig = plot_recall_vs_train_count(counts, rng.random(200))
    assert fig.axes[0].get_lines()[0].get_linestyle() == "None"


@pytest.mark.parametrize(
    "counts, recalls, match",
    [
        ([3, 2], {"m": [0.5]}, "expected 2 per-class values"),
        ([3, -1], {"m": [0.5, 0.5]}, "non-negative"),
        ([3, 2], {}, "at least one series"),
        ([[3, 2]], {"m": [0.5, 0.5]}, "train_counts"),
    ],
)
def test_recall_plot_bad_input(counts, recalls, match):
    with pytest.raises(ValueError, match=match):
        plot_recall_vs_train_count(counts, recalls)


def test_reliability_bins_match_direct_computation():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(500, 4)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = rng.integers(0, 4, 500)
    conf, acc, count = reliability_bins(y, probs, n_bins=10)
    assert count.sum() == 500
    top = probs.max(1)
    right = probs.argmax(1) == y
    for k in range(10):
        lo, hi = k / 10, (k + 1) / 10
        m = (top > lo) & (top <= hi)
        assert count[k] == m.sum()
        if m.any():
            assert conf[k] == pytest.approx(top[m].mean())
            assert acc[k] == pytest.approx(right[m].mean())
        else:
            assert np.isnan(conf[k]) and np.isnan(acc[k])
    # The ECE from these bins, computed by hand, is a weighted gap in [0, 1].
    keep = count > 0
    ece = np.sum(count[keep] / 500 * np.abs(acc[keep] - conf[keep]))
    assert 0 <= ece <= 1


def test_reliability_bins_confidence_one_in_last_bin():
    _, _, count = reliability_bins([0], [[1.0, 0.0]], n_bins=4)
    assert count.tolist() == [0, 0, 0, 1]


def test_reliability_bins_bad_input():
    with pytest.raises(ValueError, match="probs: expected 2 rows"):
        reliability_bins([0, 1], [[0.5, 0.5]])
    with pytest.raises(ValueError, match="probs"):
        reliability_bins([0], [[np.nan, 0.5]])


def test_reliability_diagram(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 100)
    p = rng.dirichlet(np.ones(3), 100)
    fig = plot_reliability_diagram(y, {"a": p, "b": p[::-1]}, n_bins=5, ece={"a": 0.25})
    top, bottom = fig.axes
    assert top.get_title() and top.get_ylabel() == "accuracy" and bottom.get_xlabel()
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    assert legend == ["perfectly calibrated", "a (ECE 0.250)", "b"]
    path = tmp_path / "rel.png"
    save_figure(fig, path)
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5000


def test_recall_plot_groups_outside_the_data_are_not_drawn(tmp_path):
    # All classes are few-shot: no many/medium label may stray outside the axes (that
    # once collapsed the layout with a UserWarning, an error under this test suite).
    fig = plot_recall_vs_train_count([1, 2], {"m": [1.0, 0.5]}, many=100, few=20)
    assert [t.get_text() for t in fig.axes[0].texts] == ["few-shot\nn < 20"]
    save_figure(fig, tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 5000
