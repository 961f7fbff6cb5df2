"""The conventions of longtail.losses for the losses of the "more recipes" issue: dtypes,
devices (no host reads in forward), buffers across dtype casts and checkpoints, and the
same on a CUDA device (those tests skip without a GPU; on a GPU machine
``pytest tests/test_losses_recipes.py -m cuda``).

Formulas are tested per family in test_losses_dense.py, test_losses_detection.py,
test_losses_noise_robust.py and test_losses_mixing.py.
"""

from __future__ import annotations

import contextlib
import warnings

import pytest
import torch

from longtail import losses as L

C = 5
DEVICE = "cuda"
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
POS = [50, 20, 5, 1, 0]
NEG = [950, 980, 995, 999, 1000]


def make_losses():
    """name -> (loss, kind): "index" targets are class ids, "binary" same-shape 0/1."""
    return {
        "cb_bce": (L.ClassBalancedBCELoss(POS, NEG, beta=0.99), "binary"),
        "cb_bce_shared": (L.ClassBalancedBCELoss(POS, beta=0.999), "binary"),
        "asl": (L.AsymmetricLoss(), "binary"),
        "tversky": (L.TverskyLoss(0.3, 0.7, 0.75), "index"),
        "seesaw": (L.SeesawLoss(C, counts=[500, 120, 40, 7, 1]), "index"),
        "eqlv2": (L.EQLv2Loss(C), "index"),
        "gce": (L.GCELoss(0.7), "index"),
    }


NAMES = list(make_losses())


def inputs(kind, n=32, seed=0, dtype=torch.float32, device="cpu", d=None):
    g = torch.Generator().manual_seed(seed)
    shape = (n, C) if d is None else (n, C, d)
    z = (torch.randn(*shape, generator=g) * 3).to(dtype)
    if kind == "binary":
        y = (torch.rand(*shape, generator=g) < 0.2).float()
    else:
        y = torch.randint(0, C, shape[:1] + shape[2:], generator=g)
    return z.to(device), y.to(device)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_inputs_follow_dtype_and_match_float32(name, dtype):
    crit, kind = make_losses()[name]
    crit.eval()  # same statistics for both calls
    z, y = inputs(kind)
    zl = z.to(dtype).requires_grad_()
    loss = crit(zl, y)
    assert loss.dtype == dtype
    loss.backward()
    assert zl.grad.dtype == dtype and torch.isfinite(zl.grad.float()).all()
    ref = crit(zl.detach().float(), y)
    tol = 2e-3 if dtype == torch.float16 else 1e-2
    assert loss.float().item() == pytest.approx(ref.item(), rel=tol)


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_backward_never_read_the_device(name):
    # "meta" tensors have no data: success there rules out host-device copies and
    # value-dependent Python branches in forward and backward (EQLv2's collection too).
    crit, kind = make_losses()[name]
    crit = crit.to("meta")
    for buf in crit.buffers():
        assert buf.device.type == "meta"
    z, y = inputs(kind, n=8)
    zm = torch.empty_like(z, device="meta").requires_grad_()
    ym = torch.empty_like(y, device="meta")
    loss = crit(zm, ym)
    loss.backward()
    assert loss.device.type == "meta" and zm.grad.shape == z.shape


@pytest.mark.parametrize("name", NAMES)
def test_half_cast_keeps_statistics_float64_and_state_dict_round_trips(name):
    crit, kind = make_losses()[name]
    z, y = inputs(kind, n=16, seed=1)
    zz = z.clone().requires_grad_()
    crit(zz, y).sum().backward()  # Seesaw counts, EQLv2 collects
    crit.eval()
    before = crit(z, y)
    crit.half()
    for buf in crit.buffers():
        assert buf.dtype == torch.float64
    torch.testing.assert_close(crit(z, y), before)
    fresh, _ = make_losses()[name]
    fresh.load_state_dict(crit.state_dict())
    fresh.eval()
    torch.testing.assert_close(fresh(z, y), before)


@pytest.mark.parametrize("name", NAMES)
def test_reductions_agree(name):
    crit, kind = make_losses()[name]
    crit.eval()
    z, y = inputs(kind, n=10, dtype=torch.float64)
    crit.reduction = "none"
    per = crit(z, y)
    crit.reduction = "sum"
    total = crit(z, y)
    torch.testing.assert_close(per.sum(), total)
    crit.reduction = "mean"
    mean = crit(z, y)
    n = per.shape[0]
    torch.testing.assert_close(mean, total / n)


# --------------------------------------------------------------------------------------
# CUDA (skipped without a GPU)
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def no_sync():
    """Turn any device-to-host synchronisation (``.item()``, ``bool(t)``, ...) into an error."""
    before = torch.cuda.get_sync_debug_mode()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            torch.cuda.set_sync_debug_mode("error")
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            torch.cuda.set_sync_debug_mode(before)


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cuda_matches_cpu_and_does_not_sync(name, reduction):
    cpu, kind = make_losses()[name]
    dev, _ = make_losses()[name]
    cpu.reduction = dev.reduction = reduction
    dev = dev.to(DEVICE)
    for buf in dev.buffers():
        assert buf.device.type == "cuda"
    for step in range(2):  # a second step sees the statistics of the first
        z, y = inputs(kind, seed=step, d=3 if name != "eqlv2" and name != "seesaw" else None)
        zc = z.clone().requires_grad_()
        zd = z.to(DEVICE).requires_grad_()
        yd = y.to(DEVICE)
        want = cpu(zc, y)
        with no_sync():
            got = dev(zd, yd)
            got.sum().backward()
        want.sum().backward()
        torch.testing.assert_close(got.cpu(), want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(zd.grad.cpu(), zc.grad, rtol=1e-5, atol=1e-6)
    for (k, b_cpu), (_, b_dev) in zip(cpu.named_buffers(), dev.named_buffers()):
        torch.testing.assert_close(b_dev.cpu(), b_cpu, rtol=1e-6, atol=1e-9, msg=k)


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_low_precision_follows_dtype(name, dtype):
    crit, kind = make_losses()[name]
    crit = crit.to(DEVICE).eval()
    z, y = inputs(kind)
    zl = z.to(DEVICE, dtype).requires_grad_()
    yd = y.to(DEVICE)
    with no_sync():
        loss = crit(zl, yd)
        loss.backward()
    assert loss.dtype == dtype and zl.grad.dtype == dtype
    ref = crit(zl.detach().float(), yd)
    tol = 2e-3 if dtype == torch.float16 else 1e-2
    assert loss.float().item() == pytest.approx(ref.item(), rel=tol)


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("name", NAMES)
def test_cuda_under_autocast(name):
    crit, kind = make_losses()[name]
    crit = crit.to(DEVICE)
    model = torch.nn.Linear(8, 5).to(DEVICE)
    x = torch.randn(32, 8, device=DEVICE)
    _, y = inputs(kind, device=DEVICE)
    with torch.autocast("cuda", dtype=torch.float16):
        loss = crit(model(x), y)
    loss.backward()
    assert torch.isfinite(loss.float()) and torch.isfinite(model.weight.grad).all()


@pytest.mark.cuda
@needs_cuda
def test_remix_on_cuda_does_not_sync_with_device_counts():
    counts = torch.tensor([500.0, 120, 40, 7, 1], device=DEVICE)
    x = torch.randn(64, 3, 8, 8, device=DEVICE)
    y = torch.randint(0, 5, (64,), device=DEVICE)
    with no_sync():
        x_mix, y_soft = L.remix(x, y, counts, seed=0)
        again = L.remix(x, y, counts, seed=0)
    assert x_mix.device.type == "cuda" and y_soft.shape == (64, 5)
    torch.testing.assert_close(again[0], x_mix)
    torch.testing.assert_close(y_soft.sum(1), torch.ones(64, device=DEVICE))
