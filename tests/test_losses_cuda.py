"""longtail.losses on a CUDA device: same results as on the CPU, no host-device syncs.

Skipped when no GPU is present. On a GPU machine: ``pytest tests/test_losses_cuda.py``.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
import torch

from longtail import losses as L

DEVICE = "cuda"

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

COUNTS = [500, 120, 40, 7, 1]
ALPHA = [1.0, 1.5, 2.0, 2.5, 3.0]


def make_losses(counts=COUNTS):
    return {
        "cb_softmax": L.ClassBalancedLoss(counts, beta=0.99),
        "cb_sigmoid": L.ClassBalancedLoss(counts, beta=0.99, loss_type="sigmoid"),
        "cb_focal": L.ClassBalancedLoss(counts, beta=0.99, loss_type="focal", gamma=2.0),
        "focal": L.FocalLoss(gamma=2.0, alpha=ALPHA),
        "ldam": L.LDAMLoss(counts, s=5.0, weight=ALPHA),
        "balanced_softmax": L.BalancedSoftmaxLoss(counts),
        "logit_adjusted": L.LogitAdjustedLoss(counts, tau=1.5),
    }


NAMES = list(make_losses())


@contextlib.contextmanager
def no_sync():
    """Turn any device-to-host synchronisation (``.item()``, ``bool(t)``, ...) into an error."""
    if not str(DEVICE).startswith("cuda"):
        yield
        return
    before = torch.cuda.get_sync_debug_mode()
    try:
        # torch warns that the mode is a prototype; with warnings as errors that warning
        # used to escape after the mode was set, leaving every later test in "error" mode.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            torch.cuda.set_sync_debug_mode("error")
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            torch.cuda.set_sync_debug_mode(before)


def _data(n=64, c=5, seed=0, d=None):
    g = torch.Generator().manual_seed(seed)
    shape = (n, c) if d is None else (n, c, d)
    z = torch.randn(*shape, generator=g) * 3.0
    y = torch.randint(0, c, (n,) if d is None else (n, d), generator=g)
    if d is None:
        y[0] = -100
    else:
        y[0, 0] = -100
    return z, y


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cuda_matches_cpu_and_does_not_sync(name, reduction):
    cpu = make_losses()[name]
    cpu.reduction = reduction
    dev = make_losses()[name].to(DEVICE)
    dev.reduction = reduction
    for buf in dev.buffers():
        assert buf.device.type == torch.device(DEVICE).type
    z, y = _data()
    zc = z.clone().requires_grad_()
    zd = z.to(DEVICE).requires_grad_()
    yd = y.to(DEVICE)
    want = cpu(zc, y)
    with no_sync():
        got = dev(zd, yd)
        got.sum().backward()
    want.sum().backward()
    assert got.device.type == torch.device(DEVICE).type
    torch.testing.assert_close(got.cpu(), want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(zd.grad.cpu(), zc.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_low_precision_follows_dtype(name, dtype):
    crit = make_losses()[name].to(DEVICE)
    z, y = _data(d=3)
    zl = z.to(DEVICE, dtype).requires_grad_()
    yd = y.to(DEVICE)  # host-to-device copies are syncs too: make them outside the guard
    with no_sync():
        loss = crit(zl, yd)
        loss.backward()
    assert loss.dtype == dtype and zl.grad.dtype == dtype
    assert torch.isfinite(zl.grad.float()).all()
    ref = make_losses()[name](zl.detach().cpu().float(), y)
    tol = 2e-3 if dtype == torch.float16 else 1e-2
    assert loss.float().item() == pytest.approx(ref.item(), rel=tol)


@pytest.mark.parametrize("name", NAMES)
def test_cuda_under_autocast(name):
    crit = make_losses()[name].to(DEVICE)
    model = torch.nn.Linear(8, 5).to(DEVICE)
    x = torch.randn(32, 8, device=DEVICE)
    y = torch.randint(0, 5, (32,), device=DEVICE)
    with torch.autocast(torch.device(DEVICE).type, dtype=torch.float16):
        loss = crit(model(x), y)
    loss.backward()
    assert torch.isfinite(loss.float()) and torch.isfinite(model.weight.grad).all()


def test_counts_given_as_cuda_tensor_build_modules_on_the_device():
    counts = torch.tensor(COUNTS, device=DEVICE)
    for name, crit in make_losses(counts).items():
        if name == "focal":
            continue  # takes no counts: its alpha list has no device to follow
        for buf in crit.buffers():
            assert buf.device.type == torch.device(DEVICE).type, name
    w = L.class_balanced_weights(counts, 0.999)
    assert w.device == counts.device
    torch.testing.assert_close(w.cpu(), L.class_balanced_weights(COUNTS, 0.999))
    crit = L.LDAMLoss(counts)
    crit.weight = L.deferred_reweighting(crit.counts, 3, start_epoch=2)
    assert crit.weight.device == counts.device
    z, y = _data()
    zd, yd = z.to(DEVICE), y.to(DEVICE)
    with no_sync():
        crit(zd, yd)


def test_post_hoc_helpers_on_cuda():
    z, _ = _data()
    zd = z.to(DEVICE, torch.float16)
    # post-hoc, not a training hot path: the counts are checked and copied on each call
    out = L.logit_adjust(zd, torch.tensor(COUNTS, dtype=torch.float64), tau=1.0)
    assert out.device == zd.device and out.dtype == torch.float16
    torch.testing.assert_close(out.float().cpu(), L.logit_adjust(z.half(), COUNTS).float())
    w = torch.randn(10, 16, device=DEVICE, dtype=torch.bfloat16)
    with no_sync():
        wn = L.tau_normalize(w, 1.0)
    assert wn.dtype == torch.bfloat16 and wn.device == w.device
    torch.testing.assert_close(wn.float().norm(dim=1).cpu(), torch.ones(10), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_sbcl_cuda_matches_cpu_and_does_not_sync(dtype):
    g = torch.Generator().manual_seed(0)
    f = torch.randn(32, 2, 16, generator=g)
    sub = torch.randint(0, 6, (32,), generator=g)
    cls = sub // 2
    crit = L.SubclassContrastiveLoss(0.2, class_temperature=0.3)
    # Separate leaves: for float32, f.to(dtype) is f itself, and a CUDA copy of a
    # CPU leaf that requires grad would send its gradient back to the host.
    fc = f.to(dtype).float().clone().requires_grad_()
    fd = f.to(DEVICE, dtype).requires_grad_()
    subd, clsd = sub.to(DEVICE), cls.to(DEVICE)
    want = crit(fc, sub, cls)
    want.backward()
    with no_sync():
        got = crit(fd, subd, clsd)
        got.backward()
    assert got.dtype == dtype
    tol = 1e-5 if dtype == torch.float32 else 2e-3
    torch.testing.assert_close(got.float().cpu(), want.detach(), rtol=tol, atol=tol)
    np.testing.assert_allclose(fd.grad.float().cpu().numpy(), fc.grad.numpy(),
                               rtol=10 * tol, atol=10 * tol)

