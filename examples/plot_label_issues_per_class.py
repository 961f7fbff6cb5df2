"""
Label issues found per class
============================

Confident learning (Northcutt et al. 2021) on a Zipf-distributed set of 20 classes with
10% of the labels flipped at random: :func:`longtail.noise.find_label_issues` (the same
rows as cleanlab) flags most flipped labels. Per class, the bars compare the flagged
rows with the rows whose label was really flipped; with ``min_examples_per_class`` the
tail classes are protected from being pruned too hard.
"""

import matplotlib.pyplot as plt
import numpy as np

from longtail.noise import find_label_issues

rng = np.random.default_rng(0)
C = 20
w = 1 / np.arange(1, C + 1)
y_true = rng.choice(C, size=20_000, p=w / w.sum())
logits = rng.normal(size=(len(y_true), C)).astype(np.float32)
logits[np.arange(len(y_true)), y_true] += 4
pred_probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
labels = y_true.copy()
flip = rng.random(len(labels)) < 0.1
labels[flip] = rng.integers(0, C, flip.sum())
wrong = labels != y_true

issues = find_label_issues(labels, pred_probs)
protected = find_label_issues(labels, pred_probs, min_examples_per_class=300)
precision = (issues & wrong).sum() / issues.sum()
print(f"flagged {issues.sum()} rows; {precision:.0%} of them really flipped; "
      f"{(issues & wrong).sum() / wrong.sum():.0%} of the flipped rows found")

x = np.arange(C)
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.bar(x - 0.27, np.bincount(labels[wrong], minlength=C), 0.27, label="really flipped")
ax.bar(x, np.bincount(labels[issues], minlength=C), 0.27, label="flagged")
ax.bar(x + 0.27, np.bincount(labels[protected], minlength=C), 0.27,
       label="flagged, min_examples_per_class=300")
ax.set_xlabel("given label (classes sorted by size, largest first)")
ax.set_ylabel("rows")
ax.set_yscale("log")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
