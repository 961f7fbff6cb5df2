"""
Per-class recall against training-class size
============================================

The main plot of ``longtail demo``: a small network trained on a long-tailed version of
scikit-learn's digits (imbalance ratio 100) with plain cross-entropy and with
balanced softmax (Ren et al. 2020), then per-class recall against the number of training
images of the class. Cross-entropy loses the tail classes; the re-balanced loss keeps
them. Shaded: the few-shot (< 10 images) and many-shot (> 40) regions.
"""

import matplotlib.pyplot as plt

from longtail.demo import DemoConfig, format_demo_table, run_demo
from longtail.plots import plot_recall_vs_train_count

config = DemoConfig(seeds=1, epochs=30, recipes=("ce", "balanced-softmax"))
result = run_demo(config)
print(format_demo_table(result))

fig = plot_recall_vs_train_count(
    result.train_counts,
    {name: result.recall[name] for name in config.recipes},
    many=config.many,
    few=config.few,
    title="digits, imbalance ratio 100",
)
plt.show()
