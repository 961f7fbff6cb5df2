"""
Which tail classes really changed? (``longtail compare``)
=========================================================

Two models on the same long-tailed test set: per-class recall of both, the change with a
paired bootstrap interval, and McNemar's exact test per class with Holm's correction
(:func:`longtail.metrics.compare_predictions`). The plot is the one ``longtail compare``
writes: the change against training-class size, significant changes in colour. With 10-30
test examples a tail class moves by several points by chance; the intervals show which
moves are real.
"""

import matplotlib.pyplot as plt
import numpy as np

from longtail.metrics import class_intervals, compare_predictions
from longtail.plots import plot_delta_vs_train_count

rng = np.random.default_rng(0)
C = 20
train_counts = np.floor(1000 * 100.0 ** (-np.arange(C) / (C - 1))).astype(int)
test_counts = np.maximum(train_counts // 10, 10)
y = np.repeat(np.arange(C), test_counts)
recall_a = np.linspace(0.95, 0.35, C)  # model A: plain cross-entropy, tail classes lost
recall_b = recall_a + np.linspace(-0.03, 0.35, C)  # model B: a re-balanced recipe
a = np.where(rng.random(y.size) < recall_a[y], y, (y + 1) % C)
b = np.where(rng.random(y.size) < recall_b[y], y, (y + 1) % C)

wilson = class_intervals(y, a)  # 95% Wilson intervals of model A's recall
low, high = float(wilson["low"][-1]), float(wilson["high"][-1])
print(f"class 19 recall of A: {wilson['value'][-1]:.2f} [{low:.2f}, {high:.2f}]")
cmp = compare_predictions(y, a, b, n_resamples=2000, seed=0)
print("balanced accuracy change:", round(cmp["balanced_accuracy_delta"], 3))

fig = plot_delta_vs_train_count(
    train_counts, cmp["delta"], cmp["low"], cmp["high"],
    significant=cmp["p_adjusted"] < 0.05, many=100, few=20,
    title="re-balanced recipe (B) against cross-entropy (A)",
)
plt.show()
