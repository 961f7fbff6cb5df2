"""k-means, balanced k-means and batched per-class subclass clustering.

The heavy lifting is Rust (``longtail._core``): distances by a blocked GEMM
(||x||^2 - 2 x.c + ||c||^2, faer, one block of rows per task, the argmin fused with the
product), greedy k-means++ seeding and deterministic reductions, so a given ``seed``
gives bit-identical results whatever the number of threads
(:func:`longtail.set_num_threads`). The GIL is released during every call.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import NotFittedError
from tqdm.auto import tqdm

from longtail import _core
from longtail._checks import as_1d_labels, as_float_array, check_positive_int, to_numpy

__all__ = ["KMeans", "subclass_labels", "equal_frequency_bins"]

# Rounds of the balanced assignment after Lloyd's iterations (rust: MAX_BALANCE_ITER).
_MAX_BALANCE_ROUNDS = 30


def _as_data(x: Any, name: str, dtype: Any = None) -> np.ndarray:
    """``x`` as a C-contiguous 2-D float32/float64 array (float32 stays float32)."""
    arr = to_numpy(x, name)
    if dtype is None:
        dtype = np.float32 if arr.dtype == np.float32 else np.float64
    return as_float_array(arr, name, ndim=2, dtype=dtype)


def _check_seed(seed: Any) -> int:
    seed = check_positive_int(seed, "seed", minimum=0)
    if seed >= 2**64:
        raise ValueError(f"seed: must be < 2**64, got {seed}")
    return seed


def _resolve_seed(seed: Any, random_state: Any) -> int:
    """The seed from ``seed`` and scikit-learn's ``random_state`` (an int or None).

    ``random_state=None`` (the default) means ``seed``; an integer ``random_state``
    is the seed, and must equal ``seed`` when ``seed`` is not the default 0.
    """
    seed = _check_seed(seed)
    if random_state is None:
        return seed
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise TypeError(
            "random_state: expected an int or None (a RandomState or Generator instance "
            f"is not supported; pass an int seed), got {type(random_state).__name__}"
        )
    state = check_positive_int(random_state, "random_state", minimum=0)
    if state >= 2**64:
        raise ValueError(f"random_state: must be < 2**64, got {state}")
    if seed != 0 and seed != state:
        raise ValueError(
            f"random_state: random_state={state} and seed={seed} disagree; "
            "give one of them (random_state is scikit-learn's name for seed)"
        )
    return state


def _check_tol(tol: Any) -> float:
    if isinstance(tol, bool) or not isinstance(tol, Real) or not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol: must be a finite number >= 0, got {tol!r}")
    return float(tol)


class KMeans(ClusterMixin, BaseEstimator):
    """k-means clustering with greedy k-means++ seeding and a Rust GEMM kernel.

    A drop-in for :class:`sklearn.cluster.KMeans` (``fit``, ``predict``,
    ``fit_predict``, ``transform``, ``score``, ``cluster_centers_``, ``labels_``,
    ``inertia_``, ``n_iter_``), on float32 or float64 data (float32 stays float32;
    other dtypes become float64).

    Seeding is k-means++ (Arthur & Vassilvitskii 2007) in scikit-learn's greedy
    variant: at every step ``2 + floor(ln k)`` candidates are drawn with probability
    proportional to the squared distance to the nearest chosen centre, and the one
    that lowers the potential most is kept. Lloyd's iterations follow scikit-learn:
    they stop when the squared centre shift is at most ``tol * mean(var(X, axis=0))``
    or when the labels no longer change; empty clusters are re-seeded with the points
    farthest from their centres. The best of ``n_init`` runs (lowest inertia) is kept.

    Parameters
    ----------
    n_clusters : int
        Number of clusters ``k`` (``1 <= k <= n``).
    init : {"k-means++", "random"} or array of shape (n_clusters, n_features)
        Seeding: greedy k-means++, ``k`` distinct random rows, or given centres (then
        a single run is made whatever ``n_init``).
    n_init : int
        Number of seeded runs.
    max_iter : int
        Maximum Lloyd iterations per run.
    tol : float
        Relative tolerance on the squared centre shift (as scikit-learn).
    seed : int
        The result is a pure function of ``seed`` (and the data).
    random_state : int or None
        scikit-learn's name for ``seed``: an integer is used as the seed (a nonzero
        ``seed`` given too must be equal, else ``ValueError``); ``None`` (the default)
        means ``seed``, so results stay reproducible (unlike scikit-learn, where None
        draws a fresh seed). RandomState instances are not accepted.
    balanced : bool
        After Lloyd's iterations, reassign so that cluster sizes differ by at most one
        (greedy by the gap between nearest and second-nearest centre, then centres to
        the means, repeated); ``inertia_`` is that of the balanced clusters.
        ``predict`` still assigns each row to its nearest centre.
    verbose : bool
        Show a tqdm progress bar over the iterations.
    n_local_trials : int or None
        Candidates per k-means++ step (default ``2 + floor(ln k)``).
    init_size : int or None
        Rows the k-means++ seeding runs on, drawn uniformly without replacement
        (as scikit-learn's ``MiniBatchKMeans(init_size=...)``). The default uses all
        rows up to ``max(128 * n_clusters, 16384)`` rows and a sample of that size
        beyond; ``init_size >= n_samples`` always seeds on all rows, as
        :class:`sklearn.cluster.KMeans`. Lloyd's iterations always use every row.

    Attributes
    ----------
    cluster_centers_ : numpy.ndarray, shape (n_clusters, n_features)
        The centres, in the dtype of the data.
    labels_ : numpy.ndarray, shape (n_samples,)
        The int64 cluster of every training row.
    inertia_ : float
        Sum of squared distances of the rows to their centres.
    n_iter_ : int
        Lloyd iterations of the kept run.

    Raises
    ------
    TypeError
        If ``random_state`` is not an int or None (a ``RandomState`` or ``Generator``),
        or ``n_clusters``, ``n_init``, ``max_iter``, ``seed``, ``n_local_trials`` or
        ``init_size`` is not an integer (raised by ``fit``).
    ValueError
        Raised by ``fit``: if ``n_clusters`` is below 1 or larger than the number of
        rows, ``n_init``, ``max_iter``, ``n_local_trials`` or ``init_size`` is below 1,
        ``tol`` is not a finite number >= 0, ``seed`` / ``random_state`` is negative,
        >= 2**64 or the two disagree, ``init`` is an unknown string or an array of the
        wrong shape, or ``X`` is not a finite 2-D real array. ``predict``,
        ``transform`` and ``score`` raise it for ``X`` with another number of features.
    sklearn.exceptions.NotFittedError
        From ``predict``, ``transform`` and ``score`` before ``fit``.

    Notes
    -----
    Seeding makes ``k`` sequential passes over the rows it uses, each one bound by
    memory speed on large ``X``: on all of 100k x 128 rows with ``k = 100`` it costs
    more than 20 Lloyd iterations, hence the sample.

    Lloyd's iterations are exact but skip most distance computations with Hamerly's
    bounds (an upper bound on each row's distance to its centre and a lower bound on
    the distance to any other centre, updated by how far the centres move): rows
    that cannot change cluster are not recomputed, so after the first few
    iterations an iteration costs a small fraction of a full assignment. The rows
    that are recomputed go through a blocked GEMM (faer) with the argmin fused, so
    memory stays O(256 k) per thread beyond the O(n) bounds.

    Examples
    --------
    >>> import numpy as np
    >>> from longtail.cluster import KMeans
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> km = KMeans(2, seed=0).fit(X)
    >>> sorted(np.bincount(km.labels_).tolist())
    [2, 2]
    >>> round(km.inertia_, 4)
    0.01
    >>> bool(km.predict([[4.9, 5.2]])[0] == km.labels_[2])
    True
    """

    def __init__(
        self,
        n_clusters: int,
        *,
        init: Any = "k-means++",
        n_init: int = 1,
        max_iter: int = 300,
        tol: float = 1e-4,
        seed: int = 0,
        balanced: bool = False,
        verbose: bool = False,
        n_local_trials: int | None = None,
        init_size: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed
        self.balanced = balanced
        self.verbose = verbose
        self.n_local_trials = n_local_trials
        self.init_size = init_size
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> KMeans:
        """Cluster ``X`` (n_samples, n_features); ``y`` is ignored.

        Parameters
        ----------
        X : array_like or tensor, shape (n_samples, n_features)
            Finite real rows, float32 or float64 (float32 stays float32).
        y : None
            Ignored (scikit-learn API).

        Returns
        -------
        KMeans
            The fitted estimator itself.

        Raises
        ------
        TypeError, ValueError
            For invalid constructor arguments or ``X``, as listed in :class:`KMeans`.

        Examples
        --------
        >>> KMeans(1).fit([[1.0], [3.0]]).cluster_centers_.tolist()
        [[2.0]]
        """
        k = check_positive_int(self.n_clusters, "n_clusters")
        n_init = check_positive_int(self.n_init, "n_init")
        max_iter = check_positive_int(self.max_iter, "max_iter")
        tol = _check_tol(self.tol)
        seed = _resolve_seed(self.seed, self.random_state)
        trials = self.n_local_trials
        if trials is not None:
            trials = check_positive_int(trials, "n_local_trials")
        init_size = self.init_size
        if init_size is not None:
            init_size = check_positive_int(init_size, "init_size")
        X = _as_data(X, "X")
        n, d = X.shape
        if k > n:
            raise ValueError(
                f"n_clusters: n_clusters = {k} is larger than the number of samples n = {n}"
            )
        given = None
        if isinstance(self.init, str):
            if self.init not in ("k-means++", "random"):
                raise ValueError(
                    f"init: expected 'k-means++', 'random' or an array, got {self.init!r}"
                )
        else:
            given = _as_data(self.init, "init", dtype=X.dtype)
            if given.shape != (k, d):
                raise ValueError(f"init: expected shape ({k}, {d}), got {given.shape}")
            n_init = 1

        xnorm = _core.kmeans_row_norms(X)
        # scikit-learn's tolerance is relative to the data's mean feature variance.
        tol_abs = tol * _core.kmeans_mean_variance(X) if tol > 0 else 0.0
        best = None
        with tqdm(
            total=n_init * max_iter, disable=not self.verbose, desc="k-means", unit="it"
        ) as bar:
            for run in range(n_init):
                if given is not None:
                    centers = given.copy()
                else:
                    centers = _core.kmeans_init(
                        X,
                        xnorm,
                        k,
                        self.init,
                        seed,
                        run,
                        n_local_trials=trials,
                        init_size=init_size,
                    )
                # Same loop as the Rust `fit` (lloyd.rs); tests check they agree bitwise.
                lloyd = _core.LloydRun(centers)
                strict = False
                n_iter = 0
                for it in range(max_iter):
                    shift, changed = lloyd.step(X, xnorm)
                    n_iter = it + 1
                    bar.update(1)
                    bar.set_postfix(run=run, changed=changed, shift=f"{shift:.3g}", refresh=False)
                    if it > 0 and changed == 0:
                        strict = True
                        break
                    if shift <= tol_abs:
                        break
                # The bar ends at the iterations actually run (e.g. 49/49), not max_iter.
                bar.total -= max_iter - n_iter
                bar.refresh()
                centers = lloyd.centers()
                if strict:
                    labels = lloyd.labels()
                else:
                    # Labels must match the returned centres (scikit-learn does the same).
                    labels = lloyd.finish(X, xnorm)
                if self.balanced:
                    centers, labels, inertia = _core.kmeans_balance(
                        X, xnorm, centers, min(max_iter, _MAX_BALANCE_ROUNDS)
                    )
                else:
                    inertia = _core.kmeans_inertia(X, centers, labels)
                if best is None or inertia < best[2]:
                    best = (centers, labels, inertia, n_iter)
        assert best is not None
        self.cluster_centers_, self.labels_, self.inertia_, self.n_iter_ = best
        self.inertia_ = float(self.inertia_)
        self.n_features_in_ = d
        return self

    def _centers(self) -> np.ndarray:
        if not hasattr(self, "cluster_centers_"):
            raise NotFittedError("This KMeans instance is not fitted yet; call fit first.")
        return self.cluster_centers_

    def _data(self, X: Any) -> np.ndarray:
        centers = self._centers()
        X = _as_data(X, "X", dtype=centers.dtype)
        if X.shape[1] != centers.shape[1]:
            raise ValueError(f"X: expected {centers.shape[1]} features, got {X.shape[1]}")
        return X

    def predict(self, X: Any) -> np.ndarray:
        """Index of the nearest centre of every row of ``X`` (int64).

        Parameters
        ----------
        X : array_like or tensor, shape (n_samples, n_features)
            Finite real rows with the features of the training data.

        Returns
        -------
        numpy.ndarray
            The int64 cluster of every row, shape (n_samples,).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted yet.
        ValueError
            If ``X`` is not a finite 2-D real array or has another number of features than
            the training data.

        Examples
        --------
        >>> km = KMeans(2, init=np.array([[0.0], [10.0]])).fit([[0.0], [10.0]])
        >>> km.predict([[1.0], [9.0], [4.0]]).tolist()
        [0, 1, 0]
        """
        labels, _ = _core.kmeans_assign(self._data(X), self._centers())
        return labels

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X)`` and return ``labels_``.

        Parameters
        ----------
        X : array_like or tensor, shape (n_samples, n_features)
            Finite real rows, float32 or float64 (float32 stays float32).
        y : None
            Ignored (scikit-learn API).

        Returns
        -------
        numpy.ndarray
            ``labels_``, the int64 cluster of every row.

        Raises
        ------
        TypeError, ValueError
            As :meth:`fit`.

        Examples
        --------
        >>> KMeans(2, balanced=True).fit_predict([[0.0], [0.1], [0.2], [9.0]]).tolist()
        [0, 0, 1, 1]
        """
        return self.fit(X).labels_

    def transform(self, X: Any) -> np.ndarray:
        """Euclidean distance of every row of ``X`` to every centre, (n, n_clusters).

        Parameters
        ----------
        X : array_like or tensor, shape (n_samples, n_features)
            Finite real rows with the features of the training data.

        Returns
        -------
        numpy.ndarray
            Distances, shape (n_samples, n_clusters).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted yet.
        ValueError
            If ``X`` is not a finite 2-D real array or has another number of features than
            the training data.

        Examples
        --------
        >>> KMeans(1).fit([[0.0, 0.0], [2.0, 0.0]]).transform([[1.0, 1.0]]).tolist()
        [[1.0]]
        """
        X = self._data(X)
        c = self._centers()
        d2 = (X * X).sum(1)[:, None] - 2.0 * (X @ c.T) + (c * c).sum(1)[None, :]
        return np.sqrt(np.maximum(d2, 0.0))

    def score(self, X: Any, y: Any = None) -> float:
        """Opposite of the inertia of ``X`` under the fitted centres (as scikit-learn).

        Parameters
        ----------
        X : array_like or tensor, shape (n_samples, n_features)
            Finite real rows with the features of the training data.
        y : None
            Ignored (scikit-learn API).

        Returns
        -------
        float
            Minus the sum of squared distances of the rows to their nearest centre.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted yet.
        ValueError
            If ``X`` is not a finite 2-D real array or has another number of features than
            the training data.

        Examples
        --------
        >>> KMeans(1).fit([[0.0], [2.0]]).score([[0.0], [2.0]])
        -2.0
        """
        X = self._data(X)
        labels, _ = _core.kmeans_assign(X, self._centers())
        return -float(_core.kmeans_inertia(X, self._centers(), labels))


def subclass_labels(
    features: Any,
    labels: Any,
    *,
    subclass_size: float | None = None,
    seed: int = 0,
    balanced: bool = False,
    max_iter: int = 300,
    tol: float = 1e-4,
    random_state: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split every class into k-means subclasses of about ``subclass_size`` examples.

    Subclass-balancing contrastive learning (SBCL, Hou et al. 2023) clusters each head
    class into subclasses the size of a tail class. Class ``j`` with ``n_j`` examples
    is split by k-means (greedy k-means++, as :class:`KMeans`) into
    ``max(1, round(n_j / subclass_size))`` subclasses (``round`` halves to even, as
    Python and numpy); ``subclass_size`` defaults to the smallest class's size. All
    classes are clustered in one call to the Rust kernel, in parallel over classes.
    ``balanced=True`` makes the subclasses of a class near-equal in size (SBCL's
    reference code uses a balanced k-means); class ``j`` (in sorted order of the class
    ids) gets exactly what ``KMeans(k_j, seed=seed, balanced=balanced)`` gives it alone
    when ``j == 0``, and an independent stream of the same seed otherwise.
    ``random_state`` is scikit-learn's name for ``seed``, as in :class:`KMeans`.

    Parameters
    ----------
    features : array_like or tensor, shape (n_samples, n_features)
        Real features, float32 or float64 (float32 stays float32).
    labels : array_like or tensor, shape (n_samples,)
        Integer class ids, one per row of ``features``.
    subclass_size : float, optional
        Target subclass size (>= 1); default the smallest class's size.
    seed : int, default 0
        The result is a pure function of ``seed`` (and the data).
    balanced : bool, default False
        Make the subclasses of a class near-equal in size.
    max_iter : int, default 300
        Maximum Lloyd iterations per class.
    tol : float, default 1e-4
        Relative tolerance on the squared centre shift, as :class:`KMeans`.
    random_state : int, optional
        scikit-learn's name for ``seed``.

    Returns
    -------
    subclass_ids : int64 array, shape (n_samples,)
        Globally unique, contiguous subclass ids ``0 .. S-1``; the subclasses of a
        class are consecutive, classes in sorted order of their ids.
    parent_class : array, shape (S,)
        The class id of every subclass (``parent_class[subclass_ids] == labels``).

    Raises
    ------
    TypeError
        If ``subclass_size`` is not a number, ``random_state`` is not an int or None,
        or ``seed`` / ``max_iter`` is not an integer.
    ValueError
        If ``labels`` does not have one class id per row of ``features``,
        ``subclass_size`` is not a finite number >= 1, ``max_iter`` is below 1, ``tol``
        is not a finite number >= 0, ``seed`` / ``random_state`` are out of range or
        disagree, or ``features`` is not a finite 2-D real array.

    References
    ----------
    Hou et al. 2023, "Subclass-balancing contrastive learning for long-tailed
    recognition", ICCV.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1], [9.0], [9.1]])
    >>> y = np.array([7, 7, 7, 7, 3, 3])
    >>> sub, parent = subclass_labels(X, y)
    >>> parent.tolist()
    [3, 7, 7]
    >>> sub.tolist()
    [1, 1, 2, 2, 0, 0]
    """
    y = as_1d_labels(labels, "labels")
    first = to_numpy(features, "features")
    X = _as_data(first, "features")
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"labels: expected {X.shape[0]} labels (one per row of features), got {y.shape[0]}"
        )
    seed = _resolve_seed(seed, random_state)
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = _check_tol(tol)
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    if subclass_size is None:
        size = float(counts.min())
    else:
        if isinstance(subclass_size, bool) or not isinstance(subclass_size, Real):
            raise TypeError(f"subclass_size: expected a number, got {type(subclass_size).__name__}")
        size = float(subclass_size)
        if not np.isfinite(size) or size < 1:
            raise ValueError(f"subclass_size: must be a finite number >= 1, got {subclass_size!r}")
    # size >= 1 keeps k_j <= n_j.
    ks = np.maximum(1, np.round(counts / size)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    # Rows already grouped by class in sorted order (the usual layout of a dataset's
    # features) need no reordering copy.
    grouped = bool(np.all(inverse[1:] >= inverse[:-1]))
    order = None if grouped else np.argsort(inverse, kind="stable")
    local = _core.subclass_kmeans(
        X if grouped else np.ascontiguousarray(X[order]),
        offsets.tolist(),
        ks.tolist(),
        seed=seed,
        max_iter=max_iter,
        tol=tol,
        balanced=bool(balanced),
    )
    first_id = np.concatenate([[0], np.cumsum(ks)[:-1]])
    ids = local + np.repeat(first_id, counts)
    if not grouped:
        ids[order] = ids.copy()
    return ids, np.repeat(classes, ks)


def equal_frequency_bins(values: Any, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``values`` into ``n_bins`` bins holding near-equal numbers of values.

    Values are ranked (ties in order of position, so the split is exact): the value
    of rank ``r`` goes to bin ``floor(r * n_bins / n)``, hence bin counts differ by at
    most one. Typical use: group classes by training frequency into equally populated
    many/medium/few groups.

    Parameters
    ----------
    values : array_like or tensor, shape (n,)
        Real values, e.g. the training count of each class.
    n_bins : int
        Number of bins, ``1 <= n_bins <= n``.

    Returns
    -------
    edges : float64 array, shape (n_bins + 1,)
        ``edges[b]`` is the smallest value of bin ``b`` and ``edges[-1]`` the largest
        value: bin ``b`` holds values in ``[edges[b], edges[b + 1]]`` (equal values may
        straddle a boundary when ties are split to keep counts equal).
    ids : int64 array, shape (n,)
        The bin of every value (0 = smallest values).

    Raises
    ------
    TypeError
        If ``n_bins`` is not an integer.
    ValueError
        If ``n_bins`` is below 1 or larger than the number of values, or ``values`` is
        not a finite 1-D real array.

    Examples
    --------
    >>> edges, ids = equal_frequency_bins([5, 1, 9, 3, 7, 2], 3)
    >>> edges.tolist()
    [1.0, 3.0, 7.0, 9.0]
    >>> ids.tolist()
    [1, 0, 2, 1, 2, 0]
    """
    v = as_float_array(values, "values", ndim=1)
    n = v.shape[0]
    n_bins = check_positive_int(n_bins, "n_bins")
    if n_bins > n:
        raise ValueError(f"n_bins: {n_bins} bins for {n} values would leave bins empty")
    order = np.argsort(v, kind="stable")
    rank_bin = (np.arange(n, dtype=np.int64) * n_bins) // n
    ids = np.empty(n, dtype=np.int64)
    ids[order] = rank_bin
    starts = np.searchsorted(rank_bin, np.arange(n_bins))
    sorted_v = v[order]
    edges = np.append(sorted_v[starts], sorted_v[-1]).astype(np.float64)
    return edges, ids
