"""Long-tail metrics, each against an independent computation written out in the test."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from longtail.metrics import (
    expected_calibration_error,
    frechet_distance,
    mean_iou,
    separated_kappa,
    shot_accuracy,
)

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------ shot accuracy


def _shot_reference(y_true, y_pred, counts, many, few):
    recall = {}
    for c in range(len(counts)):
        idx = [i for i, t in enumerate(y_true) if t == c]
        if idx:
            recall[c] = sum(y_pred[i] == c for i in idx) / len(idx)
    groups = {"many": [], "medium": [], "few": [], "overall": []}
    for c, r in recall.items():
        n = counts[c]
        g = "many" if n > many else ("few" if n < few else "medium")
        groups[g].append(r)
        groups["overall"].append(r)
    return {k: (sum(v) / len(v) if v else math.nan) for k, v in groups.items()}


def _same(a, b, tol=1e-12):
    assert a.keys() == b.keys()
    for k in a:
        if math.isnan(b[k]):
            assert math.isnan(a[k]), k
        else:
            assert a[k] == pytest.approx(b[k], abs=tol), k


@pytest.mark.parametrize("seed", range(5))
def test_shot_accuracy_matches_loop(seed):
    rng = np.random.default_rng(seed)
    c = 12
    counts = rng.integers(1, 300, c)
    counts[:3] = [100, 20, 19]  # the thresholds themselves: medium, medium, few
    y_true = rng.integers(0, c, 400)
    y_pred = np.where(rng.random(400) < 0.6, y_true, rng.integers(0, c, 400))
    got = shot_accuracy(y_true, y_pred, counts)
    _same(got, _shot_reference(list(y_true), list(y_pred), list(counts), 100, 20))
    got = shot_accuracy(torch.tensor(y_true), y_pred.tolist(), counts, many=50, few=10)
    _same(got, _shot_reference(list(y_true), list(y_pred), list(counts), 50, 10))


def test_shot_accuracy_boundaries_empty_group_and_missing_class():
    # n == many is medium, n == few is medium; no few-shot class -> NaN.
    r = shot_accuracy([0, 1, 1], [0, 1, 0], [100, 20, 500])
    assert r["medium"] == pytest.approx(0.75)
    assert math.isnan(r["many"]) and math.isnan(r["few"])  # class 2 has no test rows
    assert r["overall"] == pytest.approx(0.75)


@pytest.mark.parametrize(
    "args, match",
    [
        (([0, 3], [0, 1], [5, 5, 5]), "y_true"),
        (([0, 1], [0, 1, 1], [5, 5]), "y_pred"),
        (([0, 1], [0, 1], [5, -1]), "train_counts"),
        (([], [], [5, 5]), "y_true"),
    ],
)
def test_shot_accuracy_errors(args, match):
    with pytest.raises(ValueError, match=match):
        shot_accuracy(*args)


def test_shot_accuracy_few_above_many_is_an_error():
    with pytest.raises(ValueError, match="few"):
        shot_accuracy([0], [0], [5], many=10, few=20)


# ------------------------------------------------------------------ calibration


def _ece_reference(y, probs, n_bins, norm):
    """Loop over bins as in Guo et al. 2017, with torchmetrics' [k/M, (k+1)/M) bins."""
    probs = np.asarray(probs, dtype=np.float64)
    conf = probs.max(1)
    acc = (probs.argmax(1) == np.asarray(y)).astype(float)
    edges = np.linspace(0, 1, n_bins + 1)
    gaps, weights = [], []
    for b in range(n_bins):
        lo, hi = edges[b], edges[b + 1]
        m = (conf >= lo) & ((conf < hi) if b < n_bins - 1 else (conf <= hi))
        if m.any():
            gaps.append(abs(acc[m].mean() - conf[m].mean()))
            weights.append(m.mean())
    gaps, weights = np.array(gaps), np.array(weights)
    if norm == "l1":
        return float((gaps * weights).sum())
    if norm == "l2":
        return float(np.sqrt((gaps**2 * weights).sum()))
    return float(gaps.max())


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("n_bins", [1, 7, 15])
def test_ece_matches_loop_and_torchmetrics(norm, n_bins):
    from torchmetrics.functional.classification import multiclass_calibration_error

    rng = np.random.default_rng(n_bins)
    probs = _softmax(rng.normal(size=(500, 5)) * 2)
    y = rng.integers(0, 5, 500)
    got = expected_calibration_error(y, probs, n_bins=n_bins, norm=norm)
    assert got == pytest.approx(_ece_reference(y, probs, n_bins, norm), abs=1e-12)
    tm = multiclass_calibration_error(
        torch.tensor(probs), torch.tensor(y), num_classes=5, n_bins=n_bins, norm=norm
    )
    assert got == pytest.approx(float(tm), abs=1e-5)  # torchmetrics works in float32


def test_ece_binary_probs_and_classwise():
    rng = np.random.default_rng(3)
    p1 = rng.random(300)
    y = (rng.random(300) < p1**2).astype(int)
    two = np.stack([1 - p1, p1], 1)
    assert expected_calibration_error(y, p1) == expected_calibration_error(y, two)
    # classwise: every class's probability binned against the indicator y == k.
    probs = _softmax(rng.normal(size=(300, 4)))
    y = rng.integers(0, 4, 300)
    edges = np.linspace(0, 1, 11)
    per_class = []
    for k in range(4):
        pk, hit = probs[:, k], (y == k).astype(float)
        total = 0.0
        for b in range(10):
            m = (pk >= edges[b]) & ((pk < edges[b + 1]) if b < 9 else (pk <= 1))
            if m.any():
                total += m.mean() * abs(hit[m].mean() - pk[m].mean())
        per_class.append(total)
    got = expected_calibration_error(y, probs, n_bins=10, classwise=True)
    assert got == pytest.approx(np.mean(per_class), abs=1e-12)


def test_ece_perfectly_calibrated_is_zero():
    # Confidence 0.75 and 3 of 4 right in the only bin used.
    probs = [[0.75, 0.25]] * 4
    assert expected_calibration_error([0, 0, 0, 1], probs) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(
    "y, p, kw, match",
    [
        ([0, 1], [[0.5, 0.5]], {}, "probs"),
        ([0, 2], [[0.5, 0.5], [0.1, 0.9]], {}, "y_true"),
        ([0], [[1.5, -0.5]], {}, "probs"),
        ([0], [[np.nan, 1.0]], {}, "probs"),
        ([0], [[0.5, 0.5]], {"norm": "l3"}, "norm"),
        ([0], [[0.5, 0.5]], {"n_bins": 0}, "n_bins"),
    ],
)
def test_ece_errors(y, p, kw, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(y, p, **kw)


# ------------------------------------------------------------------ Frechet distance


def _fid_reference(a, b):
    """pytorch-fid's formula with scipy's general matrix square root."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("d", [1, 3, 16])
def test_frechet_matches_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    a = rng.normal(size=(200, d)) @ rng.normal(size=(d, d))
    b = rng.normal(size=(150, d)) @ rng.normal(size=(d, d)) + 1.0
    assert frechet_distance(a, b) == pytest.approx(_fid_reference(a, b), rel=1e-8, abs=1e-8)


def test_frechet_one_dimensional_closed_form_and_identity():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(100, 1)), 3 * rng.normal(size=(80, 1)) + 2
    sa, sb = a.std(ddof=1), b.std(ddof=1)
    want = (a.mean() - b.mean()) ** 2 + (sa - sb) ** 2
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-10)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-10)
    # rank-deficient covariances (n < d) stay finite and non-negative
    x = rng.normal(size=(5, 20))
    assert frechet_distance(x, x + 1) == pytest.approx(20.0, rel=1e-6)


def test_frechet_errors():
    with pytest.raises(ValueError, match="features_b"):
        frechet_distance(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="features_a"):
        frechet_distance(np.ones((1, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="features_a"):
        frechet_distance(np.ones(3), np.ones((3, 1)))


# ------------------------------------------------------------------ mIoU and SeK


def _iou_reference(t, p, c, ignore=None):
    t, p = np.ravel(t), np.ravel(p)
    if ignore is not None:
        keep = t != ignore
        t, p = t[keep], p[keep]
    out = []
    for k in range(c):
        inter = np.sum((t == k) & (p == k))
        union = np.sum((t == k) | (p == k))
        out.append(inter / union if union else np.nan)
    return np.array(out)


def test_mean_iou_matches_loop_with_ignore_index():
    rng = np.random.default_rng(5)
    t = rng.integers(0, 5, (4, 16, 16))
    p = np.where(rng.random(t.shape) < 0.7, t, rng.integers(0, 5, t.shape))
    t[:, :2] = 255
    want = _iou_reference(t, p, 5, 255)
    got = mean_iou(t, p, num_classes=5, ignore_index=255, average=None)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)
    assert mean_iou(torch.tensor(t), p, num_classes=5, ignore_index=255) == pytest.approx(
        np.nanmean(want)
    )


def test_mean_iou_absent_class_is_left_out():
    # class 2 appears in neither map: NaN per class, ignored by the mean.
    got = mean_iou([0, 1, 1], [0, 1, 0], num_classes=3, average=None)
    assert math.isnan(got[2]) and got[0] == 0.5
    assert mean_iou([0, 1, 1], [0, 1, 0], num_classes=3) == pytest.approx(0.5)


def test_mean_iou_errors():
    with pytest.raises(ValueError, match="y_pred"):
        mean_iou([0, 1], [0, 7], num_classes=2)
    with pytest.raises(ValueError, match="y_true"):
        mean_iou([0, 9], [0, 1], num_classes=2, ignore_index=255)
    with pytest.raises(ValueError, match="y_pred"):
        mean_iou([0, 1], [0], num_classes=2)


def _sek_reference(t, p, c):
    """The SECOND benchmark's evaluation code (Yang et al. 2020), restated."""
    hist = np.bincount(c * np.ravel(t) + np.ravel(p), minlength=c * c).reshape(c, c)

    def kappa(h):
        if h.sum() == 0:
            return 0.0
        po = np.diag(h).sum() / h.sum()
        pe = np.matmul(h.sum(1), h.sum(0).T) / h.sum() ** 2
        return 0.0 if pe == 1 else (po - pe) / (1 - pe)

    c2 = np.zeros((2, 2))
    c2[0][0] = hist[0][0]
    c2[0][1] = hist.sum(1)[0] - hist[0][0]
    c2[1][0] = hist.sum(0)[0] - hist[0][0]
    c2[1][1] = hist[1:, 1:].sum()
    hist_n0 = hist.copy()
    hist_n0[0][0] = 0
    iu = np.diag(c2) / (c2.sum(1) + c2.sum(0) - np.diag(c2))
    return kappa(hist_n0) * math.exp(iu[1]) / math.e


@pytest.mark.parametrize("seed", range(4))
def test_separated_kappa_matches_second_reference(seed):
    rng = np.random.default_rng(seed)
    c = 7
    t = np.where(rng.random((2, 32, 32)) < 0.8, 0, rng.integers(1, c, (2, 32, 32)))
    p = np.where(rng.random(t.shape) < 0.7, t, rng.integers(0, c, t.shape))
    assert separated_kappa(t, p, num_classes=c) == pytest.approx(_sek_reference(t, p, c), abs=1e-12)


def test_separated_kappa_perfect_and_errors():
    t = np.array([0, 0, 1, 2, 3, 0])
    assert separated_kappa(t, t, num_classes=4) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="num_classes"):
        separated_kappa(t, t, num_classes=1)
    with pytest.raises(ValueError, match="y_true"):
        separated_kappa(t, t, num_classes=3)
