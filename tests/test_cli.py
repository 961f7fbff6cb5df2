"""The command line end to end: ``python -m longtail ...`` in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import longtail

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "longtail", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def assert_png(path: Path) -> None:
    assert path.is_file(), f"{path} was not written"
    data = path.read_bytes()
    assert len(data) > 1000, f"{path} is (nearly) empty"
    assert data.startswith(PNG_MAGIC), f"{path} is not a PNG"


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# --- basics -------------------------------------------------------------------------


def test_version():
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"longtail {longtail.__version__}"


@pytest.mark.parametrize("args", [(), ("--help",), ("demo", "--help"), ("report", "--help")])
def test_help(args):
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: longtail")
    if args[:1] == ("report",):
        assert "--train-counts" in proc.stdout and "--force" in proc.stdout
    if args[:1] == ("demo",):
        assert "--imbalance-ratio" in proc.stdout and "--seeds" in proc.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (("demo", "--seeds", "0"), "--seeds"),
        (("demo", "--imbalance-ratio", "0.5"), "--imbalance-ratio"),
        (("demo", "--recipes", "ce,magic"), "magic"),
        (("demo", "--recipes", "logit-adjust"), "add ce"),
        (("report",), "FILE"),
        (("report", "x.csv", "--few", "50", "--many", "10"), "--few"),
    ],
)
def test_bad_options_exit_2(args, needle, tmp_path):
    proc = run(*args, "--out", str(tmp_path / "o")) if args != ("report",) else run(*args)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert not (tmp_path / "o").exists()


# --- demo -----------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_defaults_beat_cross_entropy(tmp_path):
    """The issue's promise at the defaults (IF=100, 3 seeds): best recipe >= +7 points."""
    out = tmp_path / "demo"
    proc = run("demo", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    for name in (
        "cross-entropy",
        "class-balanced sampler",
        "balanced softmax",
        "logit adjustment (post-hoc)",
        "LDAM-DRW",
    ):
        assert name in proc.stdout
    assert "many n > 40" in proc.stdout and "few n < 10" in proc.stdout
    gain = re.search(r"Best recipe: (.+?), ([+-]\d+\.\d) points", proc.stdout)
    assert gain is not None, proc.stdout
    assert float(gain.group(2)) >= 7.0, proc.stdout
    assert gain.group(1) != "cross-entropy"
    # Balanced accuracy of each row is a percentage; the CE row must be lower than best.
    rows = {
        m.group(1).strip(): float(m.group(2))
        for m in re.finditer(r"^([A-Za-z][\w\- ()]+?)\s{2,}(\d+\.\d)", proc.stdout, re.M)
    }
    assert rows[gain.group(1)] - rows["cross-entropy"] == pytest.approx(
        float(gain.group(2)), abs=0.11
    )

    for png in ("recall_vs_train_count.png", "reliability.png"):
        assert_png(out / png)
    report = (out / "report.md").read_text()
    assert "(recall_vs_train_count.png)" in report and "(reliability.png)" in report
    with np.load(out / "predictions.npz") as data:
        assert data["scores"].shape == (500, 10)
        assert data["train_counts"].max() >= 50 * data["train_counts"].min()

    # The saved predictions feed `longtail report`, which picks up their train_counts.
    proc = run(
        "report",
        str(out / "predictions.npz"),
        "--out",
        str(tmp_path / "rep"),
        "--many",
        "40",
        "--few",
        "10",
    )
    assert proc.returncode == 0, proc.stderr
    assert "training counts from the input file" in proc.stdout
    assert_png(tmp_path / "rep" / "recall_vs_train_count.png")


def test_demo_small_and_no_overwrite(tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "report.md").write_text("mine")
    # An existing output file: refused before any training, nothing touched.
    args = ["demo", "--out", str(out), "--seeds", "1", "--epochs", "2", "--imbalance-ratio", "10"]
    args += ["--recipes", "ce,logit-adjust,balanced-softmax"]
    proc = run(*args)
    assert_one_line_error(proc, "exists", "--force", str(out))
    assert (out / "report.md").read_text() == "mine"
    assert not (out / "recall_vs_train_count.png").exists()

    proc = run(*args, "--force")
    assert proc.returncode == 0, proc.stderr
    assert "balanced softmax" in proc.stdout and "LDAM-DRW" not in proc.stdout
    assert "imbalance ratio 10" in proc.stdout
    assert_png(out / "recall_vs_train_count.png")
    assert_png(out / "reliability.png")
    assert "(recall_vs_train_count.png)" in (out / "report.md").read_text()


# --- report: good input ---------------------------------------------------------------


def _scores_csv(path: Path, n: int = 60, classes: int = 3, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes)) + 2.0 * np.eye(classes)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    header = "y_true," + ",".join(f"score_{k}" for k in range(classes))
    rows = [f"{y[i]}," + ",".join(f"{v:.6f}" for v in p[i]) for i in range(n)]
    path.write_text("\n".join([header, *rows]) + "\n")


def test_report_csv_scores_with_train_counts(tmp_path):
    preds = tmp_path / "preds.csv"
    _scores_csv(preds)
    counts = tmp_path / "counts.csv"
    counts.write_text("class,count\n2,3\n0,500\n1,40\n")
    out = tmp_path / "rep"
    proc = run("report", str(preds), "--train-counts", str(counts), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "ROC AUC" in proc.stdout and "ECE" in proc.stdout and "PR AUC" in proc.stdout
    assert re.search(r"^2\s+3\s+few\s", proc.stdout, re.M), proc.stdout
    assert re.search(r"^0\s+500\s+many\s", proc.stdout, re.M), proc.stdout
    assert "training counts from --train-counts" in proc.stdout
    assert_png(out / "recall_vs_train_count.png")
    assert_png(out / "reliability.png")
    per_class = (out / "per_class.csv").read_text().splitlines()
    assert per_class[0].startswith("class,train_count,test_count,recall")
    assert len(per_class) == 4
    md = (out / "report.md").read_text()
    assert "(reliability.png)" in md and "(recall_vs_train_count.png)" in md


def test_report_csv_labels_only_and_logits_npz(tmp_path):
    preds = tmp_path / "labels.csv"
    preds.write_text("y_true,y_pred\ncat,cat\ndog,cat\ndog,dog\nbird,bird\n")
    proc = run("report", str(preds), "--out", str(tmp_path / "a"))
    assert proc.returncode == 0, proc.stderr
    assert "ECE and ROC/PR AUC need scores" in proc.stdout
    assert re.search(r"^dog\s.*0\.500", proc.stdout, re.M), proc.stdout
    assert_png(tmp_path / "a" / "recall_vs_train_count.png")
    assert not (tmp_path / "a" / "reliability.png").exists()

    rng = np.random.default_rng(1)
    npz = tmp_path / "logits.npz"
    np.savez(npz, y_true=rng.integers(0, 4, 80), scores=rng.normal(size=(80, 4)) * 3)
    counts = tmp_path / "counts.npy"
    np.save(counts, np.array([1000, 100, 10, 1]))
    proc = run("report", str(npz), "--train-counts", str(counts), "--out", str(tmp_path / "b"))
    assert proc.returncode == 0, proc.stderr
    assert "softmax applied" in proc.stdout
    assert_png(tmp_path / "b" / "reliability.png")


def test_report_labels_only_train_counts_name_unseen_classes(tmp_path):
    # Class 3 never occurs in the file; the training counts say it exists.
    preds = tmp_path / "labels.csv"
    preds.write_text("y_true,y_pred\n0,0\n1,0\n2,2\n")
    counts = tmp_path / "counts.txt"
    counts.write_text("100\n10\n5\n1\n")
    proc = run("report", str(preds), "--train-counts", str(counts), "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert "4 classes" in proc.stdout
    assert re.search(r"^3\s+1\s+few\s+0\s+n/a", proc.stdout, re.M), proc.stdout


def test_report_does_not_overwrite_without_force(tmp_path):
    preds = tmp_path / "preds.csv"
    _scores_csv(preds)
    out = tmp_path / "rep"
    assert run("report", str(preds), "--out", str(out)).returncode == 0
    png = out / "reliability.png"
    png.write_bytes(b"keep me")
    proc = run("report", str(preds), "--out", str(out))
    assert_one_line_error(proc, "exists", "--force")
    assert png.read_bytes() == b"keep me"
    proc = run("report", str(preds), "--out", str(out), "--force")
    assert proc.returncode == 0, proc.stderr
    assert_png(png)


# --- report: malformed input, one case each -------------------------------------------

GOOD_HEADER = "y_true,score_0,score_1,score_2\n"
CSV_CASES = {
    "missing-y_true": ("label,score_0,score_1\n0,0.5,0.5\n", ["line 1", "'y_true'"]),
    "missing-scores": ("y_true\n0\n1\n", ["line 1", "missing columns", "y_pred"]),
    "nan": (GOOD_HEADER + "0,0.2,0.3,0.5\n1,0.1,nan,0.4\n", ["line 3", "'score_1'", "nan"]),
    "inf": (GOOD_HEADER + "0,0.2,0.3,0.5\n1,0.1,inf,0.4\n", ["line 3", "'score_1'"]),
    "not-a-number": (GOOD_HEADER + "0,0.2,abc,0.5\n", ["line 2", "'score_1'", "'abc'"]),
    "empty-cell": (GOOD_HEADER + "0,0.2,0.3,0.5\n1,0.1,,0.4\n", ["line 3", "empty value"]),
    "ragged-short": (GOOD_HEADER + "0,0.2,0.3,0.5\n1,0.1,0.4\n", ["line 3", "3 fields", "4"]),
    "ragged-long": (GOOD_HEADER + "0,0.2,0.3,0.5,0.9\n", ["line 2", "5 fields"]),
    "label-outside": (
        GOOD_HEADER + "0,0.2,0.3,0.5\n\n3,0.1,0.5,0.4\n",
        ["line 4", "'y_true'", "'3'", "3 classes"],
    ),
    "label-negative": (GOOD_HEADER + "-1,0.2,0.3,0.5\n", ["line 2", "'-1'"]),
    "label-nan": (GOOD_HEADER + "nan,0.2,0.3,0.5\n", ["line 2", "'y_true'"]),
    "y_pred-outside": ("y_true,y_pred,score_0,score_1\n0,7,0.5,0.5\n", ["line 2", "'y_pred'"]),
    "header-only": (GOOD_HEADER, ["no data rows"]),
    "blank-lines-only": ("\n\n  \n", ["empty file"]),
    "empty": ("", ["empty file"]),
    "duplicate-column": ("y_true,score_0,score_0\n0,1,0\n", ["line 1", "duplicate"]),
    "one-score-column": ("y_true,score_1\n1,0.9\n", ["line 1", "one score column"]),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_report_malformed_csv(case, tmp_path):
    text, needles = CSV_CASES[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text)
    proc = run("report", str(path), "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, str(path), *needles)
    assert not (tmp_path / "out").exists(), "nothing is written for bad input"


def _npz_case(case: str, path: Path) -> list[str]:
    y = np.array([0, 1, 2, 1])
    s = np.full((4, 3), 1 / 3)
    if case == "missing-scores":
        np.savez(path, y_true=y)
        return ["missing array 'scores'"]
    if case == "missing-y_true":
        np.savez(path, labels=y, scores=s)
        return ["missing array 'y_true'"]
    if case == "nan":
        s[2, 1] = np.nan
        np.savez(path, y_true=y, scores=s)
        return ["array 'scores', row 2, column 1", "nan"]
    if case == "label-outside":
        np.savez(path, y_true=np.array([0, 1, 3, 1]), scores=s)
        return ["array 'y_true', row 2", "label 3", "3 score columns"]
    if case == "length-mismatch":
        np.savez(path, y_true=y[:3], scores=s)
        return ["4 rows", "'y_true' has 3"]
    if case == "ragged":
        np.savez(path, y_true=y, scores=np.array([[0.5, 0.5], [1.0]], dtype=object))
        return ["array 'scores'", "ragged"]
    if case == "empty":
        path.write_bytes(b"")
        return ["empty file"]
    if case == "not-a-zip":
        path.write_text("y_true,scores\n")
        return ["not a readable .npz"]
    if case == "empty-arrays":
        np.savez(path, y_true=np.zeros(0, dtype=int), scores=np.zeros((0, 3)))
        return ["array 'scores'", "empty"]
    if case == "bad-train_counts":
        np.savez(path, y_true=y, scores=s, train_counts=np.array([5, 3]))
        return ["array 'train_counts'", "2 counts", "3 classes"]
    raise AssertionError(case)


NPZ_CASES = [
    "missing-scores",
    "missing-y_true",
    "nan",
    "label-outside",
    "length-mismatch",
    "ragged",
    "empty",
    "not-a-zip",
    "empty-arrays",
    "bad-train_counts",
]


@pytest.mark.parametrize("case", NPZ_CASES)
def test_report_malformed_npz(case, tmp_path):
    path = tmp_path / f"{case}.npz"
    needles = _npz_case(case, path)
    proc = run("report", str(path), "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, str(path), *needles)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "text, needles",
    [
        ("5\n3\n", ["2 counts", "3 classes"]),
        ("count\n5\n-3\n1\n", ["line 3", "-3", "not a count"]),
        ("5\nmany\n1\n", ["line 2", "'many'"]),
        ("class,count\n0,5\n1,3\n", ["no count for class '2'"]),
        ("class,count\n0,5\n7,3\n2,1\n", ["line 3", "'7'"]),
        ("", ["empty file"]),
    ],
)
def test_report_malformed_train_counts(text, needles, tmp_path):
    preds = tmp_path / "preds.csv"
    _scores_csv(preds)
    counts = tmp_path / "counts.csv"
    counts.write_text(text)
    proc = run("report", str(preds), "--train-counts", str(counts), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, str(counts), *needles)


def test_report_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    proc = run("report", str(path), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, str(path), "no such file")


def test_report_closed_stdout_still_writes_files(tmp_path):
    """`longtail report ... | head -1`: the files are written and no traceback is shown."""
    preds = tmp_path / "preds.csv"
    _scores_csv(preds)
    out = tmp_path / "rep"
    proc = subprocess.Popen(
        [sys.executable, "-m", "longtail", "report", str(preds), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Block-buffered stdout, as for most users: the failure then comes at the flush.
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before anything is printed
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=600) in (0, 141), stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert_png(out / "recall_vs_train_count.png")
    assert (out / "report.md").stat().st_size > 0
