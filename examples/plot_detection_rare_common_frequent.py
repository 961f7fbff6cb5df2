"""
APr / APc / APf of a toy detector
=================================

LVIS reports detection AP separately for rare (<= 10 training images), common (11-100)
and frequent (> 100) classes (Gupta et al. 2019).
:class:`longtail.metrics.detection.MeanAveragePrecision` adds these groups to
torchmetrics' keys with ``frequency=``; its values equal pycocotools' ``COCOeval``
(and lvis-api with ``federated=True``). Here a toy detector localises frequent classes
well and rare classes badly, and the per-class AP shows it.
"""

import matplotlib.pyplot as plt
import numpy as np

from longtail.metrics.detection import MeanAveragePrecision

rng = np.random.default_rng(0)
C = 12
train_images = np.array([2000, 900, 400, 150, 101, 90, 60, 30, 11, 9, 4, 1])
noise = np.interp(np.log(train_images), [0, np.log(2000)], [18.0, 2.0])  # worse on rare

preds, target = [], []
for _ in range(200):
    k = rng.integers(1, 5)
    labels = rng.integers(0, C, k)
    xy = rng.uniform(0, 200, (k, 2))
    wh = rng.uniform(20, 80, (k, 2))
    boxes = np.hstack([xy, xy + wh])
    target.append({"boxes": boxes, "labels": labels})
    jitter = rng.normal(size=(k, 4)) * noise[labels][:, None]
    moved = boxes + jitter
    moved[:, 2:] = np.maximum(moved[:, 2:], moved[:, :2] + 1.0)  # keep boxes valid
    preds.append({"boxes": moved, "scores": rng.uniform(0.3, 1.0, k),
                  "labels": labels})

metric = MeanAveragePrecision(class_metrics=True, frequency=train_images)
metric.update(preds, target)
result = metric.compute()
print({k: round(float(result[k]), 3) for k in ("map", "map_rare", "map_common",
                                               "map_frequent")})

fig, ax = plt.subplots(figsize=(7, 3.5))
group = np.where(train_images <= 10, 0, np.where(train_images <= 100, 1, 2))
colours = np.array(["tab:red", "tab:orange", "tab:blue"])[group]
ax.bar(np.arange(C), np.asarray(result["map_per_class"]), color=colours)
for g, name in enumerate(["rare", "common", "frequent"]):
    value = float(result[f"map_{name}"])
    ax.axhline(value, color=["tab:red", "tab:orange", "tab:blue"][g], ls="--",
               label=f"AP{name[0]} = {value:.2f}")
ax.set_xticks(np.arange(C), [str(n) for n in train_images], rotation=45)
ax.set_xlabel("training images of the class")
ax.set_ylabel("AP (COCO 0.5:0.95)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
