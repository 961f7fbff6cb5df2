"""``longtail report``: a long-tail report on predictions saved to a file.

Input formats (see :func:`read_predictions`):

- **CSV** with a header row. Column ``y_true`` holds the labels; then either a column
  ``y_pred`` (predicted labels) or one score column per class, in class order (columns
  named ``score_<class>`` if the file has other columns too), or both. Labels are class
  indices 0..C-1, or the class names of the score columns (``score_cat`` -> ``cat``).
- **.npz** with arrays ``y_true`` (n,) and ``scores`` (n, C) (or ``y_pred`` (n,));
  optionally ``train_counts`` (C,).

Scores may be probabilities (rows summing to 1) or logits (anything else: a softmax is
applied for calibration and AUC). Every problem in the input raises
:class:`ReportInputError`, a one-line message naming the file and the line (CSV) or row
(npz) and column.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d) / "preds.csv"
...     _ = path.write_text("y_true,score_0,score_1\\n0,0.9,0.1\\n1,0.2,0.8\\n1,0.6,0.4\\n")
...     pred = read_predictions(path)
>>> pred.y_true.tolist(), pred.y_pred.tolist(), pred.class_names
([0, 1, 1], [0, 1, 0], ['0', '1'])
>>> rep = build_report(pred, train_counts=[100, 5], many=50, few=10)
>>> rep.recall.tolist(), rep.shots["few"]
([1.0, 0.5], 0.5)
"""

from __future__ import annotations

import csv
import math
import os
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ReportInputError",
    "Predictions",
    "Report",
    "read_predictions",
    "read_train_counts",
    "build_report",
    "format_report",
    "report_output_paths",
    "write_report",
    "check_not_overwriting",
]


class ReportInputError(ValueError):
    """Malformed input file; the message is one line naming the file and the place."""


@dataclass
class Predictions:
    """Predictions read from a file.

    ``y_true`` and ``y_pred`` are class indices into ``class_names``; ``scores`` is the
    (n, C) score matrix as read, or None when the file has only predicted labels;
    ``probs`` its probabilities (softmax of logits); ``train_counts`` from the file, if
    it carried them (npz).
    """

    path: Path
    y_true: np.ndarray
    y_pred: np.ndarray
    class_names: list[str]
    scores: np.ndarray | None = None
    probs: np.ndarray | None = None
    scores_are_logits: bool = False
    train_counts: np.ndarray | None = None

    @property
    def n_classes(self) -> int:
        """Number of classes C."""
        return len(self.class_names)


@dataclass
class Report:
    """Per-class and summary metrics computed by :func:`build_report`.

    Per-class arrays (length C, NaN where undefined): ``support`` (test examples),
    ``recall``, ``precision``, ``roc_auc`` and ``average_precision`` (one-vs-rest,
    only with scores). ``counts`` are the training-class sizes (``counts_source`` says
    where they came from). ``shots`` is :func:`longtail.metrics.shot_accuracy`'s dict.
    """

    predictions: Predictions
    counts: np.ndarray
    counts_source: str
    many: int
    few: int
    n_bins: int
    support: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    accuracy: float
    balanced_accuracy: float
    shots: dict[str, float]
    roc_auc: np.ndarray | None = None
    average_precision: np.ndarray | None = None
    macro_roc_auc: float = math.nan
    macro_average_precision: float = math.nan
    ece: float = math.nan
    notes: list[str] = field(default_factory=list)
    # Wilson intervals of per-class recall (issue 16) and the worst class (lowest recall).
    confidence: float = 0.95
    recall_low: np.ndarray | None = None
    recall_high: np.ndarray | None = None
    worst_class: int | None = None


def _err(path: Path, where: str, message: str) -> ReportInputError:
    place = f"{path}, {where}" if where else str(path)
    return ReportInputError(f"{place}: {message}")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise _err(path, "", "no such file")
    if path.is_dir():
        raise _err(path, "", "is a directory, expected a .csv or .npz file")
    if path.stat().st_size == 0:
        raise _err(path, "", "empty file")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _to_probs(scores: np.ndarray) -> tuple[np.ndarray, bool]:
    """Probabilities from scores: kept if rows are distributions, else softmax (logits)."""
    is_prob = bool(
        np.all(scores >= 0)
        and np.all(scores <= 1)
        and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3)
    )
    if is_prob:
        # Renormalise the rounding of CSV text (0.333, 0.333, 0.333) so rows sum to 1.
        return scores / scores.sum(axis=1, keepdims=True), False
    return _softmax(scores), True


def _parse_label(text: str, names: dict[str, int], n_classes: int | None) -> int | None:
    """Class index of a label cell: a class name, else an integer index, else None."""
    if text in names:
        return names[text]
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or value != int(value):
        return None
    idx = int(value)
    if idx < 0 or (n_classes is not None and idx >= n_classes):
        return None
    return idx


def _read_csv(path: Path) -> Predictions:
    # utf-8-sig: spreadsheets often write a byte-order mark before the header.
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header: list[str] | None = None
            header_line = 0
            rows: list[list[str]] = []
            lines: list[int] = []
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue  # blank lines (a trailing newline, spacing) carry no data
                if header is None:
                    header = [cell.strip() for cell in row]
                    header_line = reader.line_num
                    continue
                if len(row) != len(header):
                    raise _err(
                        path,
                        f"line {reader.line_num}",
                        f"{len(row)} fields, expected {len(header)} as in the header "
                        f"(line {header_line})",
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as e:
        raise _err(path, "", f"not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise _err(path, "", f"not valid CSV ({e})") from None

    if header is None:
        raise _err(path, "", "empty file (no header row)")
    where_header = f"line {header_line}"
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise _err(path, where_header, f"duplicate column {name!r}")
        seen.add(name)
    if "y_true" not in header:
        raise _err(path, where_header, f"missing column 'y_true' (columns: {', '.join(header)})")

    others = [c for c in header if c not in ("y_true", "y_pred")]
    prefixed = [c for c in others if c.startswith("score_")]
    score_cols = prefixed if prefixed else others
    if not score_cols and "y_pred" not in header:
        raise _err(
            path,
            where_header,
            "missing columns: need 'y_pred' or one score column per class besides 'y_true'",
        )
    if len(score_cols) == 1:
        raise _err(
            path,
            where_header,
            f"only one score column ({score_cols[0]!r}); give one score column per class "
            "(for a binary problem: two columns, scores of class 0 and class 1)",
        )

    if not rows:
        raise _err(path, "", f"no data rows after the header ({where_header})")

    col = {name: j for j, name in enumerate(header)}
    scores: np.ndarray | None = None
    if score_cols:
        idx = [col[c] for c in score_cols]
        cells = [[row[j] for j in idx] for row in rows]
        try:
            scores = np.array(cells, dtype=np.float64)
        except ValueError:
            # Find the first cell that is not a number, for a precise message.
            for r, row_cells in enumerate(cells):
                for c, text in enumerate(row_cells):
                    try:
                        float(text)
                    except ValueError:
                        what = "empty value" if not text.strip() else f"{text!r} is not a number"
                        raise _err(
                            path, f"line {lines[r]}, column {score_cols[c]!r}", what
                        ) from None
            raise  # pragma: no cover - numpy and float() disagree on nothing we know of
        bad = ~np.isfinite(scores)
        if bad.any():
            r, c = (int(v) for v in np.argwhere(bad)[0])
            raise _err(
                path,
                f"line {lines[r]}, column {score_cols[c]!r}",
                f"{scores[r, c]} (scores must be finite numbers)",
            )
        names = [c[len("score_") :] if c.startswith("score_") else c for c in score_cols]
    else:
        names = []

    def labels_of(column: str) -> list[str]:
        j = col[column]
        out = []
        for r, row in enumerate(rows):
            text = row[j].strip()
            if not text:
                raise _err(path, f"line {lines[r]}, column {column!r}", "empty value")
            if text.lower() in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity"):
                raise _err(path, f"line {lines[r]}, column {column!r}", f"{text} is not a label")
            out.append(text)
        return out

    texts = {c: labels_of(c) for c in ("y_true", "y_pred") if c in header}
    if scores is None:
        # Labels only: classes are the integers 0..max, or the sorted distinct names.
        all_texts = [t for c in texts.values() for t in c]
        ints = [_parse_label(t, {}, None) for t in all_texts]
        if all(v is not None for v in ints):
            names = [str(k) for k in range(max(v for v in ints if v is not None) + 1)]
        else:
            names = sorted(set(all_texts))
    lookup = {name: k for k, name in enumerate(names)}
    parsed: dict[str, np.ndarray] = {}
    for column, values in texts.items():
        out = np.empty(len(values), dtype=np.int64)
        for r, text in enumerate(values):
            k = _parse_label(text, lookup, len(names))
            if k is None:
                raise _err(
                    path,
                    f"line {lines[r]}, column {column!r}",
                    f"label {text!r} is not one of the {len(names)} classes "
                    f"of the score columns ({_describe_classes(names)})"
                    if scores is not None
                    else f"label {text!r} is not a class",
                )
            out[r] = k
        parsed[column] = out

    return _finish(path, parsed["y_true"], parsed.get("y_pred"), scores, names, None)


def _describe_classes(names: Sequence[str]) -> str:
    if names == [str(k) for k in range(len(names))]:
        return f"0..{len(names) - 1}"
    shown = ", ".join(names[:6])
    return shown + (", ..." if len(names) > 6 else "")


def _finish(
    path: Path,
    y_true: np.ndarray,
    y_pred: np.ndarray | None,
    scores: np.ndarray | None,
    names: list[str],
    train_counts: np.ndarray | None,
) -> Predictions:
    probs, logits = (None, False)
    if scores is not None:
        probs, logits = _to_probs(scores)
        if y_pred is None:
            y_pred = probs.argmax(axis=1)
    assert y_pred is not None
    return Predictions(
        path=path,
        y_true=y_true,
        y_pred=y_pred,
        class_names=names,
        scores=scores,
        probs=probs,
        scores_are_logits=logits,
        train_counts=train_counts,
    )


def _npz_labels(
    path: Path, data: Any, name: str, n: int | None, n_classes: int | None
) -> np.ndarray:
    arr = data[name]
    if arr.ndim != 1:
        raise _err(
            path, f"array {name!r}", f"expected a 1-D array of labels, got shape {arr.shape}"
        )
    if arr.size == 0:
        raise _err(path, f"array {name!r}", "is empty")
    if n is not None and arr.size != n:
        raise _err(path, f"array {name!r}", f"has {arr.size} rows, 'y_true' has {n}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise _err(path, f"array {name!r}, row {r}", f"{arr[r]} is not a label")
        frac = arr != np.round(arr)
        if frac.any():
            r = int(np.flatnonzero(frac)[0])
            raise _err(path, f"array {name!r}, row {r}", f"{arr[r]} is not an integer label")
    elif arr.dtype.kind not in "iub":
        raise _err(path, f"array {name!r}", f"expected integer labels, got dtype {arr.dtype}")
    labels = arr.astype(np.int64)
    outside = labels < 0 if n_classes is None else (labels < 0) | (labels >= n_classes)
    if outside.any():
        r = int(np.flatnonzero(outside)[0])
        what = (
            f"label {labels[r]} is outside the {n_classes} score columns (0..{n_classes - 1})"
            if n_classes is not None
            else f"label {labels[r]} is negative"
        )
        raise _err(path, f"array {name!r}, row {r}", what)
    return labels


def _read_npz(path: Path) -> Predictions:
    try:
        data = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise _err(path, "", f"not a readable .npz file ({e})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise _err(path, "", "is a single .npy array; expected an .npz with y_true and scores")
    with data:
        names = list(data.files)
        if not names:
            raise _err(path, "", "empty file (no arrays)")

        def get(name: str) -> bool:
            if name not in names:
                return False
            try:
                data[name]
            except ValueError as e:
                # allow_pickle=False refuses object arrays: ragged rows end up as these.
                raise _err(path, f"array {name!r}", f"unreadable ({e}); ragged rows?") from None
            return True

        if not get("y_true"):
            raise _err(path, "", f"missing array 'y_true' (arrays: {', '.join(names)})")
        has_scores, has_pred = get("scores"), get("y_pred")
        if not has_scores and not has_pred:
            raise _err(
                path, "", f"missing array 'scores' (or 'y_pred'; arrays: {', '.join(names)})"
            )
        scores = None
        n_classes = None
        n = int(data["y_true"].shape[0]) if data["y_true"].ndim >= 1 else None
        if has_scores:
            scores = data["scores"]
            if scores.dtype.kind not in "fiub":
                raise _err(path, "array 'scores'", f"expected numbers, got dtype {scores.dtype}")
            if scores.ndim != 2:
                raise _err(path, "array 'scores'", f"expected shape (n, C), got {scores.shape}")
            if scores.shape[0] == 0:
                raise _err(path, "array 'scores'", "is empty")
            if scores.shape[1] < 2:
                raise _err(path, "array 'scores'", "needs one column per class (at least 2)")
            if n is not None and scores.shape[0] != n:
                raise _err(path, "array 'scores'", f"has {scores.shape[0]} rows, 'y_true' has {n}")
            scores = scores.astype(np.float64)
            bad = ~np.isfinite(scores)
            if bad.any():
                r, c = (int(v) for v in np.argwhere(bad)[0])
                raise _err(
                    path,
                    f"array 'scores', row {r}, column {c}",
                    f"{scores[r, c]} (scores must be finite numbers)",
                )
            n_classes = scores.shape[1]
        y_true = _npz_labels(path, data, "y_true", None, n_classes)
        y_pred = _npz_labels(path, data, "y_pred", y_true.size, n_classes) if has_pred else None
        if n_classes is None:
            assert y_pred is not None
            n_classes = int(max(y_true.max(), y_pred.max())) + 1
        counts = None
        if "train_counts" in names:
            counts = _check_counts(path, "array 'train_counts'", data["train_counts"], n_classes)
    return _finish(path, y_true, y_pred, scores, [str(k) for k in range(n_classes)], counts)


def read_predictions(path: str | os.PathLike[str]) -> Predictions:
    """Read and validate predictions from a ``.csv`` or ``.npz`` file.

    Raises :class:`ReportInputError` (a ``ValueError``) with a one-line message naming
    the file and the line/row and column of the first problem: missing columns, empty
    file, ragged rows, non-numbers, NaN or infinity, labels outside the score columns.

    >>> read_predictions("missing.csv")
    Traceback (most recent call last):
    ...
    longtail.report.ReportInputError: missing.csv: no such file
    """
    p = Path(path)
    _check_file(p)
    with open(p, "rb") as f:
        magic = f.read(4)
    # Decide by content, not only suffix: an .npz is a zip archive ("PK\x03\x04").
    if p.suffix.lower() == ".npz" or magic == b"PK\x03\x04":
        return _read_npz(p)
    if magic.startswith(b"\x93NUM"):
        raise _err(p, "", "is a single .npy array; expected an .npz with y_true and scores")
    return _read_csv(p)


def _check_counts(path: Path, where: str, arr: Any, n_classes: int | None) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim != 1:
        raise _err(path, where, f"expected one count per class (1-D), got shape {a.shape}")
    if a.dtype.kind not in "fiu":
        raise _err(path, where, f"expected numbers, got dtype {a.dtype}")
    a = a.astype(np.float64)
    bad = ~np.isfinite(a) | (a < 0) | (a != np.round(a))
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise _err(path, f"{where}, entry {r}", f"{a[r]} is not a count (a whole number >= 0)")
    if n_classes is not None and a.size != n_classes:
        raise _err(path, where, f"{a.size} counts, but the predictions have {n_classes} classes")
    return a.astype(np.int64)


def read_train_counts(
    path: str | os.PathLike[str], class_names: Sequence[str] | None = None
) -> np.ndarray:
    """Training-class sizes from a file, one per class, in class order.

    Accepts ``.npy`` (1-D array), ``.npz`` (array ``train_counts``), or text/CSV: one
    count per line in class order, or two columns ``class,count`` (classes as indices
    or as the names of the predictions' score columns). A header line is optional.

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = pathlib.Path(d) / "counts.csv"
    ...     _ = path.write_text("class,count\\nb,5\\na,100\\n")
    ...     read_train_counts(path, ["a", "b"]).tolist()
    [100, 5]
    """
    p = Path(path)
    _check_file(p)
    n_classes = None if class_names is None else len(class_names)
    if p.suffix.lower() in (".npy", ".npz"):
        try:
            data = np.load(p, allow_pickle=False)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
            raise _err(p, "", f"not a readable {p.suffix} file ({e})") from None
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                if "train_counts" not in data.files:
                    raise _err(
                        p, "", f"missing array 'train_counts' (arrays: {', '.join(data.files)})"
                    )
                return _check_counts(p, "array 'train_counts'", data["train_counts"], n_classes)
        return _check_counts(p, "", data, n_classes)

    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            rows = [(reader_line, row) for reader_line, row in _csv_rows(f)]
    except UnicodeDecodeError as e:
        raise _err(p, "", f"not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    if not rows:
        raise _err(p, "", "empty file")
    width = len(rows[0][1])
    if width not in (1, 2):
        raise _err(p, f"line {rows[0][0]}", f"{width} fields; expected 'count' or 'class,count'")

    def is_number(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return False
        return True

    if not is_number(rows[0][1][-1]):
        rows = rows[1:]  # a header
        if not rows:
            raise _err(p, "", "no counts after the header")
    names = list(class_names) if class_names is not None else None
    lookup = {} if names is None else {name: k for k, name in enumerate(names)}
    values: dict[int, float] = {}
    for line, row in rows:
        if len(row) != width:
            raise _err(
                p, f"line {line}", f"{len(row)} fields, expected {width} as in line {rows[0][0]}"
            )
        text = row[-1].strip()
        try:
            v = float(text)
        except ValueError:
            raise _err(p, f"line {line}", f"count {text!r} is not a number") from None
        if not math.isfinite(v) or v < 0 or v != int(v):
            raise _err(p, f"line {line}", f"{text} is not a count (a whole number >= 0)")
        if width == 1:
            k = len(values)
        else:
            label = row[0].strip()
            k_opt = _parse_label(label, lookup, n_classes)
            if k_opt is None:
                raise _err(p, f"line {line}", f"class {label!r} is not a class of the predictions")
            k = k_opt
            if k in values:
                raise _err(p, f"line {line}", f"class {label!r} given twice")
        values[k] = v
    size = n_classes if n_classes is not None else max(values) + 1
    missing = [k for k in range(size) if k not in values]
    if width == 2 and missing:
        label = names[missing[0]] if names else str(missing[0])
        raise _err(p, "", f"no count for class {label!r}")
    return _check_counts(p, "", np.array([values[k] for k in sorted(values)]), n_classes)


def _csv_rows(f: Any) -> Any:
    reader = csv.reader(f)
    for row in reader:
        if row and any(cell.strip() for cell in row):
            yield reader.line_num, row


def build_report(
    predictions: Predictions,
    train_counts: Any = None,
    *,
    many: int = 100,
    few: int = 20,
    n_bins: int = 15,
    confidence: float = 0.95,
) -> Report:
    """Compute the per-class table, shot groups, ECE and ROC/PR AUC of ``predictions``.

    ``train_counts`` (one per class) gives the shot groups and the x axis of the recall
    plot. Without it, counts carried by the file (npz ``train_counts``) are used, and
    failing that the class sizes in ``y_true``, with a note saying so. ROC AUC and
    average precision are one-vs-rest per class (classes without positives in ``y_true``
    are NaN and left out of the macro mean). Per-class recall comes with its Wilson
    interval at level ``confidence``; ``worst_class`` has the lowest recall.
    """
    from longtail.metrics import (
        average_precision_score,
        balanced_accuracy_score,
        confusion_matrix,
        expected_calibration_error,
        roc_auc_score,
        shot_accuracy,
    )

    pred = predictions
    C = pred.n_classes
    notes: list[str] = []
    if train_counts is not None:
        counts = np.asarray(train_counts, dtype=np.int64)
        source = "--train-counts"
    elif pred.train_counts is not None:
        counts, source = pred.train_counts, "the input file"
    else:
        counts = np.bincount(pred.y_true, minlength=C)
        source = "y_true"
        notes.append(
            "No training counts given (--train-counts): shot groups use the class sizes in "
            "y_true instead, which only means something if the test set is long-tailed too."
        )
    if counts.shape != (C,):
        raise ValueError(f"train_counts: expected {C} counts (one per class), got {counts.size}")

    labels = np.arange(C)
    cm = np.asarray(confusion_matrix(pred.y_true, pred.y_pred, labels=labels), dtype=np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.diag(cm) / support
        precision = np.diag(cm) / predicted
    absent = int(np.sum(support == 0))
    if absent:
        notes.append(f"{absent} class(es) have no examples in y_true: their recall is n/a.")
    shots = {
        k: float(v)
        for k, v in shot_accuracy(pred.y_true, pred.y_pred, counts, many=many, few=few).items()
    }
    rep = Report(
        predictions=pred,
        counts=counts,
        counts_source=source,
        many=many,
        few=few,
        n_bins=n_bins,
        support=support,
        recall=recall,
        precision=precision,
        accuracy=float(np.mean(pred.y_true == pred.y_pred)),
        balanced_accuracy=float(np.nanmean(recall)),
        shots=shots,
        notes=notes,
    )
    from longtail.metrics.intervals import wilson_interval

    rep.confidence = confidence
    rep.recall_low, rep.recall_high = wilson_interval(
        np.diag(cm), support, confidence=confidence
    )
    if np.isfinite(recall).any():
        # Lowest recall; among ties, the one whose interval reaches least high.
        keys = np.lexsort((np.nan_to_num(rep.recall_high, nan=2.0), np.nan_to_num(recall, nan=2.0)))
        rep.worst_class = int(keys[0])
    if absent == 0:
        # Same value as nanmean(recall); taken from the library for one source of truth.
        rep.balanced_accuracy = float(balanced_accuracy_score(pred.y_true, pred.y_pred))
    if pred.probs is not None:
        if pred.scores_are_logits:
            notes.append("Scores are not probabilities (rows do not sum to 1): softmax applied.")
        rep.ece = float(expected_calibration_error(pred.y_true, pred.probs, n_bins=n_bins))
        auc = np.full(C, np.nan)
        ap = np.full(C, np.nan)
        for k in range(C):
            positive = (pred.y_true == k).astype(np.int64)
            # One-vs-rest is undefined without both positives and negatives.
            if 0 < positive.sum() < positive.size:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    auc[k] = float(roc_auc_score(positive, pred.probs[:, k]))
                    ap[k] = float(average_precision_score(positive, pred.probs[:, k]))
        rep.roc_auc, rep.average_precision = auc, ap
        if np.isfinite(auc).any():
            rep.macro_roc_auc = float(np.nanmean(auc))
            rep.macro_average_precision = float(np.nanmean(ap))
    else:
        notes.append("Only predicted labels (no scores): ECE and ROC/PR AUC need scores.")
    return rep


def _fmt(v: float, digits: int = 3) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.{digits}f}"


def _interval(rep: Report, k: int) -> str:
    if rep.recall_low is None or rep.recall_high is None or not math.isfinite(rep.recall_low[k]):
        return "n/a"
    return f"[{rep.recall_low[k]:.2f}, {rep.recall_high[k]:.2f}]"


def format_report(rep: Report) -> str:
    """The text printed by ``longtail report``: per-class table, then the summary."""
    pred = rep.predictions
    has_scores = rep.roc_auc is not None
    name_w = max(5, max(len(n) for n in pred.class_names))
    head = f"{'class':<{name_w}}  {'train n':>7}  {'group':>6}  {'test n':>6}  "
    pct = f"{rep.confidence:.0%}"
    head += f"{'recall':>6}  {pct + ' interval':>14}  {'prec.':>6}"
    if has_scores:
        head += f"  {'ROC AUC':>7}  {'AP':>6}"
    lines = [head, "-" * len(head)]
    for k, name in enumerate(pred.class_names):
        n = int(rep.counts[k])
        group = "many" if n > rep.many else ("few" if n < rep.few else "medium")
        row = (
            f"{name:<{name_w}}  {n:>7}  {group:>6}  {int(rep.support[k]):>6}  "
            f"{_fmt(rep.recall[k]):>6}  {_interval(rep, k):>14}  {_fmt(rep.precision[k]):>6}"
        )
        if has_scores:
            assert rep.roc_auc is not None and rep.average_precision is not None
            row += f"  {_fmt(rep.roc_auc[k]):>7}  {_fmt(rep.average_precision[k]):>6}"
        lines.append(row)
    group_n = {
        "many": int(np.sum(rep.counts > rep.many)),
        "medium": int(np.sum((rep.counts <= rep.many) & (rep.counts >= rep.few))),
        "few": int(np.sum(rep.counts < rep.few)),
    }
    lines += [
        "",
        f"{pred.path}: {pred.y_true.size} examples, {pred.n_classes} classes; "
        f"training counts from {rep.counts_source}.",
        f"accuracy {_fmt(rep.accuracy)}, balanced accuracy {_fmt(rep.balanced_accuracy)}",
        f"shot groups (many n > {rep.many:g}, few n < {rep.few:g}; mean recall): "
        + ", ".join(
            f"{g} {_fmt(rep.shots[g])} ({group_n[g]} class{'es' if group_n[g] != 1 else ''})"
            for g in group_n
        ),
    ]
    if rep.worst_class is not None:
        k = rep.worst_class
        lines.append(
            f"worst class: {pred.class_names[k]} (recall {_fmt(rep.recall[k])}, {pct} Wilson "
            f"interval {_interval(rep, k)}, {int(rep.support[k])} test examples)"
        )
    if has_scores:
        lines.append(
            f"ECE ({rep.n_bins} bins) {_fmt(rep.ece)}, macro ROC AUC (one-vs-rest) "
            f"{_fmt(rep.macro_roc_auc)}, macro PR AUC (average precision) "
            f"{_fmt(rep.macro_average_precision)}"
        )
    lines += [f"note: {n}" for n in rep.notes]
    return "\n".join(lines)


def report_output_paths(out: str | os.PathLike[str], *, scores: bool = True) -> dict[str, Path]:
    """The files ``longtail report`` writes under ``out``, by role.

    >>> sorted(report_output_paths("x", scores=False))
    ['per_class', 'recall', 'report']
    """
    out = Path(out)
    paths = {
        "recall": out / "recall_vs_train_count.png",
        "report": out / "report.md",
        "per_class": out / "per_class.csv",
    }
    if scores:
        paths["reliability"] = out / "reliability.png"
    return paths


def check_not_overwriting(paths: Sequence[Path], *, force: bool) -> None:
    """Raise ``FileExistsError`` naming the first of ``paths`` that exists, unless ``force``.

    Called before any work, so that a refused run leaves nothing half-written.

    >>> check_not_overwriting([Path("surely-not-here.png")], force=False)
    """
    if force:
        return
    for p in paths:
        if p.exists():
            raise FileExistsError(f"{p} exists; pass --force to overwrite it or choose --out")


def write_report(rep: Report, out: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the plots, ``per_class.csv`` and a Markdown report linking them under ``out``."""
    from longtail.plots import (
        RELIABILITY_NOTE,
        markdown_figure,
        plot_recall_vs_train_count,
        plot_reliability_diagram,
        save_figure,
    )

    pred = rep.predictions
    paths = report_output_paths(out, scores=pred.probs is not None)
    paths["report"].parent.mkdir(parents=True, exist_ok=True)
    xlabel = (
        "training examples in the class (log scale)"
        if rep.counts_source != "y_true"
        else "examples of the class in y_true (log scale)"
    )
    series = pred.path.name
    if rep.recall_low is not None:
        series += f" ({rep.confidence:.0%} Wilson intervals)"
    fig = plot_recall_vs_train_count(
        rep.counts,
        {series: rep.recall},
        many=rep.many,
        few=rep.few,
        title=f"Per-class recall: {pred.path.name}",
        xlabel=xlabel,
        intervals=(
            None
            if rep.recall_low is None
            else {series: (rep.recall_low, rep.recall_high)}
        ),
    )
    save_figure(fig, paths["recall"])
    if pred.probs is not None:
        fig = plot_reliability_diagram(
            pred.y_true,
            {pred.path.name: pred.probs},
            n_bins=rep.n_bins,
            ece={pred.path.name: rep.ece},
            title=f"Reliability diagram: {pred.path.name}",
        )
        save_figure(fig, paths["reliability"])

    with open(paths["per_class"], "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        cols = ["class", "train_count", "test_count", "recall", "precision"]
        if rep.roc_auc is not None:
            cols += ["roc_auc", "average_precision"]
        cols += ["recall_low", "recall_high"]
        w.writerow(cols)
        for k, name in enumerate(pred.class_names):
            row: list[Any] = [
                name,
                int(rep.counts[k]),
                int(rep.support[k]),
                rep.recall[k],
                rep.precision[k],
            ]
            if rep.roc_auc is not None and rep.average_precision is not None:
                row += [rep.roc_auc[k], rep.average_precision[k]]
            lo_hi = (rep.recall_low, rep.recall_high)
            row += [np.nan if v is None else float(v[k]) for v in lo_hi]
            w.writerow(["" if isinstance(v, float) and not math.isfinite(v) else v for v in row])

    md = [
        f"# longtail report: {pred.path.name}",
        "",
        "```text",
        format_report(rep),
        "```",
        "",
        f"Per-class numbers: [{paths['per_class'].name}]({paths['per_class'].name}).",
        "",
        *markdown_figure(
            "Per-class recall against training-class size",
            paths["recall"].name,
            "per-class recall",
            f"Error bars: {rep.confidence:.0%} Wilson intervals of each class's recall.",
        ),
    ]
    if "reliability" in paths:
        md += markdown_figure(
            "Reliability diagram",
            paths["reliability"].name,
            "reliability diagram",
            RELIABILITY_NOTE,
        )
    paths["report"].write_text("\n".join(md), encoding="utf-8")
    return paths
