"""Drop-in ``DataLoader`` samplers for long-tailed data.

Every sampler draws one *global stream* of example indices per ``(seed, epoch)`` in
Rust (``longtail._core``, GIL released, results independent of the thread count).
With ``num_replicas``/``rank`` (defaulting to ``torch.distributed`` when it is
initialised), rank ``r`` takes positions ``r, r + R, ...`` of that stream, so the ranks
of one epoch have equal lengths and together form the stream. ``state_dict()`` /
``load_state_dict()`` resume mid-epoch, and ``indices()`` returns the current epoch as an
int64 numpy array (the fast path).

Epochs: until ``set_epoch`` is called, every new iteration (``iter(sampler)``, i.e.
every pass of a ``DataLoader``) advances the epoch by one, starting at 0, so each pass
draws afresh, as ``RandomSampler`` and ``WeightedRandomSampler`` do; the epoch depends
only on how many passes were started, so ranks that iterate equally often draw the same
epoch. ``set_epoch(e)`` pins epoch ``e``: every later pass repeats it until the next
``set_epoch``. This differs from ``DistributedSampler``, which repeats the order of its
epoch 0 on every pass unless ``set_epoch`` is called; calling ``set_epoch(epoch)`` at the
start of every epoch ``0, 1, 2, ...`` gives the same passes with either sampler family
(and the same passes as never calling it). ``sampler.epoch`` is the epoch of the pass in
progress (or last started; before the first pass, the one it will draw).

Seeds: ``seed=`` (any integer) or ``generator=`` (a ``torch.Generator``, whose
``initial_seed()`` becomes the seed; the generator is not advanced) fix the streams;
giving a generator together with a nonzero ``seed`` is a ``ValueError``.

>>> from torch.utils.data import DataLoader
>>> labels = [0] * 90 + [1] * 10
>>> sampler = ClassBalancedSampler(labels, seed=0)
>>> loader = DataLoader(list(range(100)), batch_size=10, sampler=sampler)
>>> sum(len(b) for b in loader)
100
>>> first, second = list(sampler), list(sampler)   # a fresh epoch on every pass
>>> sampler.epoch, first != second
(2, True)
"""

from __future__ import annotations

import gc
import itertools
import math
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import Sampler

from longtail import _core
from longtail._checks import (
    as_1d_labels,
    check_positive_int,
    dataset_labels,
    raw_labels,
    to_numpy,
)
from longtail.distributed import default_replicas

__all__ = [
    "ClassBalancedSampler",
    "WeightedSampler",
    "ProgressivelyBalancedSampler",
    "RepeatFactorSampler",
    "MPerClassSampler",
    "BalancedReplayBuffer",
]

_U64 = 1 << 64


# --------------------------------------------------------------------------- helpers


def _raw_labels(labels: Any, label_column: str) -> Any:
    return raw_labels(labels, label_column)


def _labels(labels: Any, label_column: str = "label") -> np.ndarray:
    """1-D int64 class ids from an array-like or a dataset carrying them."""
    return dataset_labels(labels, label_column=label_column)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an integer, got {type(seed).__name__}")
    return int(seed) % _U64


def _seed_from(seed: Any, generator: Any) -> int:
    """The stream's seed: ``seed``, or ``generator.initial_seed()`` when one is given."""
    seed = _check_seed(seed)
    if generator is None:
        return seed
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator: expected a torch.Generator or None, got {type(generator).__name__}"
        )
    if seed != 0:
        raise ValueError(
            "generator: give seed= or generator=, not both (the generator's initial_seed() "
            f"is used as the seed; got seed={seed})"
        )
    return int(generator.initial_seed()) % _U64


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")
    return bool(value)


def _check_count(value: Any, name: str, minimum: int = 0) -> int:
    return check_positive_int(value, name, minimum=minimum)


class _EpochStream(Sampler):
    """Shared machinery: epoch, replicas, per-rank length and mid-epoch resume.

    Subclasses implement ``_generate(epoch) -> np.ndarray`` (this rank's share).
    Until ``set_epoch`` pins an epoch, each pass (``__iter__``) takes the next epoch.
    """

    def _init_stream(
        self,
        num_samples: int,
        seed: Any,
        num_replicas: int | None,
        rank: int | None,
        drop_last: Any,
        generator: Any = None,
    ) -> None:
        self.num_replicas, self.rank = default_replicas(num_replicas, rank)
        self.seed = _seed_from(seed, generator)
        self.drop_last = _check_bool(drop_last, "drop_last")
        self.num_samples = num_samples
        r = self.num_replicas
        # As DistributedSampler: pad up to a multiple of the replicas, or drop the tail.
        self.num_samples_per_rank = num_samples // r if self.drop_last else -(-num_samples // r)
        self.total_size = self.num_samples_per_rank * r
        self.epoch = 0
        # Unpinned: the epoch the next pass draws (equal to `epoch` until a pass starts).
        self._next_epoch = 0
        self._pinned = False
        self._resume = 0
        self._live: tuple[int, int, Any] | None = None

    @property
    def epoch_pinned(self) -> bool:
        """Whether ``set_epoch`` fixed the epoch (else every pass advances it)."""
        return self._pinned

    def set_epoch(self, epoch: int) -> None:
        """Pin ``epoch``: every later pass draws its stream (as ``DistributedSampler``).

        A mid-epoch position loaded by ``load_state_dict`` for this same epoch is kept,
        so ``load_state_dict(...)`` then ``set_epoch(e)`` still resumes epoch ``e``.
        """
        epoch = _check_count(epoch, "epoch", 0)
        if epoch != self.epoch:
            self._resume = 0
        self.epoch = epoch
        self._pinned = True
        self._live = None

    def __len__(self) -> int:
        return self.num_samples_per_rank

    def _generate(self, epoch: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def indices(self) -> np.ndarray:
        """This rank's indices of the current epoch ``self.epoch``, as an int64 array.

        The current epoch is the pinned one, else that of the pass in progress or last
        started (before the first pass: epoch 0). ``indices()`` never advances it.
        """
        return self._generate(self.epoch)

    def _begin_pass(self) -> int:
        """Fix the epoch of a new pass; return the position it starts at (resume)."""
        if not self._pinned:
            self.epoch = self._next_epoch
            self._next_epoch = self.epoch + 1
        start, self._resume = self._resume, 0
        return start

    def _track(self, start: int, rest: list) -> Iterator[Any]:
        # A plain list iterator is the fastest thing Python can iterate; its
        # __length_hint__ tells state_dict how far the consumer got.
        it = iter(rest)
        self._live = (start, len(rest), it)
        return it

    def __iter__(self) -> Iterator[int]:
        start = self._begin_pass()
        return self._track(start, self.indices()[start:].tolist())

    def state_dict(self) -> dict[str, Any]:
        """``{"epoch", "seed", "yielded", "pinned"}``: the current epoch, how many of its
        indices were yielded, and whether ``set_epoch`` pinned it.

        Counted at the sampler, i.e. including indices a DataLoader has prefetched.
        """
        yielded = self._resume
        if self._live is not None:
            start, length, it = self._live
            yielded = start + length - it.__length_hint__()
        return {
            "epoch": int(self.epoch),
            "seed": int(self.seed),
            "yielded": int(yielded),
            "pinned": bool(self._pinned),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume: the next ``__iter__`` yields the remaining indices of that epoch.

        Afterwards a pinned epoch stays pinned, and an unpinned one moves on to the next
        epoch at the following pass, as the saved sampler would have. A state without
        ``"pinned"`` (saved before it existed) counts as pinned.
        """
        try:
            epoch, seed, yielded = state["epoch"], state["seed"], state["yielded"]
            pinned = state.get("pinned", True)
        except (KeyError, TypeError, AttributeError):
            raise ValueError(
                "state: expected a dict with keys 'epoch', 'seed', 'yielded' (and 'pinned')"
            ) from None
        self.epoch = _check_count(epoch, "state['epoch']", 0)
        self.seed = _check_seed(seed)
        self._resume = _check_count(yielded, "state['yielded']", 0)
        self._pinned = _check_bool(pinned, "state['pinned']")
        self._next_epoch = self.epoch
        self._live = None


def _power_probs(counts: np.ndarray, power: Any) -> np.ndarray:
    if isinstance(power, bool) or not isinstance(power, (int, float, np.integer, np.floating)):
        raise TypeError(f"power: expected a real number, got {type(power).__name__}")
    power = float(power)
    if not math.isfinite(power):
        raise ValueError(f"power: must be finite, got {power}")
    # Scale by the largest class first so n_j**power cannot overflow for power > 0.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        probs = (counts / counts.max()) ** power
    if not np.isfinite(probs).all() or probs.sum() <= 0:
        raise ValueError(f"power: {power} gives non-finite or zero class weights")
    return probs / probs.sum()


# --------------------------------------------------------------------------- samplers


class ClassBalancedSampler(_EpochStream):
    """Class-first sampling: a class with probability proportional to ``n_j**power``,
    then an example of that class.

    ``power=0`` is class-balanced, ``0.5`` square-root and ``1`` instance-balanced
    sampling (Kang et al. 2020, "Decoupling representation and classifier for
    long-tailed recognition"). With ``replacement=False`` examples of a class come
    from a random permutation of the class that is reshuffled once used up, so each
    example is seen once before any repeats (class-aware sampling; Shen et al. 2016,
    Kang et al. 2020). Labels are any integer ids; ``num_samples`` (default
    ``len(labels)``) is the total over all replicas.

    The sampler keeps only the example indices grouped by class (4 bytes per label
    below 2**32 examples, else 8) and O(classes) more; each epoch is drawn in Rust.

    Parameters
    ----------
    labels : array_like, tensor or dataset
        1-D integer class ids, or a dataset with ``targets`` / ``labels``, or a
        Hugging Face ``datasets.Dataset`` (see ``label_column``).
    power : float, default 0.0
        Exponent on the class sizes.
    num_samples : int, optional
        Length of the epoch over all replicas (default ``len(labels)``).
    replacement : bool, default True
        ``False`` for class-aware (cycling) sampling within classes.
    seed : int, default 0
        Any integer; the stream is a pure function of ``(seed, epoch)``.
    generator : torch.Generator, optional
        Used instead of ``seed``: its ``initial_seed()`` is the seed (the generator is
        not advanced); not together with a nonzero seed.
    num_replicas, rank : int, optional
        DDP layout (default: ``torch.distributed``, else 1 and 0).
    drop_last : bool, default False
        Cut the epoch to a multiple of ``num_replicas`` instead of padding.
    label_column : str, default "label"
        Column name for Hugging Face datasets.

    Attributes
    ----------
    classes : numpy.ndarray
        The sorted distinct class ids.
    class_counts : numpy.ndarray
        Number of examples of each class, in the order of ``classes``.

    Raises
    ------
    TypeError
        If ``labels`` are not numeric class ids, ``power`` is not a real number, ``seed``
        is not an integer, ``generator`` is not a ``torch.Generator``, or
        ``replacement`` / ``drop_last`` is not a bool.
    ValueError
        If ``labels`` is empty or not 1-D integer class ids, ``power`` is not finite or
        gives zero class weights, ``num_samples`` is negative, ``generator`` is given
        together with a nonzero ``seed``, or ``num_replicas`` / ``rank`` are out of range.

    References
    ----------
    Kang et al. 2020, "Decoupling representation and classifier for long-tailed
    recognition", ICLR. Shen et al. 2016, "Relay backpropagation for effective
    learning of deep convolutional neural networks", ECCV.

    Examples
    --------
    >>> s = ClassBalancedSampler([0, 0, 0, 0, 1], num_samples=1000, seed=1)
    >>> idx = s.indices()
    >>> idx.dtype, len(idx), 400 < int((idx == 4).sum()) < 600
    (dtype('int64'), 1000, True)
    >>> s.set_epoch(1); bool((s.indices() != idx).any())
    True
    """

    def __init__(
        self,
        labels: Any,
        *,
        power: float = 0.0,
        num_samples: int | None = None,
        replacement: bool = True,
        seed: int = 0,
        generator: torch.Generator | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = False,
        label_column: str = "label",
    ) -> None:
        y = _labels(labels, label_column)
        n = len(y)
        self.classes, self._offsets, self._order = _core.group_labels(y)
        del y
        self.class_counts = np.diff(self._offsets)
        self.power = power
        self.replacement = _check_bool(replacement, "replacement")
        self._class_probs = _power_probs(self.class_counts, power)
        num_samples = n if num_samples is None else _check_count(num_samples, "num_samples")
        self._init_stream(num_samples, seed, num_replicas, rank, drop_last, generator)

    @property
    def class_probs(self) -> np.ndarray:
        """Probability of each class (in the order of ``classes``) for the current epoch."""
        return self._probs_for(self.epoch)

    def _probs_for(self, epoch: int) -> np.ndarray:
        return self._class_probs

    def _generate(self, epoch: int) -> np.ndarray:
        return _core.class_first_indices(
            self._order,
            self._offsets,
            np.ascontiguousarray(self._probs_for(epoch), dtype=np.float64),
            self.total_size,
            self.replacement,
            self.seed,
            epoch,
            self.rank,
            self.num_replicas,
        )


class ProgressivelyBalancedSampler(ClassBalancedSampler):
    """Moves from instance-balanced to class-balanced sampling over ``total_epochs``.

    ``p_j(t) = (1 - t/T) * n_j / N + (t/T) / C`` at epoch ``t`` (the ``set_epoch``
    value, clipped at ``T = total_epochs``), as in progressively-balanced sampling
    (Kang et al. 2020). Other keywords as in :class:`ClassBalancedSampler`.

    Parameters
    ----------
    labels : array_like, tensor or dataset
        1-D integer class ids, or a dataset with ``targets`` / ``labels``, or a
        Hugging Face ``datasets.Dataset`` (see ``label_column``).
    total_epochs : int
        Epoch ``T`` at which sampling becomes class-balanced (at least 1).
    num_samples, replacement, seed, generator, num_replicas, rank, drop_last, label_column
        As in :class:`ClassBalancedSampler`.

    Raises
    ------
    TypeError
        If ``total_epochs`` is not an integer, or a keyword has the wrong type (as in
        :class:`ClassBalancedSampler`).
    ValueError
        If ``total_epochs`` is below 1, or as in :class:`ClassBalancedSampler`.

    References
    ----------
    Kang et al. 2020, "Decoupling representation and classifier for long-tailed
    recognition", ICLR.

    Examples
    --------
    >>> s = ProgressivelyBalancedSampler([0, 0, 0, 1], total_epochs=2)
    >>> s.class_probs.tolist()
    [0.75, 0.25]
    >>> s.set_epoch(2); s.class_probs.tolist()
    [0.5, 0.5]
    """

    def __init__(
        self,
        labels: Any,
        *,
        total_epochs: int,
        num_samples: int | None = None,
        replacement: bool = True,
        seed: int = 0,
        generator: torch.Generator | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = False,
        label_column: str = "label",
    ) -> None:
        self.total_epochs = _check_count(total_epochs, "total_epochs", 1)
        super().__init__(
            labels,
            power=1.0,
            num_samples=num_samples,
            replacement=replacement,
            seed=seed,
            generator=generator,
            num_replicas=num_replicas,
            rank=rank,
            drop_last=drop_last,
            label_column=label_column,
        )

    def _probs_for(self, epoch: int) -> np.ndarray:
        t = min(epoch, self.total_epochs) / self.total_epochs
        counts = self.class_counts
        return (1.0 - t) * counts / counts.sum() + t / len(counts)


class WeightedSampler(_EpochStream):
    """Drop-in for ``torch.utils.data.WeightedRandomSampler`` without its 2**24 limit.

    Index ``i`` is drawn with probability proportional to ``weights[i]``. With
    replacement each draw is O(1) from an alias table (Walker 1977, built by a linear
    sweep); without replacement the order is that of successive weighted draws, from
    exponential random keys ``-ln(u)/w`` (Efraimidis & Spirakis 2006) and a partial
    selection: O(n) instead of O(n * num_samples). Also DDP-aware (``num_replicas``,
    ``rank``, ``drop_last``), with ``set_epoch``, ``state_dict`` and ``indices()``.

    ``weights``, ``num_samples`` and ``replacement`` may be given positionally, as to
    ``WeightedRandomSampler``; ``generator=`` takes a ``torch.Generator`` (its
    ``initial_seed()`` is the seed). As ``WeightedRandomSampler``, every pass draws anew
    (the next epoch) until ``set_epoch`` pins one.

    Memory: 12 bytes per weight with replacement (the table; the weights are not
    kept), the float64 weights without replacement.

    Parameters
    ----------
    weights : array_like or tensor
        1-D non-negative real weights, one per index.
    num_samples : int
        Length of the epoch over all replicas (at least 1).
    replacement : bool, default True
        Draw with replacement (alias table) or without (weighted order).
    seed : int, default 0
        Any integer; the stream is a pure function of ``(seed, epoch)``.
    generator : torch.Generator, optional
        Used instead of ``seed``: its ``initial_seed()`` is the seed.
    num_replicas, rank : int, optional
        DDP layout (default: ``torch.distributed``, else 1 and 0).
    drop_last : bool, default False
        Cut the epoch to a multiple of ``num_replicas`` instead of padding.

    Raises
    ------
    TypeError
        If ``weights`` are not real numbers, ``replacement`` / ``drop_last`` is not a
        bool, ``seed`` is not an integer or ``generator`` not a ``torch.Generator``.
    ValueError
        If ``weights`` is not 1-D, empty, has NaN, infinite or negative values or a zero
        sum; if ``num_samples`` is below 1, or (without replacement) larger than the
        number of positive weights; if ``generator`` comes with a nonzero ``seed``.

    References
    ----------
    Walker 1977, "An efficient method for generating discrete random variables with
    general distributions", ACM TOMS. Efraimidis & Spirakis 2006, "Weighted random
    sampling with a reservoir", Information Processing Letters.

    Examples
    --------
    >>> s = WeightedSampler([0.0, 1.0, 3.0], 1000, seed=0)
    >>> idx = s.indices()
    >>> int((idx == 0).sum()), 650 < int((idx == 2).sum()) < 850
    (0, True)
    >>> sorted(WeightedSampler([1, 2, 3], 3, False).indices().tolist())
    [0, 1, 2]
    >>> g = torch.Generator().manual_seed(7)
    >>> bool((WeightedSampler([1, 2], 9, generator=g).indices()
    ...       == WeightedSampler([1, 2], 9, seed=7).indices()).all())
    True
    """

    def __init__(
        self,
        weights: Any,
        num_samples: int,
        replacement: bool = True,
        *,
        seed: int = 0,
        generator: torch.Generator | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = False,
    ) -> None:
        w = to_numpy(weights, "weights")
        if w.ndim != 1:
            raise ValueError(f"weights: expected a 1-D sequence, got shape {w.shape}")
        if w.dtype.kind not in "fiub":
            raise TypeError(f"weights: expected real numbers, got dtype {w.dtype}")
        if w.size == 0:
            raise ValueError("weights: must not be empty")
        w = np.ascontiguousarray(w, dtype=np.float64)
        self.replacement = _check_bool(replacement, "replacement")
        num_samples = _check_count(num_samples, "num_samples", 1)
        self.num_weights = len(w)
        if self.replacement:
            # The alias table replaces the weights: they are not kept.
            self._prob, self._alias = _core.alias_table(w)
            self._weights = None
        else:
            if not np.isfinite(w).all() or (w < 0).any():
                raise ValueError(
                    "weights: must be finite and non-negative "
                    "(found NaN, infinity or a negative value)"
                )
            positive = int(np.count_nonzero(w))
            if positive == 0:
                raise ValueError("weights: must have a positive, finite sum (all weights are zero)")
            if positive < num_samples:
                raise ValueError(
                    f"num_samples: without replacement needs at least num_samples="
                    f"{num_samples} positive weights, got {positive}"
                )
            self._weights = w
        self._init_stream(num_samples, seed, num_replicas, rank, drop_last, generator)

    def _generate(self, epoch: int) -> np.ndarray:
        if self.replacement:
            return _core.weighted_indices(
                self._prob,
                self._alias,
                self.total_size,
                self.seed,
                epoch,
                self.rank,
                self.num_replicas,
            )
        return _core.weighted_indices_without_replacement(
            self._weights,
            self.num_samples,
            self.total_size,
            self.seed,
            epoch,
            self.rank,
            self.num_replicas,
        )


def _per_image_classes(labels: Any, label_column: str) -> tuple[np.ndarray, np.ndarray]:
    """``(lengths, flat)``: number of labels per image and all labels concatenated."""
    raw = _raw_labels(labels, label_column)
    if isinstance(raw, (list, tuple)) and any(
        not isinstance(x, (int, np.integer, float, np.floating)) for x in raw
    ):
        per_image = [
            [x] if isinstance(x, (int, np.integer, float, np.floating)) else x for x in raw
        ]
        if not per_image:
            raise ValueError("labels: must not be empty")
        try:
            lengths = np.fromiter((len(x) for x in per_image), dtype=np.int64, count=len(raw))
        except TypeError:
            raise TypeError(
                "labels: expected per-image collections of class ids (lists, tuples, sets "
                "or arrays) or a 1-D array of class ids"
            ) from None
        flat_list = list(itertools.chain.from_iterable(per_image))
        flat = as_1d_labels(np.asarray(flat_list), "labels", allow_empty=True) if flat_list else (
            np.zeros(0, dtype=np.int64)
        )
        return lengths, flat
    flat = as_1d_labels(raw, "labels")
    return np.ones(len(flat), dtype=np.int64), flat


def repeat_factors(lengths: np.ndarray, flat: np.ndarray, threshold: float) -> np.ndarray:
    """LVIS repeat factors (Gupta et al. 2019): ``r_i = max_c max(1, sqrt(t / f_c))``.

    ``f_c`` is the fraction of images that contain class ``c``; an image without labels
    gets ``r_i = 1`` (as detectron2).

    >>> repeat_factors(np.array([1, 1, 1, 1]), np.array([0, 0, 0, 1]), 0.5).round(3).tolist()
    [1.0, 1.0, 1.0, 1.414]
    """
    n_images = len(lengths)
    r = np.ones(n_images, dtype=np.float64)
    if flat.size == 0:
        return r
    classes, inv = np.unique(flat, return_inverse=True)
    c = len(classes)
    image = np.repeat(np.arange(n_images, dtype=np.int64), lengths)
    # One (image, class) pair per occurrence; a class counted once per image.
    pairs = np.unique(image * c + inv.reshape(-1))
    img, cls = pairs // c, pairs % c
    freq = np.bincount(cls, minlength=c) / n_images
    r_class = np.maximum(1.0, np.sqrt(threshold / freq))
    starts = np.flatnonzero(np.r_[True, img[1:] != img[:-1]])
    r[img[starts]] = np.maximum.reduceat(r_class[cls], starts)
    return r


class RepeatFactorSampler(_EpochStream):
    """Repeat-factor sampling for (multi-label) long-tailed data (Gupta et al. 2019, LVIS).

    ``labels`` is a list of per-image collections of class ids, or a 1-D label array.
    With ``f_c`` the fraction of images containing class ``c``,
    ``r_c = max(1, sqrt(threshold / f_c))`` and ``r_i`` is the largest ``r_c`` over the
    image's classes. Each epoch repeats image ``i`` ``floor(r_i)`` times plus once more
    with probability ``frac(r_i)`` (a fresh draw per epoch), then shuffles. The epoch
    length therefore changes from epoch to epoch; ``len()`` is that of the current epoch
    (per rank, padded like ``DistributedSampler`` unless ``drop_last``): without
    ``set_epoch``, the pass in progress or last started, so call ``set_epoch`` first
    when the length of the coming pass must be known beforehand.

    Parameters
    ----------
    labels : list of collections, array_like or dataset
        Per-image collections of class ids (lists, tuples, sets or arrays; an empty one
        is an image without labels), or 1-D class ids (one label per image).
    threshold : float, default 0.001
        Frequency threshold ``t``; classes in fewer than this fraction of images are
        repeated.
    seed : int, default 0
        Any integer; the stream is a pure function of ``(seed, epoch)``.
    generator : torch.Generator, optional
        Used instead of ``seed``: its ``initial_seed()`` is the seed.
    num_replicas, rank : int, optional
        DDP layout (default: ``torch.distributed``, else 1 and 0).
    drop_last : bool, default False
        Cut the epoch to a multiple of ``num_replicas`` instead of padding.
    label_column : str, default "label"
        Column name for Hugging Face datasets.

    Attributes
    ----------
    repeat_factors : numpy.ndarray
        The float64 repeat factor ``r_i`` of each image.

    Raises
    ------
    TypeError
        If ``threshold`` is not a real number, ``labels`` holds neither class ids nor
        per-image collections of them, ``seed`` is not an integer or ``generator`` not a
        ``torch.Generator``.
    ValueError
        If ``threshold`` is not a positive finite number, ``labels`` is empty, or
        ``generator`` comes with a nonzero ``seed``.

    References
    ----------
    Gupta et al. 2019, "LVIS: A dataset for large vocabulary instance segmentation",
    CVPR.

    Examples
    --------
    >>> s = RepeatFactorSampler([[0], [0], [0], [0, 1], []], threshold=0.8, seed=0)
    >>> s.repeat_factors.round(3).tolist()
    [1.0, 1.0, 1.0, 2.0, 1.0]
    >>> sorted(s.indices().tolist())
    [0, 1, 2, 3, 3, 4]
    """

    def __init__(
        self,
        labels: Any,
        *,
        threshold: float = 0.001,
        seed: int = 0,
        generator: torch.Generator | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = False,
        label_column: str = "label",
    ) -> None:
        if isinstance(threshold, bool) or not isinstance(
            threshold, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"threshold: expected a real number, got {type(threshold).__name__}")
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f"threshold: must be a positive finite number, got {threshold}")
        self.threshold = float(threshold)
        lengths, flat = _per_image_classes(labels, label_column)
        self.repeat_factors = repeat_factors(lengths, flat, self.threshold)
        self._init_stream(len(lengths), seed, num_replicas, rank, drop_last, generator)
        self._cache: tuple[int, int, np.ndarray] | None = None

    def _generate(self, epoch: int) -> np.ndarray:
        if self._cache is not None and self._cache[:2] == (epoch, self.seed):
            return self._cache[2]
        out = _core.repeat_factor_indices(
            self.repeat_factors, self.seed, epoch, self.rank, self.num_replicas, self.drop_last
        )
        self._cache = (epoch, self.seed, out)
        return out

    def __len__(self) -> int:
        return len(self._generate(self.epoch))


class MPerClassSampler(_EpochStream):
    """Batches of ``batch_size / m`` distinct classes with ``m`` examples each.

    A batch sampler: pass it as ``DataLoader(..., batch_sampler=sampler)``. Classes are
    visited in concatenated random permutations, so every class appears once before any
    class repeats; within a class examples cycle through a reshuffled permutation (a
    group of ``m`` never straddles two permutations; the few examples left at the end of
    one are skipped), so an example repeats inside a batch only when its class has fewer
    than ``m`` examples.
    ``length`` is the number of batches per epoch over all replicas (default
    ``len(labels) // batch_size``, at least 1); ranks get disjoint batches, each rank
    ``ceil(length / num_replicas)``. Metric-learning batches as in
    pytorch-metric-learning's ``MPerClassSampler``, but an actual batch sampler.
    Epochs, ``seed`` / ``generator``, ``state_dict`` (counted in batches) as for the
    other samplers: every pass draws the next epoch until ``set_epoch`` pins one.

    Parameters
    ----------
    labels : array_like, tensor or dataset
        1-D integer class ids, or a dataset with ``targets`` / ``labels``, or a
        Hugging Face ``datasets.Dataset`` (see ``label_column``).
    m : int
        Examples per class in a batch (at least 1).
    batch_size : int
        Examples per batch, a multiple of ``m``.
    length : int, optional
        Batches per epoch over all replicas (default ``len(labels) // batch_size``,
        at least 1).
    seed : int, default 0
        Any integer; the stream is a pure function of ``(seed, epoch)``.
    generator : torch.Generator, optional
        Used instead of ``seed``: its ``initial_seed()`` is the seed.
    num_replicas, rank : int, optional
        DDP layout (default: ``torch.distributed``, else 1 and 0).
    label_column : str, default "label"
        Column name for Hugging Face datasets.

    Raises
    ------
    TypeError
        If ``labels`` are not numeric class ids, ``m``, ``batch_size``, ``length`` or
        ``seed`` is not an integer, or ``generator`` is not a ``torch.Generator``.
    ValueError
        If ``m`` is below 1 or larger than ``batch_size``; if ``batch_size`` is not a
        multiple of ``m`` or asks for more classes per batch than ``labels`` has; if
        ``length`` is negative or ``labels`` is empty.

    References
    ----------
    Musgrave et al. 2020, "A metric learning reality check", ECCV
    (pytorch-metric-learning).

    Examples
    --------
    >>> labels = [0] * 5 + [1] * 5 + [2] * 5
    >>> s = MPerClassSampler(labels, m=2, batch_size=4, seed=0)
    >>> batches = list(s)
    >>> len(batches), all(len({labels[i] for i in b}) == 2 for b in batches)
    (3, True)
    """

    def __init__(
        self,
        labels: Any,
        *,
        m: int,
        batch_size: int,
        length: int | None = None,
        seed: int = 0,
        generator: torch.Generator | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
        label_column: str = "label",
    ) -> None:
        y = _labels(labels, label_column)
        self.m = _check_count(m, "m", 1)
        self.batch_size = _check_count(batch_size, "batch_size", 1)
        if self.m > self.batch_size:
            raise ValueError(f"m: m={self.m} is larger than batch_size={self.batch_size}")
        if self.batch_size % self.m:
            raise ValueError(
                f"batch_size: batch_size={self.batch_size} must be a multiple of m={self.m}"
            )
        self.classes, self._offsets, self._order = _core.group_labels(y)
        k = self.batch_size // self.m
        if k > len(self.classes):
            raise ValueError(
                f"batch_size: batch_size / m = {k} classes per batch, but labels have only "
                f"{len(self.classes)} classes"
            )
        if length is None:
            length = max(1, len(y) // self.batch_size)
        self.length = _check_count(length, "length", 0)
        del y
        self._init_stream(self.length, seed, num_replicas, rank, False, generator)
        self.num_samples_per_rank = -(-self.length // self.num_replicas)

    def batches(self) -> np.ndarray:
        """This rank's batches of the current epoch, shape ``(len(self), batch_size)``."""
        flat = _core.m_per_class_indices(
            self._order,
            self._offsets,
            self.m,
            self.batch_size,
            self.num_samples_per_rank,
            self.seed,
            self.epoch,
            self.rank,
            self.num_replicas,
        )
        return flat.reshape(-1, self.batch_size)

    def _generate(self, epoch: int) -> np.ndarray:
        saved, self.epoch = self.epoch, epoch
        try:
            return self.batches()
        finally:
            self.epoch = saved

    def indices(self) -> np.ndarray:
        """This rank's batches of the epoch concatenated, as int64 (length ``len * batch_size``)."""
        return self.batches().reshape(-1)

    def __iter__(self) -> Iterator[list[int]]:  # type: ignore[override]
        start = self._begin_pass()
        # Building one list per batch would trigger the cyclic garbage collector over
        # and over (it scans every live object); lists of ints cannot form cycles.
        enabled = gc.isenabled()
        gc.disable()
        try:
            rest = self.batches()[start:].tolist()
        finally:
            if enabled:
                gc.enable()
        return self._track(start, rest)


class BalancedReplayBuffer:
    """Class-balanced reservoir sampling for online / continual learning (CBRS).

    Chrysakis & Moens 2020, "Online continual learning from imbalanced data". While the
    buffer has room, every example is stored. Once full, a new example of a class that
    is not among the largest in the buffer evicts a random stored example of the
    currently largest class (ties broken at random); an example of a largest class
    instead replaces a random stored example of its own class with probability
    ``stored_c / seen_c`` (reservoir sampling within the class). Deterministic given
    ``seed`` (or ``generator=``, a ``torch.Generator`` whose ``initial_seed()`` is used)
    and the order of ``add`` calls.

    Parameters
    ----------
    capacity : int
        Maximum number of stored examples (at least 1).
    seed : int, default 0
        Any integer.
    generator : torch.Generator, optional
        Used instead of ``seed``: its ``initial_seed()`` is the seed.

    Raises
    ------
    TypeError
        If ``capacity`` or ``seed`` is not an integer, or ``generator`` is not a
        ``torch.Generator``.
    ValueError
        If ``capacity`` is below 1, or ``generator`` comes with a nonzero ``seed``.

    References
    ----------
    Chrysakis & Moens 2020, "Online continual learning from imbalanced data", ICML.

    Examples
    --------
    >>> buf = BalancedReplayBuffer(4, seed=0)
    >>> buf.add(range(10), [0] * 8 + [1, 2])
    >>> buf.class_counts()
    {0: 2, 1: 1, 2: 1}
    >>> len(buf), sorted(buf.sample(4).tolist())[-2:]
    (4, [8, 9])
    """

    def __init__(
        self, capacity: int, *, seed: int = 0, generator: torch.Generator | None = None
    ) -> None:
        self.capacity = _check_count(capacity, "capacity", 1)
        self.seed = _seed_from(seed, generator)
        self._rng = np.random.Generator(np.random.PCG64(self.seed))
        self._index = np.zeros(self.capacity, dtype=np.int64)
        self._label = np.zeros(self.capacity, dtype=np.int64)
        self._pos = np.zeros(self.capacity, dtype=np.int64)  # slot -> place in its class list
        self._size = 0
        self._slots: dict[int, list[int]] = {}  # class -> its slots
        self._seen: dict[int, int] = {}  # class -> examples seen in the stream
        self._by_count: dict[int, set[int]] = {}  # stored count -> classes with it
        self._max = 0

    def __len__(self) -> int:
        return self._size

    def _count(self, c: int) -> int:
        slots = self._slots.get(c)
        return len(slots) if slots else 0

    def _move(self, c: int, old: int, new: int) -> None:
        # Keep classes bucketed by stored count so the largest class is found in O(1).
        if old > 0:
            bucket = self._by_count[old]
            bucket.discard(c)
            if not bucket:
                del self._by_count[old]
        if new > 0:
            self._by_count.setdefault(new, set()).add(c)
        if new > self._max:
            self._max = new
        elif old == self._max and old not in self._by_count:
            self._max = new

    def _put(self, slot: int, index: int, c: int) -> None:
        self._index[slot] = index
        self._label[slot] = c
        slots = self._slots.setdefault(c, [])
        self._pos[slot] = len(slots)
        slots.append(slot)
        self._move(c, len(slots) - 1, len(slots))

    def _take(self, c: int) -> int:
        """Remove a random slot of class ``c`` and return it."""
        slots = self._slots[c]
        k = int(self._rng.integers(len(slots)))
        slot = slots[k]
        last = slots.pop()
        if last != slot:
            slots[k] = last
            self._pos[last] = k
        self._move(c, len(slots) + 1, len(slots))
        return slot

    def add(self, indices: Any, labels: Any) -> None:
        """Offer examples (their dataset indices and class ids) to the buffer, in order.

        Parameters
        ----------
        indices : array_like or tensor
            1-D integer dataset indices of the examples.
        labels : array_like or tensor
            1-D integer class ids, one per index.

        Raises
        ------
        TypeError
            If ``indices`` or ``labels`` are not numeric.
        ValueError
            If ``indices`` or ``labels`` is not 1-D or holds fractional values, or
            ``labels`` does not have one class id per index.

        Examples
        --------
        >>> buf = BalancedReplayBuffer(2)
        >>> buf.add([10, 11, 12], [0, 0, 1])
        >>> buf.class_counts()
        {0: 1, 1: 1}
        """
        idx = as_1d_labels(indices, "indices", allow_empty=True)
        lab = as_1d_labels(labels, "labels", allow_empty=True)
        if len(idx) != len(lab):
            raise ValueError(
                f"labels: expected one label per index, got {len(lab)} labels for "
                f"{len(idx)} indices"
            )
        for index, c in zip(idx.tolist(), lab.tolist()):
            seen = self._seen.get(c, 0) + 1
            self._seen[c] = seen
            if self._size < self.capacity:
                self._put(self._size, index, c)
                self._size += 1
                continue
            stored = self._count(c)
            if stored == self._max:
                # A largest class: reservoir sampling inside the class.
                if self._rng.random() * seen < stored:
                    slots = self._slots[c]
                    self._index[slots[int(self._rng.integers(len(slots)))]] = index
                continue
            largest = sorted(self._by_count[self._max])
            victim = largest[int(self._rng.integers(len(largest)))] if len(largest) > 1 else (
                largest[0]
            )
            self._put(self._take(victim), index, c)

    def sample(self, n: int, *, replace: bool = False) -> np.ndarray:
        """``n`` stored dataset indices drawn uniformly (without replacement by default).

        Parameters
        ----------
        n : int
            Number of indices to draw, ``>= 0``.
        replace : bool, default False
            Draw with replacement.

        Returns
        -------
        numpy.ndarray
            ``n`` int64 dataset indices.

        Raises
        ------
        TypeError
            If ``n`` is not an integer or ``replace`` is not a bool.
        ValueError
            If ``n`` is negative, or positive while the buffer is empty, or (without
            replacement) larger than the number of stored examples.

        Examples
        --------
        >>> buf = BalancedReplayBuffer(3, seed=0)
        >>> buf.add([5, 6, 7], [0, 1, 2])
        >>> sorted(buf.sample(3).tolist()), len(buf.sample(5, replace=True))
        ([5, 6, 7], 5)
        """
        n = _check_count(n, "n", 0)
        replace = _check_bool(replace, "replace")
        if self._size == 0 and n > 0:
            raise ValueError("n: the buffer is empty")
        if not replace and n > self._size:
            raise ValueError(f"n: only {self._size} examples stored, asked for {n}")
        picks = self._rng.choice(self._size, size=n, replace=replace)
        return self._index[picks]

    def class_counts(self) -> dict[int, int]:
        """Stored examples per class, by class id."""
        return {c: len(s) for c, s in sorted(self._slots.items()) if s}

    @property
    def indices(self) -> np.ndarray:
        """The stored dataset indices (a copy)."""
        return self._index[: self._size].copy()

    @property
    def labels(self) -> np.ndarray:
        """The class ids of the stored examples (a copy)."""
        return self._label[: self._size].copy()
