"""Accuracy of a clustering against class labels, by Hungarian matching.

Unsupervised (semantic) segmentation and clustering report the accuracy of the best
one-to-one assignment of clusters to classes (Kuhn 1955; Ji et al. 2019, IIC; PointDC).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from longtail._checks import as_1d_labels

__all__ = ["cluster_accuracy"]


def cluster_accuracy(y_true: Any, cluster_ids: Any) -> tuple[float, dict[int, int]]:
    """``(accuracy, mapping)``: the best one-to-one matching of clusters to classes.

    The contingency table of (cluster, class) counts is matched by the Hungarian
    algorithm to maximise the examples on matched pairs; ``accuracy`` is that number
    over n and ``mapping`` sends each matched cluster id to its class id. Rows of
    clusters left unmatched (more clusters than classes) count as errors. Labels of any
    shape (segmentation maps) are flattened.

    Parameters
    ----------
    y_true : array-like of int, any shape
        True class ids (flattened).
    cluster_ids : array-like of int, same number of items
        Cluster ids assigned to the same examples.

    Returns
    -------
    accuracy : float
        Fraction of examples on matched (cluster, class) pairs.
    mapping : dict[int, int]
        Matched cluster id to class id.

    Raises
    ------
    ValueError
        If the numbers of items differ.

    References
    ----------
    Kuhn, H. W. (1955). The Hungarian method for the assignment problem. Naval Research
    Logistics Quarterly 2.

    Examples
    --------
    >>> cluster_accuracy([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 3, 7])
    (0.8333333333333334, {3: 1, 5: 0, 7: 2})
    """
    t = np.asarray(y_true)
    c = np.asarray(cluster_ids)
    t = as_1d_labels(t.reshape(-1) if t.ndim > 1 else t, "y_true")
    c = as_1d_labels(c.reshape(-1) if c.ndim > 1 else c, "cluster_ids")
    if t.shape[0] != c.shape[0]:
        raise ValueError(f"cluster_ids: has {c.shape[0]} items but y_true has {t.shape[0]}")
    classes, ti = np.unique(t, return_inverse=True)
    clusters, ci = np.unique(c, return_inverse=True)
    k = classes.shape[0]
    table = np.bincount(ci * k + ti, minlength=clusters.shape[0] * k).reshape(-1, k)
    rows, cols = linear_sum_assignment(table, maximize=True)
    accuracy = float(table[rows, cols].sum() / t.shape[0])
    mapping = {int(clusters[r]): int(classes[j]) for r, j in zip(rows, cols)}
    return accuracy, mapping
