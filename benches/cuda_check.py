"""CUDA smoke check: a DataLoader with our sampler feeding a GPU, losses forward +
backward on CPU and CUDA, metrics fed CUDA tensors.

    python benches/cuda_check.py   # exits quietly without a CUDA device
"""
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

import longtail.losses as L
import longtail.metrics as lm
from longtail.metrics import streaming as st
from longtail.samplers import ClassBalancedSampler

if not torch.cuda.is_available():
    print("no CUDA device: nothing to check")
    raise SystemExit(0)
dev = "cuda"
print(torch.__version__, torch.cuda.get_device_name(0))
rng = np.random.default_rng(0)
C = 1000
counts = np.maximum(1, (2000 * np.arange(1, C + 1) ** -1.1)).astype(int)
labels = np.repeat(np.arange(C), counts)
x = torch.randn(len(labels), 64)
ds = TensorDataset(x, torch.from_numpy(labels))
sampler = ClassBalancedSampler(labels, seed=0)
dl = DataLoader(ds, batch_size=256, sampler=sampler, num_workers=2, pin_memory=True)
model = torch.nn.Linear(64, C).to(dev)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = L.BalancedSoftmaxLoss(counts).to(dev)
seen = []
t0 = time.perf_counter()
for i, (xb, yb) in enumerate(dl):
    xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
    loss = loss_fn(model(xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    seen.append(yb.cpu())
    if i == 60:
        break
torch.cuda.synchronize()
ys = torch.cat(seen).numpy()
print(f"dataloader+sampler+loss on GPU: {i+1} batches in {time.perf_counter()-t0:.2f}s, "
      f"distinct classes {len(np.unique(ys))} of {C}, loss {loss.item():.3f}")

def bench(fn, n=50):
    for _ in range(5):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / n * 1e3

B = 256
for name, mk in [
    ("cross-entropy", lambda: torch.nn.CrossEntropyLoss()),
    ("BalancedSoftmax", lambda: L.BalancedSoftmaxLoss(counts)),
    ("LDAM", lambda: L.LDAMLoss(counts)),
    ("focal", lambda: L.FocalLoss()),
    ("ClassBalanced", lambda: L.ClassBalancedLoss(counts)),
    ("LogitAdjusted", lambda: L.LogitAdjustedLoss(counts)),
]:
    res = []
    for d in ["cpu", dev]:
        f = mk().to(d)
        z = torch.randn(B, C, device=d, requires_grad=True)
        y = torch.randint(0, C, (B,), device=d)
        res.append(bench(lambda f=f, z=z, y=y: f(z, y).backward()))
    print(f"{name:16s} fwd+bwd {B}x{C}: cpu {res[0]:.3f} ms, cuda {res[1]:.3f} ms")

n = 10**6
yt = torch.randint(0, 2, (n,), device=dev)
s = torch.rand(n, device=dev)
a = lm.roc_auc_score(yt, s)
b = lm.roc_auc_score(yt.cpu().numpy(), s.cpu().numpy())
print("roc_auc cuda input vs numpy", a, b, a == b)
ap = lm.average_precision_score(yt, s)
print("AP cuda input", ap)
acc = st.AUROC("binary", bins=4096)
acc.update(s, yt)
print("streaming binned AUROC on cuda tensors", acc.compute(), "exact", a)
cm = lm.confusion_matrix(
    torch.randint(0, 5, (1000,), device=dev), torch.randint(0, 5, (1000,), device=dev)
)
print("confusion matrix from cuda", cm.sum())
