"""Neural-collapse measures NC1-NC4 (Papyan, Han & Donoho 2020) on imbalanced data.

With class means ``mu_c`` of the features and the global mean ``mu_G`` taken as the mean
of the class means (so a large class does not tilt it; Fang et al. 2021 and Thrampoulidis
et al. 2022 study collapse under imbalance), ``M`` holds the centred means
``mu_c - mu_G`` as rows:

- NC1 ``Tr(S_W S_B^+) / C``: within-class variability relative to the between-class one;
  ``S_W`` averages the per-class covariances (1/n_c) over classes and ``S_B = M^T M / C``;
- NC2 equinorm: coefficient of variation of the norms ``||M_c||``; equiangular: standard
  deviation (ddof 0) of the pairwise cosines of the rows of ``M``;
- NC3 ``|| W/||W||_F - M/||M||_F ||_F^2``: self-duality of the classifier rows ``W``;
- NC4: the rate at which the classifier's prediction differs from the nearest class
  mean's.

Only classes with examples take part.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from longtail._checks import as_1d_labels, as_scores

__all__ = ["neural_collapse"]


def _pinv_sym(s: np.ndarray) -> np.ndarray:
    """Pseudo-inverse of a symmetric PSD matrix, dropping eigenvalues below 1e-10 of the
    largest (``S_B`` has rank C - 1 at most: its null space must not blow up)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    top = w.max(initial=0.0)
    keep = w > top * 1e-10 if top > 0 else np.zeros_like(w, dtype=bool)
    return (v[:, keep] / w[keep]) @ v[:, keep].T


def _collapse_from_moments(
    class_ids: np.ndarray,
    means: np.ndarray,
    s_w: np.ndarray,
    classifier_weight: np.ndarray | None,
) -> dict[str, float]:
    """NC1-NC3 from the class means (rows, classes ``class_ids``) and the averaged
    within-class covariance ``s_w``; ``classifier_weight`` has one row per class id."""
    c = means.shape[0]
    if c < 2:
        raise ValueError("labels: neural collapse needs examples of at least 2 classes")
    centred = means - means.mean(axis=0)
    s_b = centred.T @ centred / c
    nc1 = float(np.trace(s_w @ _pinv_sym(s_b)) / c)
    norms = np.linalg.norm(centred, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        equinorm = float(norms.std() / norms.mean())
        unit = centred / norms[:, None]
    cos = unit @ unit.T
    equiangular = float(cos[np.triu_indices(c, 1)].std())
    nc3 = math.nan
    if classifier_weight is not None:
        w = classifier_weight[class_ids]
        nc3 = float(
            np.linalg.norm(w / np.linalg.norm(w) - centred / np.linalg.norm(centred)) ** 2
        )
    return {
        "nc1": nc1,
        "nc2_equinorm": equinorm,
        "nc2_equiangular": equiangular,
        "nc3": nc3,
        "nc4": math.nan,
    }


def _check_weight(classifier_weight: Any, dim: int) -> np.ndarray:
    w = as_scores(classifier_weight, "classifier_weight", ndim=2).astype(np.float64)
    if w.shape[1] != dim:
        raise ValueError(
            f"classifier_weight: expected shape (n_classes, {dim}) like the features' "
            f"columns, got {w.shape}"
        )
    return w


def neural_collapse(
    features: Any, labels: Any, classifier_weight: Any = None
) -> dict[str, float]:
    """Neural-collapse measures of penultimate-layer ``features`` (n, d) with class ids
    ``labels`` (n,) and, optionally, the last layer's ``classifier_weight`` (C, d).

    Returns a dict ``nc1``, ``nc2_equinorm``, ``nc2_equiangular``, ``nc3``, ``nc4`` (the
    last two NaN without the classifier); see the module docstring for the formulas
    (Papyan, Han & Donoho 2020, "Prevalence of neural collapse during the terminal phase
    of deep learning training"). All go to 0 as training collapses the features onto a
    simplex equiangular tight frame aligned with the classifier.

    Parameters
    ----------
    features : array-like of float, shape (n, d)
        Penultimate-layer features.
    labels : array-like of int, shape (n,)
        Class ids (>= 0), with at least 2 classes present.
    classifier_weight : array-like of float, shape (C, d), optional
        Last-layer weights; needed for ``nc3`` and ``nc4``.

    Returns
    -------
    dict[str, float]
        ``nc1``, ``nc2_equinorm``, ``nc2_equiangular``, ``nc3``, ``nc4``.

    Raises
    ------
    ValueError
        If the lengths differ, a class id is negative or has no row in
        ``classifier_weight``, ``classifier_weight`` does not have ``d`` columns, or fewer
        than 2 classes are present.

    Examples
    --------
    >>> x = [[1.1, 0.1], [0.9, -0.1], [-1.1, 0.1], [-0.9, -0.1]]
    >>> r = neural_collapse(x, [0, 0, 1, 1], classifier_weight=[[1.0, 0.0], [-1.0, 0.0]])
    >>> round(r["nc1"], 6), r["nc2_equinorm"], r["nc3"], r["nc4"]
    (0.005, 0.0, 0.0, 0.0)
    """
    x = as_scores(features, "features", ndim=2)
    y = as_1d_labels(labels, "labels")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"labels: has {y.shape[0]} items but features has {x.shape[0]} rows")
    if y.min() < 0:
        raise ValueError(f"labels: class ids must be >= 0, got {y.min()}")
    d = x.shape[1]
    w = None if classifier_weight is None else _check_weight(classifier_weight, d)
    n_classes = int(y.max()) + 1 if w is None else w.shape[0]
    if y.max() >= n_classes:
        raise ValueError(
            f"labels: class id {y.max()} has no row in classifier_weight ({n_classes} rows)"
        )
    order = np.argsort(y, kind="stable")
    class_ids, starts, counts = np.unique(y[order], return_index=True, return_counts=True)
    means = np.empty((class_ids.shape[0], d))
    s_w = np.zeros((d, d))
    # One class at a time: never a float64 copy of all the features.
    for k, (s, n) in enumerate(zip(starts, counts)):
        xs = x[order[s : s + n]].astype(np.float64)
        means[k] = xs.mean(axis=0)
        centred = xs - means[k]
        s_w += centred.T @ centred / n
    s_w /= class_ids.shape[0]
    out = _collapse_from_moments(class_ids, means, s_w, w)
    if w is not None:
        # Nearest class mean, by ||x||^2 - 2 x.mu + ||mu||^2 without the constant term.
        ncc = class_ids[np.argmin(-2 * (x @ means.T.astype(x.dtype)) + (means**2).sum(1), axis=1)]
        clf = np.argmax(x @ w.T.astype(x.dtype), axis=1)
        out["nc4"] = float(np.mean(ncc != clf))
    return out
