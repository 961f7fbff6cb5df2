"""matplotlib plots: per-class recall against training frequency, reliability diagram.

The figures are built with the object-oriented API (``matplotlib.figure.Figure`` on an
Agg canvas) and never through ``pyplot``: no display is needed, no global state is
touched, and a user's chosen backend is left alone. Every function returns the
``Figure``; :func:`save_figure` writes it.

>>> fig = plot_recall_vs_train_count([100, 10, 1], {"cross-entropy": [0.9, 0.5, 0.0]})
>>> fig.axes[0].get_xlabel()
'training examples in the class (log scale)'
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogFormatter

from longtail._checks import as_1d_labels, as_float_array

__all__ = [
    "plot_recall_vs_train_count",
    "plot_delta_vs_train_count",
    "plot_reliability_diagram",
    "reliability_bins",
    "save_figure",
]

# One distinct colour and marker per series, so that the plots stay readable in print
# and for colour-blind readers (tab10 is the colour-blind-safe default cycle).
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# Above this many classes, lines joining the points turn into clutter: draw points only.
_MAX_CLASSES_FOR_LINES = 30

Series = Union[Mapping[str, Any], Any]


def _as_series(values: Series, name: str) -> dict[str, Any]:
    """A single array becomes one unnamed series; a mapping keeps its order."""
    if isinstance(values, Mapping):
        if not values:
            raise ValueError(f"{name}: expected at least one series, got an empty mapping")
        return dict(values)
    return {"model": values}


def _new_figure(figsize: tuple[float, float]) -> Figure:
    fig = Figure(figsize=figsize, dpi=120, layout="constrained")
    FigureCanvasAgg(fig)  # explicit Agg canvas: PNG output without any display
    return fig


def plot_recall_vs_train_count(
    train_counts: Any,
    recalls: Series,
    *,
    many: float | None = None,
    few: float | None = None,
    title: str | None = None,
    xlabel: str = "training examples in the class (log scale)",
    intervals: Mapping[str, Any] | None = None,
) -> Figure:
    """Per-class recall (y) against the number of training examples of the class (x).

    One series per entry of ``recalls`` (name -> per-class recall array, NaN for a class
    without test examples, which is left out). The x axis is logarithmic because class
    sizes in long-tailed data span orders of magnitude. With ``many``/``few`` the
    many-shot (n > many) and few-shot (n < few) regions are shaded and labelled, as in
    the shot groups of :func:`longtail.metrics.shot_accuracy`. ``intervals`` (name ->
    ``(low, high)`` per-class arrays, e.g. Wilson intervals from
    :func:`longtail.metrics.class_intervals`) draws them as error bars.

    >>> fig = plot_recall_vs_train_count(
    ...     [130, 40, 2], {"CE": [0.99, 0.8, 0.1], "balanced softmax": [0.97, 0.9, 0.6]},
    ...     many=40, few=10)
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['CE', 'balanced softmax']
    """
    counts = as_float_array(train_counts, "train_counts", ndim=1)
    if np.any(counts < 0):
        raise ValueError("train_counts: must be non-negative")
    series = _as_series(recalls, "recalls")
    # A class with zero training examples cannot sit on a log axis: draw it at 0.5 and
    # say so in the tick label rather than silently dropping the class.
    x = np.where(counts > 0, counts, 0.5)
    order = np.argsort(x, kind="stable")

    fig = _new_figure((7.5, 4.8))
    ax = fig.add_subplot()
    lines = counts.size <= _MAX_CLASSES_FOR_LINES
    for k, (name, values) in enumerate(series.items()):
        rec = as_float_array(values, f"recalls[{name!r}]", ndim=1, finite=False)
        if rec.shape != counts.shape:
            raise ValueError(
                f"recalls[{name!r}]: expected {counts.size} per-class values (one per "
                f"entry of train_counts), got {rec.size}"
            )
        keep = order[np.isfinite(rec[order])]
        (line,) = ax.plot(
            x[keep],
            rec[keep],
            linestyle="-" if lines else "none",
            linewidth=1.5,
            marker=_MARKERS[k % len(_MARKERS)],
            markersize=6 if lines else 4,
            alpha=0.9 if lines else 0.6,
            label=name,
        )
        if intervals is not None and name in intervals:
            low, high = (np.asarray(v, dtype=np.float64)[keep] for v in intervals[name])
            ax.errorbar(
                x[keep],
                rec[keep],
                yerr=np.nan_to_num(np.maximum(np.stack([rec[keep] - low, high - rec[keep]]), 0)),
                fmt="none",
                ecolor=line.get_color(),
                elinewidth=1.0 if lines else 0.6,
                capsize=3 if lines else 0,
                alpha=0.6 if lines else 0.35,
            )
    ax.set_xscale("log")
    # Plain numbers (1, 10, 100) read better than 10^0, 10^1 for class sizes.
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    # Minor ticks: matplotlib labels them only on narrow ranges; keep that, in plain form.
    ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
    lo, hi = float(x.min()) / 1.5, float(x.max()) * 1.5
    ax.set_xlim(lo, hi)
    # Head-room above recall 1.0 for the shot-group names, so they never cover data.
    ax.set_ylim(-0.03, 1.12)
    ax.set_yticks(np.linspace(0, 1, 6))
    # Shot groups as (region on the x axis, colour, label), clipped to the visible range:
    # a group outside it (no class that small or that large) is not drawn at all, so its
    # label cannot stray outside the axes.
    groups = []
    if many is not None:
        groups.append((many, hi, "tab:green", f"many-shot\nn > {many:g}"))
    if few is not None:
        groups.append((lo, few, "tab:red", f"few-shot\nn < {few:g}"))
    if many is not None and few is not None and few < many:
        groups.append((few, many, None, "medium"))
    for start, stop, colour, label in groups:
        a, b = max(start, lo), min(stop, hi)
        if a >= b:
            continue
        if colour is not None:
            ax.axvspan(a, b, color=colour, alpha=0.07, zorder=0)
        for edge in (start, stop):
            if lo < edge < hi:
                ax.axvline(edge, color="grey", linestyle="--", linewidth=1)
        ax.text(math.sqrt(a * b), 1.075, label, ha="center", va="center", fontsize=8.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("recall on the test set")
    ax.set_title(title or "Per-class recall against training-class size")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9, framealpha=0.9)
    return fig


def plot_delta_vs_train_count(
    train_counts: Any,
    delta: Any,
    low: Any,
    high: Any,
    *,
    significant: Any = None,
    names: Any = None,
    many: float | None = None,
    few: float | None = None,
    title: str | None = None,
    xlabel: str = "training examples in the class (log scale)",
    ylabel: str = "change in recall (B - A)",
    max_labels: int = 12,
) -> Figure:
    """Per-class change of a metric between two models against training-class size.

    Each class is a point at (training count, ``delta``) with its interval
    ``[low, high]`` as an error bar; classes in ``significant`` (a boolean array, e.g.
    McNemar with Holm's correction from :func:`longtail.metrics.compare_predictions`)
    are drawn in green (better) or red (worse) and, up to ``max_labels`` of them, named;
    the others are grey. A dashed line marks no change. Class-dependent effects of
    compression, adversarial training or a new recipe show up as a trend along x.

    >>> fig = plot_delta_vs_train_count([500, 50, 5], [0.01, -0.05, 0.4], [-0.02, -0.2, 0.1],
    ...                                 [0.04, 0.1, 0.7], significant=[False, False, True])
    >>> fig.axes[0].get_ylabel()
    'change in recall (B - A)'
    """
    counts = as_float_array(train_counts, "train_counts", ndim=1)
    if np.any(counts < 0):
        raise ValueError("train_counts: must be non-negative")
    d, lo, hi = (
        as_float_array(v, n, ndim=1, finite=False)
        for v, n in ((delta, "delta"), (low, "low"), (high, "high"))
    )
    for arr, n in ((d, "delta"), (lo, "low"), (hi, "high")):
        if arr.shape != counts.shape:
            raise ValueError(f"{n}: expected {counts.size} per-class values, got {arr.size}")
    sig = (
        np.zeros(counts.shape, dtype=bool)
        if significant is None
        else np.asarray(significant, dtype=bool)
    )
    if sig.shape != counts.shape:
        raise ValueError(f"significant: expected {counts.size} per-class flags, got {sig.size}")
    labels = [str(k) for k in range(counts.size)] if names is None else [str(v) for v in names]
    x = np.where(counts > 0, counts, 0.5)
    ok = np.isfinite(d)
    many_classes = counts.size > _MAX_CLASSES_FOR_LINES
    fig = _new_figure((7.5, 4.8))
    ax = fig.add_subplot()
    ax.axhline(0.0, color="black", linestyle="--", linewidth=1, zorder=1)
    groups = (
        (ok & ~sig, "tab:gray", "o", "no significant change"),
        (ok & sig & (d > 0), "tab:green", "^", "significantly better"),
        (ok & sig & (d <= 0), "tab:red", "v", "significantly worse"),
    )
    for mask, colour, marker, label in groups:
        if not mask.any():
            continue
        err = np.stack([d[mask] - lo[mask], hi[mask] - d[mask]])
        err = np.where(np.isfinite(err), np.maximum(err, 0.0), 0.0)
        ax.errorbar(
            x[mask],
            d[mask],
            yerr=err,
            fmt=marker,
            color=colour,
            markersize=4 if many_classes else 7,
            elinewidth=0.7 if many_classes else 1.3,
            capsize=0 if many_classes else 3,
            alpha=0.5 if many_classes and colour == "tab:gray" else 0.9,
            label=f"{label} ({int(mask.sum())})",
            zorder=2 if colour == "tab:gray" else 3,
        )
    shown = np.flatnonzero(ok & sig)
    if names is not None or shown.size <= max_labels:
        shown = shown[np.argsort(-np.abs(d[shown]), kind="stable")][:max_labels]
        for k in shown:
            ax.annotate(
                labels[k],
                (x[k], d[k]),
                xytext=(5, 4),
                textcoords="offset points",
                fontsize=8,
            )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
    lo_x, hi_x = float(x.min()) / 1.5, float(x.max()) * 1.5
    ax.set_xlim(lo_x, hi_x)
    finite = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)], d[ok], [0.0]])
    y_lo, y_hi = float(finite.min()), float(finite.max())
    pad = max(0.05, 0.08 * (y_hi - y_lo))
    # Head-room on top for the shot-group names, so they never cover data.
    ax.set_ylim(y_lo - pad, y_hi + 2.5 * pad)
    label_y = y_hi + 1.6 * pad
    regions = []
    if few is not None:
        regions.append((lo_x, few, "tab:red", f"few-shot n < {few:g}"))
    if many is not None:
        regions.append((many, hi_x, "tab:green", f"many-shot n > {many:g}"))
    for start, stop, colour, label in regions:
        a, b = max(start, lo_x), min(stop, hi_x)
        if a >= b:
            continue
        ax.axvspan(a, b, color=colour, alpha=0.06, zorder=0)
        for edge in (start, stop):
            if lo_x < edge < hi_x:
                ax.axvline(edge, color="grey", linestyle=":", linewidth=1)
        ax.text(math.sqrt(a * b), label_y, label, ha="center", va="center", fontsize=8.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Per-class change against training-class size")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(
        loc="best", fontsize=8.5, framealpha=0.9, title="error bars: intervals",
        title_fontsize=8.5,
    )
    return fig


def reliability_bins(
    y_true: Any, probs: Any, *, n_bins: int = 15
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal-width confidence bins of the top-label probability.

    Returns ``(confidence, accuracy, count)`` per bin (NaN for an empty bin): the mean
    top-label probability, the fraction of correct top-label predictions, and the number
    of examples. These are the points of a reliability diagram (Guo et al. 2017).

    >>> conf, acc, n = reliability_bins([0, 1], [[0.9, 0.1], [0.8, 0.2]], n_bins=5)
    >>> n.tolist(), float(acc[-1])
    ([0, 0, 0, 1, 1], 1.0)
    """
    y = as_1d_labels(y_true, "y_true")
    p = as_float_array(probs, "probs", ndim=2)
    if p.shape[0] != y.size:
        raise ValueError(f"probs: expected {y.size} rows (one per label), got {p.shape[0]}")
    if n_bins < 1:
        raise ValueError(f"n_bins: must be >= 1, got {n_bins}")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    # Right-closed bins (lo, hi], with 0 in the first: a confidence of exactly 1.0 lands
    # in the last bin, matching the usual ECE definition.
    idx = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / count
        acc = np.bincount(idx, weights=correct, minlength=n_bins) / count
    return mean_conf, acc, count


def plot_reliability_diagram(
    y_true: Any,
    probs: Series,
    *,
    n_bins: int = 15,
    ece: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Reliability diagram: accuracy against confidence, one line per model.

    ``probs`` maps a name to an (n, C) array of class probabilities for the labels
    ``y_true`` (or is a single array). Points below the diagonal are over-confident.
    The lower panel shows how many predictions fall in each confidence bin, so that a
    wild point backed by three examples is not over-read. ``ece`` (name -> value) is
    shown in the legend when given.

    >>> fig = plot_reliability_diagram([0, 1, 1], {"CE": [[.8, .2], [.3, .7], [.6, .4]]},
    ...                                n_bins=5, ece={"CE": 0.3})
    >>> fig.axes[0].get_ylabel(), fig.axes[1].get_xlabel()
    ('accuracy', 'confidence (top-label probability)')
    """
    series = _as_series(probs, "probs")
    fig = _new_figure((6.4, 6.4))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot(
        [0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated"
    )
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    for k, (name, values) in enumerate(series.items()):
        conf, acc, count = reliability_bins(y_true, values, n_bins=n_bins)
        keep = count > 0
        label = name if ece is None or name not in ece else f"{name} (ECE {ece[name]:.3f})"
        (line,) = top.plot(
            conf[keep], acc[keep], marker=_MARKERS[k % len(_MARKERS)], linewidth=1.5, label=label
        )
        bottom.stairs(count / count.sum(), edges, color=line.get_color(), linewidth=1.5)
    top.set_xlim(0, 1)
    top.set_ylim(-0.02, 1.02)
    top.set_ylabel("accuracy")
    top.set_title(title or "Reliability diagram")
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", fontsize=9, framealpha=0.9)
    bottom.set_xlabel("confidence (top-label probability)")
    bottom.set_ylabel("share of\npredictions")
    bottom.grid(True, alpha=0.3)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Write ``fig`` to ``path`` (PNG, or any format matplotlib infers from the suffix).

    >>> import tempfile, pathlib
    >>> fig = plot_recall_vs_train_count([5, 1], [0.5, 0.0])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_figure(fig, pathlib.Path(d) / "recall.png")
    ...     (pathlib.Path(d) / "recall.png").stat().st_size > 0
    True
    """
    fig.savefig(os.fspath(path))


def markdown_figure(title: str, image: str, alt: str, note: str = "") -> list[str]:
    """Lines of a Markdown report section showing one saved figure.

    >>> markdown_figure("Reliability diagram", "reliability.png", "reliability diagram")[-2]
    '![reliability diagram](reliability.png)'
    """
    return [f"## {title}", ""] + ([note, ""] if note else []) + [f"![{alt}]({image})", ""]


#: The reliability section that ``longtail demo`` and ``longtail report`` both write.
RELIABILITY_NOTE = "Points below the diagonal are over-confident predictions."
