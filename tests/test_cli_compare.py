"""``longtail compare A B`` and the Wilson intervals of ``longtail report``, end to end
in a subprocess (same helpers as tests/test_cli.py)."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "longtail", *args], capture_output=True, text=True, timeout=600
    )


def assert_png(path: Path) -> None:
    assert path.is_file(), f"{path} was not written"
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_MAGIC), path


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _pair(tmp_path: Path, n_per_class=(200, 80, 30, 12), seed=0) -> tuple[Path, Path, Path]:
    """Two models on one long-tailed test set; B fixes most of A's tail errors."""
    rng = np.random.default_rng(seed)
    c = len(n_per_class)
    y = np.repeat(np.arange(c), n_per_class)
    recall_a = np.linspace(0.9, 0.3, c)
    a = np.where(rng.random(y.size) < recall_a[y], y, (y + 1) % c)
    b = np.where((a != y) & (y == c - 1) & (rng.random(y.size) < 0.9), y, a)
    pa, pb = tmp_path / "a.csv", tmp_path / "b.npz"
    pa.write_text("y_true,y_pred\n" + "".join(f"{t},{p}\n" for t, p in zip(y, a)))
    scores = np.eye(c)[b] * 0.7 + 0.3 / c
    np.savez(pb, y_true=y, scores=scores)
    counts = tmp_path / "counts.txt"
    counts.write_text("\n".join(str(v) for v in (5000, 800, 90, 9)) + "\n")
    return pa, pb, counts


def test_compare_prints_writes_and_marks_the_changed_class(tmp_path):
    pa, pb, counts = _pair(tmp_path)
    out = tmp_path / "cmp"
    proc = run("compare", str(pa), str(pb), "--train-counts", str(counts), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "recall A" in text and "recall B" in text and "McNemar p" in text and "Holm p" in text
    pattern = r"^3\s+9\s+12\s+(\S+)\s+(\S+)\s+(\S+)\s+\[(\S+), (\S+)\]\s+(\S+)\s+(\S+)\s+(.*)$"
    row3 = re.search(pattern, text, re.M)
    assert row3 is not None, text
    ra, rb, delta = float(row3.group(1)), float(row3.group(2)), float(row3.group(3))
    assert delta == pytest.approx(rb - ra, abs=2e-3) and delta > 0
    assert float(row3.group(4)) <= delta <= float(row3.group(5))
    assert "* better" in row3.group(8)
    row0 = re.search(r"^0\s+5000\s+200\s.*$", text, re.M)
    assert row0 is not None and "*" not in row0.group(0)  # unchanged class: no mark
    assert "1 class better, 0 classes worse" in text
    assert "training counts from --train-counts" in text

    assert_png(out / "delta_vs_train_count.png")
    md = (out / "compare.md").read_text()
    assert "(delta_vs_train_count.png)" in md and "(per_class_delta.csv)" in md
    with open(out / "per_class_delta.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["class"] for r in rows] == ["0", "1", "2", "3"]
    assert rows[3]["significant"] == "1" and rows[0]["significant"] == "0"
    # The McNemar p-value of the CSV against scipy's exact binomial test.
    y = np.repeat(np.arange(4), (200, 80, 30, 12))
    a = np.loadtxt(pa, delimiter=",", skiprows=1, dtype=int)[:, 1]
    with np.load(pb) as data:
        b = data["scores"].argmax(1)
    m = y == 3
    only_a = int(np.sum(m & (a == y) & (b != y)))
    only_b = int(np.sum(m & (b == y) & (a != y)))
    ref = stats.binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
    assert float(rows[3]["p_value"]) == pytest.approx(ref, rel=1e-9)


def test_compare_without_counts_uses_y_true_and_refuses_to_overwrite(tmp_path):
    pa, pb, _ = _pair(tmp_path, seed=1)
    out = tmp_path / "cmp"
    proc = run("compare", str(pa), str(pb), "--out", str(out), "--resamples", "200")
    assert proc.returncode == 0, proc.stderr
    assert "class sizes in y_true" in proc.stdout
    proc = run("compare", str(pa), str(pb), "--out", str(out))
    assert_one_line_error(proc, "exists", "--force")
    proc = run("compare", str(pa), str(pb), "--out", str(out), "--force", "--resamples", "100")
    assert proc.returncode == 0, proc.stderr


def test_compare_different_test_sets_is_a_one_line_error(tmp_path):
    pa, _, _ = _pair(tmp_path)
    other = tmp_path / "other.csv"
    other.write_text("y_true,y_pred\n0,0\n1,1\n")
    proc = run("compare", str(pa), str(other), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, str(pa), str(other), "not the same test set")
    # Same length, different labels.
    lines = pa.read_text().splitlines()
    flipped = lines[:1] + ["3,3"] + lines[2:]
    other.write_text("\n".join(flipped) + "\n")
    proc = run("compare", str(pa), str(other), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, str(pa), str(other), "y_true differs", "row 0")
    assert not (tmp_path / "o").exists()


def test_compare_labels_only_against_scores(tmp_path):
    # A never predicts class 2 and has no scores: B's score columns say there are 3.
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("y_true,y_pred\n0,0\n1,1\n1,0\n0,0\n")
    b.write_text(
        "y_true,score_0,score_1,score_2\n"
        "0,0.9,0.05,0.05\n1,0.1,0.8,0.1\n1,0.1,0.7,0.2\n0,0.2,0.1,0.7\n"
    )
    proc = run("compare", str(a), str(b), "--out", str(tmp_path / "o"), "--resamples", "50")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^1\s+2\s+2\s+0\.500\s+1\.000\s+\+0\.500", proc.stdout, re.M), proc.stdout
    assert re.search(r"^2\s+0\s+0\s+n/a", proc.stdout, re.M), proc.stdout
    # The other way round (scores with fewer classes than the labels) is an error.
    c = tmp_path / "c.csv"
    c.write_text("y_true,score_0,score_1\n0,0.9,0.1\n1,0.1,0.9\n1,0.1,0.9\n0,0.2,0.8\n")
    d = tmp_path / "d.csv"
    d.write_text("y_true,y_pred\n0,0\n1,2\n1,0\n0,0\n")
    proc = run("compare", str(c), str(d), "--out", str(tmp_path / "p"))
    assert_one_line_error(proc, str(c), str(d), "different classes")


@pytest.mark.parametrize(
    "content, needles",
    [
        ("y_true,score_0,score_1\n0,0.5,0.5\n1,0.1,abc\n", ["line 3", "'score_1'", "'abc'"]),
        ("", ["empty file"]),
        ("label,y_pred\n0,0\n", ["'y_true'"]),
    ],
)
def test_compare_malformed_input(content, needles, tmp_path):
    pa, _, _ = _pair(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    proc = run("compare", str(pa), str(bad), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, str(bad), *needles)
    proc = run("compare", str(tmp_path / "nope.csv"), str(pa), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, "nope.csv", "no such file")


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--confidence", "1.5"), "--confidence"),
        (("--resamples", "0"), "--resamples"),
        (("--few", "50", "--many", "10"), "--few"),
    ],
)
def test_compare_bad_options_exit_2(args, needle, tmp_path):
    pa, pb, _ = _pair(tmp_path)
    proc = run("compare", str(pa), str(pb), *args, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert not (tmp_path / "o").exists()


def test_report_shows_wilson_intervals_and_the_worst_class(tmp_path):
    preds = tmp_path / "preds.csv"
    preds.write_text(
        "y_true,y_pred\n" + "0,0\n" * 8 + "0,1\n" * 2 + "1,1\n" * 3 + "1,0\n" * 2 + "2,2\n"
    )
    out = tmp_path / "rep"
    proc = run("report", str(preds), "--out", str(out), "--confidence", "0.9")
    assert proc.returncode == 0, proc.stderr
    assert "90% interval" in proc.stdout
    ci = stats.binomtest(3, 5).proportion_ci(confidence_level=0.9, method="wilson")
    row = re.search(r"^1\s+\d+\s+\S+\s+5\s+0\.600\s+\[(\S+), (\S+)\]", proc.stdout, re.M)
    assert row is not None, proc.stdout
    assert float(row.group(1)) == pytest.approx(ci.low, abs=0.006)
    assert float(row.group(2)) == pytest.approx(ci.high, abs=0.006)
    assert re.search(r"^worst class: 1 \(recall 0\.600", proc.stdout, re.M), proc.stdout
    with open(out / "per_class.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[1]["recall_low"]) == pytest.approx(ci.low, abs=1e-12)
    assert float(rows[1]["recall_high"]) == pytest.approx(ci.high, abs=1e-12)
    assert "Wilson" in (out / "report.md").read_text()
    assert_png(out / "recall_vs_train_count.png")
    proc = run("report", str(preds), "--out", str(tmp_path / "x"), "--confidence", "0")
    assert proc.returncode == 2 and "--confidence" in proc.stderr


def test_compare_help():
    proc = run("compare", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: longtail compare")
    for option in ("--train-counts", "--confidence", "--resamples", "--force", "--out"):
        assert option in proc.stdout
    proc = run("report", "--help")
    assert "--confidence" in proc.stdout
