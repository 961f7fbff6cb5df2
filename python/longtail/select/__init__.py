"""Class-aware data selection: quotas, per-class top-k, pseudo-labels, active learning,
coverage, and the state kept next to the model (class-adaptive thresholds, training
dynamics).

Every function takes labels as the samplers do, returns int64 numpy index arrays
(ascending unless said otherwise), runs its kernel in Rust with the GIL released, and is
deterministic: a random choice takes the smallest keyed 64-bit hashes of (seed, global
index) (:func:`random_keys`), so it depends neither on the thread count nor on the order
or sharding of the rows; ties in scores go to the smaller index.

>>> from longtail.select import class_quotas
>>> int(class_quotas([10, 3], 8).sum())
8
"""

from longtail.select.coverage import coverage_select
from longtail.select.dynamics import ClassAdaptiveThreshold, TrainingDynamics
from longtail.select.kcenter import kcenter_greedy
from longtail.select.per_class import random_keys, select_per_class
from longtail.select.pseudo import class_balanced_pseudo_labels
from longtail.select.query import uncertainty_query
from longtail.select.quotas import class_quotas
from longtail.select.stratified import stratified_select

__all__ = [
    "class_quotas",
    "select_per_class",
    "stratified_select",
    "class_balanced_pseudo_labels",
    "uncertainty_query",
    "kcenter_greedy",
    "coverage_select",
    "random_keys",
    "ClassAdaptiveThreshold",
    "TrainingDynamics",
]
