"""
Class-adaptive pseudo-label thresholds over training
====================================================

FlexMatch (Zhang et al. 2021) lowers the confidence threshold of classes the model has
learned less of, so that tail classes still get pseudo-labels.
:class:`longtail.select.ClassAdaptiveThreshold` keeps that state on the model's device.
Here a stand-in "model" grows more confident over 300 steps, faster on head classes than
on tail classes; the per-class thresholds follow.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

from longtail.select import ClassAdaptiveThreshold

C, N, BATCH, STEPS = 6, 5000, 256, 300
rng = np.random.default_rng(0)
prior = np.geomspace(1.0, 0.05, C)  # the unlabeled data is long-tailed too
truth = rng.choice(C, size=N, p=prior / prior.sum())
skill = np.linspace(1.0, 0.35, C)  # the model learns head classes first

thr = ClassAdaptiveThreshold(C, method="flexmatch", threshold=0.95, num_unlabeled=N)
history = []
for step in range(STEPS):
    ids = rng.choice(N, size=BATCH, replace=False)
    sharp = 8.0 * (step / STEPS) * skill[truth[ids]]
    z = rng.normal(size=(BATCH, C)) + sharp[:, None] * np.eye(C)[truth[ids]]
    probs = torch.softmax(torch.from_numpy(z), dim=1)
    mask = thr.step(probs, torch.from_numpy(ids))  # weights of the unlabeled loss
    history.append(thr.thresholds().numpy().copy())

history = np.array(history)
fig, ax = plt.subplots(figsize=(7, 3.5))
for c in range(C):
    ax.plot(history[:, c], label=f"class {c}")
ax.set_xlabel("training step")
ax.set_ylabel("FlexMatch threshold T_c")
ax.set_title("head classes (0, 1) reach the full threshold first")
ax.legend(ncol=3, fontsize=8)
fig.tight_layout()
plt.show()
