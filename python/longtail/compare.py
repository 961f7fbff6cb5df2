"""``longtail compare A B``: which classes changed between two models?

Both files hold predictions on the same test set, in the formats ``longtail report``
reads (:func:`longtail.report.read_predictions`). Per class the command shows both
recalls, the change with a paired stratified bootstrap interval, McNemar's exact
p-value and, after Holm's correction across classes, which classes changed
significantly; it writes ``compare.md``, ``per_class_delta.csv`` and a plot of the
change against training-class size (:func:`longtail.plots.plot_delta_vs_train_count`).

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     a, b = pathlib.Path(d) / "a.csv", pathlib.Path(d) / "b.csv"
...     _ = a.write_text("y_true,y_pred\\n0,0\\n0,0\\n1,0\\n1,0\\n")
...     _ = b.write_text("y_true,y_pred\\n0,0\\n0,0\\n1,1\\n1,0\\n")
...     cmp = build_comparison(read_predictions(a), read_predictions(b), n_resamples=200)
>>> cmp.result["delta"].tolist()
[0.0, 0.5]
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from longtail.report import Predictions, ReportInputError, read_predictions

__all__ = [
    "Comparison",
    "build_comparison",
    "format_comparison",
    "compare_output_paths",
    "write_comparison",
    "read_predictions",
]


@dataclass
class Comparison:
    """The result of :func:`build_comparison`: both predictions, training counts, and
    :func:`longtail.metrics.compare_predictions`'s dict over all C classes."""

    a: Predictions
    b: Predictions
    counts: np.ndarray
    counts_source: str
    result: dict[str, Any]
    confidence: float
    alpha: float
    many: int = 100
    few: int = 20
    notes: list[str] = field(default_factory=list)

    @property
    def significant(self) -> np.ndarray:
        """Classes whose change is significant after Holm's correction."""
        p = self.result["p_adjusted"]
        return np.where(np.isnan(p), False, p < self.alpha)


def _same_test_set(a: Predictions, b: Predictions) -> None:
    where = f"{a.path} and {b.path}"
    if a.y_true.shape != b.y_true.shape:
        raise ReportInputError(
            f"{where}: not the same test set ({a.y_true.size} vs {b.y_true.size} examples)"
        )
    if a.class_names != b.class_names:
        if a.n_classes != b.n_classes:
            raise ReportInputError(
                f"{where}: different classes ({a.n_classes} vs {b.n_classes})"
            )
        raise ReportInputError(
            f"{where}: different class names ({', '.join(a.class_names[:4])} vs "
            f"{', '.join(b.class_names[:4])})"
        )
    diff = np.flatnonzero(a.y_true != b.y_true)
    if diff.size:
        r = int(diff[0])
        raise ReportInputError(
            f"{where}: y_true differs ({diff.size} examples, first at row {r}: "
            f"{a.class_names[a.y_true[r]]!r} vs {b.class_names[b.y_true[r]]!r}); "
            "compare predictions on the same test set, in the same order"
        )


def build_comparison(
    a: Predictions,
    b: Predictions,
    train_counts: Any = None,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    many: int = 100,
    few: int = 20,
) -> Comparison:
    """Compare predictions ``a`` and ``b`` of the same test set, class by class.

    Training counts (x axis of the plot) come from ``train_counts``, else from either
    file (npz ``train_counts``), else from the class sizes in ``y_true`` (with a note).
    """
    from longtail.metrics import compare_predictions

    # A labels-only file knows classes 0..(largest label seen); the other file (scores,
    # or labels reaching further) may know more: numbered classes extend to the larger.
    if a.class_names != b.class_names:
        numbered = [str(k) for k in range(max(a.n_classes, b.n_classes))]
        short = a if a.n_classes < b.n_classes else b
        if short.scores is None and all(
            p.class_names == numbered[: p.n_classes] for p in (a, b)
        ):
            a.class_names = b.class_names = numbered
    _same_test_set(a, b)
    c = a.n_classes
    notes: list[str] = []
    if train_counts is not None:
        counts, source = np.asarray(train_counts, dtype=np.int64), "--train-counts"
    elif a.train_counts is not None or b.train_counts is not None:
        counts = a.train_counts if a.train_counts is not None else b.train_counts
        source = "the input file"
    else:
        counts, source = np.bincount(a.y_true, minlength=c), "y_true"
        notes.append(
            "No training counts given (--train-counts): the x axis shows the class sizes "
            "in y_true instead."
        )
    if counts.shape != (c,):
        raise ReportInputError(
            f"train counts: expected {c} counts (one per class), got {counts.size}"
        )
    r = compare_predictions(
        a.y_true, a.y_pred, b.y_pred, n_resamples=n_resamples, confidence=confidence, seed=seed
    )
    full = _expand(r, c)
    absent = int(np.sum(full["support"] == 0))
    if absent:
        notes.append(f"{absent} class(es) have no examples in y_true: their recall is n/a.")
    return Comparison(
        a=a,
        b=b,
        counts=counts,
        counts_source=source,
        result=full,
        confidence=confidence,
        alpha=1 - confidence,
        many=many,
        few=few,
        notes=notes,
    )


def _expand(r: dict[str, Any], c: int) -> dict[str, Any]:
    """compare_predictions' per-class arrays spread over all C classes (NaN if absent)."""
    idx = np.asarray(r["classes"], dtype=np.int64)
    out: dict[str, Any] = {"classes": np.arange(c)}
    for key, v in r.items():
        if isinstance(v, np.ndarray) and key != "classes":
            full = np.zeros(c, dtype=v.dtype) if key == "support" else np.full(c, np.nan)
            full[idx] = v
            out[key] = full
        elif key != "classes":
            out[key] = v
    return out


def _fmt(v: float, digits: int = 3, sign: bool = False) -> str:
    if not math.isfinite(v):
        return "n/a"
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def _fmt_p(p: float) -> str:
    if not math.isfinite(p):
        return "n/a"
    return "<1e-4" if p < 1e-4 else f"{p:.4f}"


def _mark(cmp: Comparison, k: int) -> str:
    if not cmp.significant[k]:
        return ""
    return "* better" if cmp.result["delta"][k] > 0 else "* worse"


def format_comparison(cmp: Comparison) -> str:
    """The text printed by ``longtail compare``: per-class table, then the summary."""
    r = cmp.result
    names = cmp.a.class_names
    pct = f"{cmp.confidence:.0%}"
    name_w = max(5, max(len(n) for n in names))
    head = (
        f"{'class':<{name_w}}  {'train n':>7}  {'test n':>6}  {'recall A':>8}  "
        f"{'recall B':>8}  {'delta':>6}  {pct + ' interval':>16}  {'McNemar p':>9}  "
        f"{'Holm p':>7}  sig."
    )
    lines = [head, "-" * len(head)]
    for k, name in enumerate(names):
        interval = (
            f"[{_fmt(r['low'][k], 3, True)}, {_fmt(r['high'][k], 3, True)}]"
            if math.isfinite(r["low"][k])
            else "n/a"
        )
        lines.append(
            f"{name:<{name_w}}  {int(cmp.counts[k]):>7}  {int(r['support'][k]):>6}  "
            f"{_fmt(r['a'][k]):>8}  {_fmt(r['b'][k]):>8}  {_fmt(r['delta'][k], 3, True):>6}  "
            f"{interval:>16}  {_fmt_p(r['p_value'][k]):>9}  {_fmt_p(r['p_adjusted'][k]):>7}  "
            f"{_mark(cmp, k)}".rstrip()
        )
    sig = cmp.significant
    better = int(np.sum(sig & (r["delta"] > 0)))
    worse = int(np.sum(sig & (r["delta"] < 0)))
    acc_a = float(np.mean(cmp.a.y_true == cmp.a.y_pred))
    acc_b = float(np.mean(cmp.b.y_true == cmp.b.y_pred))
    lines += [
        "",
        f"A = {cmp.a.path}, B = {cmp.b.path}: {cmp.a.y_true.size} examples, "
        f"{len(names)} classes; training counts from {cmp.counts_source}.",
        f"accuracy A {_fmt(acc_a)}, B {_fmt(acc_b)}; balanced accuracy change B - A "
        f"{_fmt(r['balanced_accuracy_delta'], 3, True)} ({pct} interval "
        f"[{_fmt(r['balanced_accuracy_low'], 3, True)}, "
        f"{_fmt(r['balanced_accuracy_high'], 3, True)}])",
        f"significant changes (McNemar exact test, Holm-corrected p < {cmp.alpha:g}): "
        f"{better} class{'es' if better != 1 else ''} better, "
        f"{worse} class{'es' if worse != 1 else ''} worse",
        "intervals: paired bootstrap of the recall change, resampling examples within "
        "each class",
    ]
    lines += [f"note: {n}" for n in cmp.notes]
    return "\n".join(lines)


def compare_output_paths(out: str | os.PathLike[str]) -> dict[str, Path]:
    """The files ``longtail compare`` writes under ``out``, by role.

    >>> sorted(compare_output_paths("x"))
    ['delta', 'per_class', 'report']
    """
    out = Path(out)
    return {
        "delta": out / "delta_vs_train_count.png",
        "report": out / "compare.md",
        "per_class": out / "per_class_delta.csv",
    }


def write_comparison(cmp: Comparison, out: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the plot, ``per_class_delta.csv`` and ``compare.md`` under ``out``."""
    from longtail.plots import markdown_figure, plot_delta_vs_train_count, save_figure

    r = cmp.result
    paths = compare_output_paths(out)
    paths["report"].parent.mkdir(parents=True, exist_ok=True)
    xlabel = (
        "training examples in the class (log scale)"
        if cmp.counts_source != "y_true"
        else "examples of the class in y_true (log scale)"
    )
    fig = plot_delta_vs_train_count(
        cmp.counts,
        r["delta"],
        r["low"],
        r["high"],
        significant=cmp.significant,
        names=cmp.a.class_names,
        many=cmp.many,
        few=cmp.few,
        title=f"Per-class recall: B = {cmp.b.path.name} against A = {cmp.a.path.name}\n"
        f"({cmp.confidence:.0%} paired bootstrap intervals; marked: McNemar, Holm p < "
        f"{cmp.alpha:g})",
        xlabel=xlabel,
        ylabel="recall of B - recall of A",
    )
    save_figure(fig, paths["delta"])
    cols = [
        "class",
        "train_count",
        "test_count",
        "recall_a",
        "recall_b",
        "delta",
        "delta_low",
        "delta_high",
        "p_value",
        "p_holm",
        "significant",
    ]
    with open(paths["per_class"], "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for k, name in enumerate(cmp.a.class_names):
            row: list[Any] = [
                name,
                int(cmp.counts[k]),
                int(r["support"][k]),
                r["a"][k],
                r["b"][k],
                r["delta"][k],
                r["low"][k],
                r["high"][k],
                r["p_value"][k],
                r["p_adjusted"][k],
                int(cmp.significant[k]),
            ]
            w.writerow(["" if isinstance(v, float) and not math.isfinite(v) else v for v in row])
    md = [
        f"# longtail compare: {cmp.a.path.name} (A) vs {cmp.b.path.name} (B)",
        "",
        "```text",
        format_comparison(cmp),
        "```",
        "",
        f"Per-class numbers: [{paths['per_class'].name}]({paths['per_class'].name}).",
        "",
        *markdown_figure(
            "Recall change against training-class size",
            paths["delta"].name,
            "per-class recall change",
            "Each point is a class with its paired bootstrap interval; green and red mark "
            "significant changes (McNemar, Holm-corrected).",
        ),
    ]
    paths["report"].write_text("\n".join(md), encoding="utf-8")
    return paths
