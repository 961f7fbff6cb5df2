"""Rare-class coverage: choose images so that every class gets its quota of objects."""

from __future__ import annotations

from typing import Any

import numpy as np

from longtail import _core
from longtail._checks import as_1d_labels, dataset_labels
from longtail.select._common import check_count, check_seed, quota_spec
from longtail.select.quotas import class_quotas

__all__ = ["coverage_select"]


def coverage_select(
    image_ids: Any,
    labels: Any,
    budget: int,
    *,
    quotas: Any = None,
    seed: int = 0,
) -> np.ndarray:
    """Images that cover rare classes, for detection / segmentation sets (OFDS).

    Rows are objects: ``(image_ids[i], labels[i])``. Up to ``budget`` images are
    chosen greedily to maximise ``sum_c min(objects of class c chosen, quota_c)`` -- a
    monotone submodular coverage, so the greedy is within ``1 - 1/e`` of the best
    (Nemhauser et al. 1978) -- by lazy greedy (Minoux 1978) with ties to the smaller
    image id, stopping early when no image adds anything. This is the object-focused
    selection idea for dense prediction (Lee et al. 2024, OFDS): count objects per
    class, not images.

    Parameters
    ----------
    image_ids : array-like of int, shape (n_objects,)
        Image of every object.
    labels : array-like of int, shape (n_objects,)
        Class of every object.
    budget : int
        Images to choose at most.
    quotas : None, mapping or array-like
        Objects wanted per class: an array over the sorted distinct class ids or a
        ``{class id: int}`` mapping. Default: ``class_quotas(object counts,
        budget * n_objects // n_images, power=0)``, i.e. the objects of ``budget``
        average images spread evenly over the classes.
    seed : int
        Accepted for symmetry; the greedy has no random part.

    Returns
    -------
    numpy.ndarray of int64
        Image ids in the order chosen.

    Raises
    ------
    TypeError
        If ``image_ids`` or ``labels`` are not integer data, ``budget`` or ``seed`` is
        not an integer, or ``quotas`` is not a mapping or an array (or a mapping key is
        not an integer).
    ValueError
        If ``image_ids`` or ``labels`` are empty or not 1-D, ``labels`` does not have one
        value per object, ``budget`` or a quota is negative, a quota array does not have
        one value per distinct class, or ``seed`` is outside ``[0, 2**64)``.

    Examples
    --------
    >>> from longtail.select import coverage_select
    >>> images = [1, 1, 1, 2, 3, 3, 4]
    >>> labels = [0, 0, 0, 0, 1, 2, 2]
    >>> coverage_select(images, labels, 2).tolist()
    [3, 1]
    >>> coverage_select(images, labels, 5, quotas={2: 2}).tolist()
    [3, 4]
    """
    im = as_1d_labels(image_ids, "image_ids")
    y = dataset_labels(labels)
    if y.size != im.size:
        raise ValueError(
            f"labels: expected {im.size} values (one per object in image_ids), got {y.size}"
        )
    budget = check_count(budget, "budget")
    check_seed(seed)
    classes, counts = _core.select_class_counts(y)
    if quotas is None:
        n_images = np.unique(im).size
        target = budget * y.size // n_images
        qc, qv, qd = classes, class_quotas(counts, target), 0
    else:
        qc, qv, qd = quota_spec(quotas, lambda: classes)
    return _core.select_coverage(im, y, qc, qv, qd, budget)
