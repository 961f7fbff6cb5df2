"""End to end for the "more recipes": Seesaw beats cross-entropy on long-tailed digits, and
``longtail demo --profile`` builds its training set with the chosen profile.

A 64-64-10 MLP is trained on a long-tailed (exponential, imbalance ratio 50) subset of
scikit-learn's bundled digits, once with plain cross-entropy and once with
``SeesawLoss`` (online counts, default p = 0.8, q = 2), with the same initialisation,
batch order and budget, and scored on a balanced held-out set. Measured on four seeds
while writing this test, Seesaw gained 6 to 10 points of balanced accuracy (CE 0.76-0.80,
Seesaw 0.84-0.90); the test asks for 3 points on the mean of three seeds and for a gain
on every seed.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import balanced_accuracy_score
from torch import nn

from longtail.datasets import long_tailed_indices
from longtail.losses import SeesawLoss


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def split(seed, ratio=50.0):
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:50] for c in range(10)])
    pool = np.setdiff1d(np.arange(y.size), test)
    keep = pool[long_tailed_indices(y[pool], imbalance_ratio=ratio, seed=seed)]
    return x[keep], y[keep], x[test], y[test]


def train_and_score(criterion, seed, epochs=30):
    x_tr, y_tr, x_te, y_te = split(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(y_tr.size, generator=gen)
        for start in range(0, order.numel(), 32):
            batch = order[start : start + 32]
            opt.zero_grad()
            criterion(model(xt[batch]), yt[batch]).backward()
            opt.step()
    with torch.no_grad():
        pred = model(torch.from_numpy(x_te)).argmax(1).numpy()
    return balanced_accuracy_score(y_te, pred), np.bincount(y_tr, minlength=10)


def test_seesaw_beats_cross_entropy_on_long_tailed_digits():
    gains = []
    for seed in (0, 1, 2):
        ce, _ = train_and_score(nn.CrossEntropyLoss(), seed)
        seesaw = SeesawLoss(10)
        ss, counts = train_and_score(seesaw, seed)
        # the online counts saw every training sample once per epoch
        np.testing.assert_array_equal(seesaw.cum_samples.numpy(), 30 * counts)
        gains.append(ss - ce)
    assert min(gains) > 0, gains
    assert np.mean(gains) > 0.03, gains


@pytest.mark.slow
def test_demo_profile_option(tmp_path):
    from longtail.cli import build_parser
    from longtail.demo import digits_long_tailed

    assert build_parser().parse_args(["demo", "--profile", "zipf"]).profile == "zipf"
    assert build_parser().parse_args(["demo"]).profile == "exp"
    _, y_lin, _, _ = digits_long_tailed(10, seed=0, profile="linear")
    _, y_exp, _, _ = digits_long_tailed(10, seed=0)
    lin, exp = np.bincount(y_lin), np.bincount(y_exp)
    assert lin[0] == exp[0] and lin[-1] == exp[-1]  # same ends, n_max and n_max / 10
    assert (lin[1:-1] > exp[1:-1]).all()  # a straight line lies above the exponential
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "longtail", "demo", "--out", str(out), "--seeds", "1",
         "--epochs", "1", "--imbalance-ratio", "10", "--profile", "linear", "--recipes", "ce",
         "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "imbalance ratio 10 (linear profile)" in proc.stdout
    assert "--profile linear" in (out / "report.md").read_text()
    bad = subprocess.run([sys.executable, "-m", "longtail", "demo", "--profile", "cubic"],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "--profile" in bad.stderr
