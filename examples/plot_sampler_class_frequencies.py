"""
What the model sees under each sampler
======================================

Class frequencies in one epoch drawn by :class:`longtail.samplers.ClassBalancedSampler`
with ``power`` 1 (instance-balanced: the data as it is), 0.5 (square-root) and 0
(class-balanced), on a Zipf-like training set of 20 classes (Kang et al. 2020).
"""

import matplotlib.pyplot as plt
import numpy as np

from longtail.datasets import long_tailed_indices
from longtail.samplers import ClassBalancedSampler

full = np.repeat(np.arange(20), 500)
labels = full[long_tailed_indices(full, imbalance_ratio=100)]
counts = np.bincount(labels)

fig, ax = plt.subplots(figsize=(7, 3.5))
for power, style in [(1.0, "o-"), (0.5, "s-"), (0.0, "^-")]:
    sampler = ClassBalancedSampler(labels, power=power, seed=0)
    seen = np.bincount(labels[sampler.indices()], minlength=20)
    ax.plot(np.arange(20), seen / seen.sum(), style, label=f"power = {power}")
ax.set_xlabel("class (sorted by training size, largest first)")
ax.set_ylabel("share of one epoch")
ax.set_yscale("log")
ax.set_title(f"training set: {counts.max()} to {counts.min()} examples per class")
ax.legend()
fig.tight_layout()
plt.show()
