"""State that lives next to the model: class-adaptive pseudo-label thresholds and training
dynamics.

Both keep their state as torch tensors on the device of the inputs they are fed, and
``update`` never synchronises with the host: no ``.item()``, no ``.cpu()``, no boolean
indexing (whose output shape would need the host), no data-dependent Python branches.
Range checks of indexes/targets that would need the values are done on CPU tensors only
(on a GPU they would cost a sync per step; an out-of-range id there is caught by the
device-side assertion of the indexing op). Under DDP one collective per ``update``
(``ClassAdaptiveThreshold``) or per ``sync`` (``TrainingDynamics``) keeps the ranks
identical to one process fed everything.

Duplicate ids inside one batch are resolved as if the rows came one after another: the
last occurrence wins (a deterministic ``scatter_reduce`` on ``position * K + value``,
not the undefined order of ``index_put_`` with repeated indices).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch

from longtail._checks import check_positive_int
from longtail.distributed import is_distributed, world_size

__all__ = ["ClassAdaptiveThreshold", "TrainingDynamics"]

_METHODS = ("flexmatch", "freematch", "softmatch")


# ------------------------------------------------------------------------------ checks


def _check_unit(value: Any, name: str, *, closed_low: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    low_ok = value >= 0.0 if closed_low else value > 0.0
    if not (low_ok and value <= 1.0):
        side = "[0, 1]" if closed_low else "(0, 1]"
        raise ValueError(f"{name}: must be in {side}, got {value}")
    return value


def _as_tensor(x: Any, name: str, device: Any = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach()
    try:
        t = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{name}: cannot convert to a tensor ({e})") from None
    return t if device is None else t.to(device)


def _check_probs(probs: Any, num_classes: int, name: str = "probs") -> torch.Tensor:
    p = _as_tensor(probs, name)
    if p.dim() != 2:
        raise ValueError(f"{name}: expected a 2-D (n, C) array, got shape {tuple(p.shape)}")
    if p.shape[1] != num_classes:
        raise ValueError(f"{name}: has {p.shape[1]} columns, expected num_classes={num_classes}")
    if not (p.is_floating_point()):
        raise TypeError(f"{name}: expected floating-point probabilities, got {p.dtype}")
    # One reduction instead of an n x C boolean temporary: the sum of probabilities is
    # finite exactly when every entry is (entries large enough to overflow are no
    # probabilities either). On a GPU the check would cost a sync: CPU only.
    if p.device.type == "cpu" and p.numel() and not bool(torch.isfinite(p.sum())):
        raise ValueError(f"{name}: contains NaN or infinity")
    return p


def _check_ids(ids: Any, n: int, limit: int, name: str, device: torch.device) -> torch.Tensor:
    t = _as_tensor(ids, name)
    if t.dim() != 1 or t.shape[0] != n:
        raise ValueError(f"{name}: expected a 1-D array of length {n}, got shape {tuple(t.shape)}")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"{name}: expected integer ids, got {t.dtype}")
    if t.device.type == "cpu" and n:
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= limit:
            raise ValueError(f"{name}: ids must be in [0, {limit}), got values in [{lo}, {hi}]")
    return t.to(device=device, dtype=torch.int64)


def _last_wins(
    ids: torch.Tensor,
    values: torch.Tensor,
    span: int,
    scratch: torch.Tensor,
    valid: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """For each row, ``position * span + value`` of the LAST valid row with the same id.

    -1 where the id has no valid row. ``values`` lie in ``[0, span)``; ``scratch`` is an
    int64 buffer over all ids filled with -1 (restored before returning). Deterministic
    and free of host syncs (a ``scatter_reduce`` with ``amax``).
    """
    pos = torch.arange(ids.shape[0], device=ids.device, dtype=torch.int64)
    key = pos * span + values
    if valid is not None:
        key = torch.where(valid, key, torch.full_like(key, -1))
    scratch.scatter_reduce_(0, ids, key, reduce="amax", include_self=True)
    won = scratch.index_select(0, ids)
    scratch.index_fill_(0, ids, -1)
    return won


# ------------------------------------------------------------------ adaptive threshold


class ClassAdaptiveThreshold:
    """Per-class pseudo-label thresholds of FlexMatch, FreeMatch and SoftMatch.

    The formulas follow USB (microsoft/Semi-supervised-learning):

    - ``"flexmatch"`` (Zhang et al. 2021, NeurIPS): each unlabeled example keeps its last
      prediction whose max probability reached ``threshold`` (else it stays unused);
      sigma_c counts the examples whose kept prediction is c, beta_c = sigma_c /
      max(max_c sigma_c, unused if ``warmup``) and T_c = threshold * beta_c / (2 - beta_c)
      (the convex mapping). Needs ``num_unlabeled`` and ``indexes``. The counts are kept
      incrementally on the device: an update costs O(batch), not a recount of the
      unlabeled set as USB's ``Counter`` does.
    - ``"freematch"`` (Wang et al. 2023, ICLR): EMAs of the mean max probability (tau)
      and of the mean probability vector (p~), both starting at 1/C;
      T_c = tau * p~_c / max p~.
    - ``"softmatch"`` (Chen et al. 2023, ICLR): EMAs of the mean and unbiased variance of
      the max probability (starting at 1/C and 1.0); a row's weight is
      exp(-(max p - mu)^2 / (2 var / n_sigma^2)) below mu and 1 above;
      ``thresholds()`` is mu for every class.

    ``update(probs, indexes=None)`` folds a batch of unlabeled probabilities (weak
    augmentation) into the state; ``mask(probs)`` returns per-row weights (0/1 for
    flexmatch/freematch, soft for softmatch) from the current state. USB masks FlexMatch
    batches *before* their update and FreeMatch/SoftMatch batches *after*;
    ``step(probs, indexes)`` does both in USB's order and returns the mask. The state
    lives on the device of the first batch (or of ``.to(device)``); ``update`` never
    synchronises with the host. Under DDP every rank calls ``update`` with batches of
    the same size; one collective (an all-gather of (index, prediction) pairs for
    flexmatch, an all-reduce of the batch sums otherwise) makes every rank's state what
    one process fed all ranks' rows (in rank order) would hold.

    Parameters
    ----------
    num_classes : int
        Number of classes ``C`` (>= 1).
    method : {"flexmatch", "freematch", "softmatch"}
        Threshold rule.
    threshold : float
        Fixed threshold of flexmatch, in ``[0, 1]``.
    momentum : float
        EMA momentum of freematch / softmatch, in ``[0, 1]``.
    num_unlabeled : int, optional
        Size of the unlabeled set (>= 1); required by flexmatch.
    warmup : bool
        FlexMatch's threshold warm-up: the unused examples count in the normaliser.
    n_sigma : float
        Width of softmatch's Gaussian weight, in standard deviations (> 0).

    Raises
    ------
    TypeError
        If ``num_classes`` or ``num_unlabeled`` is not an integer, ``threshold`` or
        ``momentum`` is not a number, or ``warmup`` is not a bool.
    ValueError
        If ``num_classes`` or ``num_unlabeled`` is < 1, ``method`` is unknown,
        ``threshold`` or ``momentum`` is outside ``[0, 1]``, ``n_sigma`` is not a
        positive number, or ``num_unlabeled`` is missing with ``method="flexmatch"``.

    Examples
    --------
    >>> import torch
    >>> thr = ClassAdaptiveThreshold(3, method="flexmatch", num_unlabeled=4)
    >>> probs = torch.tensor([[0.97, 0.02, 0.01], [0.2, 0.7, 0.1], [0.96, 0.02, 0.02]])
    >>> thr.update(probs, indexes=torch.tensor([0, 1, 2]))
    >>> [round(t, 4) for t in thr.thresholds().tolist()]
    [0.95, 0.0, 0.0]
    >>> thr.mask(torch.tensor([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8]])).tolist()
    [0.0, 1.0]
    """

    def __init__(
        self,
        num_classes: int,
        *,
        method: str = "flexmatch",
        threshold: float = 0.95,
        momentum: float = 0.999,
        num_unlabeled: Optional[int] = None,
        warmup: bool = True,
        n_sigma: float = 2,
    ) -> None:
        self.num_classes = check_positive_int(num_classes, "num_classes", minimum=1)
        if method not in _METHODS:
            raise ValueError(f"method: expected one of {_METHODS}, got {method!r}")
        self.method = method
        self.threshold = _check_unit(threshold, "threshold")
        self.momentum = _check_unit(momentum, "momentum")
        if not isinstance(warmup, bool):
            raise TypeError(f"warmup: expected a bool, got {type(warmup).__name__}")
        self.warmup = warmup
        if isinstance(n_sigma, bool) or not isinstance(n_sigma, (int, float)) or n_sigma <= 0:
            raise ValueError(f"n_sigma: must be a positive number, got {n_sigma!r}")
        self.n_sigma = float(n_sigma)
        if method == "flexmatch":
            if num_unlabeled is None:
                raise ValueError("num_unlabeled: required by method='flexmatch'")
            self.num_unlabeled = check_positive_int(num_unlabeled, "num_unlabeled", minimum=1)
        else:
            self.num_unlabeled = None if num_unlabeled is None else check_positive_int(
                num_unlabeled, "num_unlabeled", minimum=1
            )
        self._device = torch.device("cpu")
        self._init_state()

    # state -------------------------------------------------------------------------

    def _init_state(self) -> None:
        C, dev = self.num_classes, self._device
        if self.method == "flexmatch":
            n = self.num_unlabeled
            assert n is not None
            # Kept prediction per example (-1: unused) and its counts; slot 0 counts the
            # unused, slot c + 1 class c.
            self.selected = torch.full((n,), -1, dtype=torch.int64, device=dev)
            counts = torch.zeros(C + 1, dtype=torch.int64, device=dev)
            counts[0] = n
            self.counts = counts
            self._scratch = torch.full((n,), -1, dtype=torch.int64, device=dev)
        elif self.method == "freematch":
            self.tau = torch.full((), 1.0 / C, dtype=torch.float32, device=dev)
            self.p_model = torch.full((C,), 1.0 / C, dtype=torch.float32, device=dev)
        else:
            self.mu = torch.full((), 1.0 / C, dtype=torch.float32, device=dev)
            self.var = torch.full((), 1.0, dtype=torch.float32, device=dev)

    def _state_names(self) -> tuple[str, ...]:
        return {
            "flexmatch": ("selected", "counts"),
            "freematch": ("tau", "p_model"),
            "softmatch": ("mu", "var"),
        }[self.method]

    def to(self, device: Any) -> "ClassAdaptiveThreshold":
        """Move the state to ``device`` (returns self).

        Parameters
        ----------
        device : torch.device or str
            Target device.

        Returns
        -------
        ClassAdaptiveThreshold
            This object.
        """
        self._device = torch.device(device)
        for name in self._state_names() + (("_scratch",) if self.method == "flexmatch" else ()):
            setattr(self, name, getattr(self, name).to(self._device))
        return self

    @property
    def device(self) -> torch.device:
        return self._device

    def reset(self) -> None:
        """Forget everything seen (keeps the device)."""
        self._init_state()

    def state_dict(self) -> dict:
        """The state tensors and settings (tensors stay on their device).

        Returns
        -------
        dict
            ``method``, ``num_classes`` and the method's state tensors (cloned).
        """
        out: dict = {"method": self.method, "num_classes": self.num_classes}
        for name in self._state_names():
            out[name] = getattr(self, name).clone()
        return out

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output (moved to this object's device).

        Parameters
        ----------
        state : dict
            Output of :meth:`state_dict` of a threshold with the same method and
            number of classes.

        Raises
        ------
        ValueError
            If ``state`` was saved for another method or number of classes, or a
            state tensor has the wrong shape.
        """
        if state.get("method") != self.method or state.get("num_classes") != self.num_classes:
            raise ValueError(
                "state: saved for method={!r}, num_classes={!r}; this threshold has "
                "method={!r}, num_classes={}".format(
                    state.get("method"), state.get("num_classes"), self.method, self.num_classes
                )
            )
        for name in self._state_names():
            value = state[name]
            ref = getattr(self, name)
            if tuple(value.shape) != tuple(ref.shape):
                raise ValueError(
                    f"state: {name} has shape {tuple(value.shape)}, expected {tuple(ref.shape)}"
                )
            setattr(self, name, value.to(device=self._device, dtype=ref.dtype).clone())

    def _follow(self, device: torch.device) -> None:
        # The state follows the batches: it moves with the first batch on a new device.
        if device != self._device:
            self.to(device)

    # update --------------------------------------------------------------------------

    @torch.no_grad()
    def update(self, probs: Any, indexes: Any = None) -> None:
        """Fold a batch of unlabeled class probabilities into the state (no host sync).

        Parameters
        ----------
        probs : tensor or array-like, shape (n, C)
            Class probabilities of unlabeled rows (weak augmentation).
        indexes : tensor or array-like of int, shape (n,), optional
            Ids of the rows in ``[0, num_unlabeled)``; required by flexmatch.

        Raises
        ------
        TypeError
            If ``probs`` is not floating point or ``indexes`` is not integer data.
        ValueError
            If ``probs`` is not 2-D with ``C`` columns or (on CPU) holds NaN or
            infinity, or ``indexes`` is missing (flexmatch), has the wrong length or
            (on CPU) holds an id outside ``[0, num_unlabeled)``.
        """
        p = _check_probs(probs, self.num_classes)
        self._follow(p.device)
        if self.method == "flexmatch":
            if indexes is None:
                raise ValueError("indexes: required by method='flexmatch' (ids of the rows)")
            assert self.num_unlabeled is not None
            ids = _check_ids(indexes, p.shape[0], self.num_unlabeled, "indexes", p.device)
            self._update_flexmatch(p, ids)
        elif self.method == "freematch":
            self._update_freematch(p)
        else:
            self._update_softmatch(p)

    def _update_flexmatch(self, p: torch.Tensor, ids: torch.Tensor) -> None:
        maxp, pred = p.max(dim=1)
        # -2: "no change" (the row did not reach the fixed threshold).
        proposal = torch.where(maxp >= self.threshold, pred, torch.full_like(pred, -2))
        if is_distributed() and world_size() > 1:
            import torch.distributed as dist

            # One all-gather of (id, proposal) pairs; batches must have equal sizes on
            # every rank (as DDP gives). Applied in rank order on every rank.
            packed = torch.stack([ids, proposal])
            gathered = [torch.empty_like(packed) for _ in range(world_size())]
            dist.all_gather(gathered, packed)
            ids = torch.cat([g[0] for g in gathered])
            proposal = torch.cat([g[1] for g in gathered])
        old = self.selected.index_select(0, ids)
        C = self.num_classes
        change = proposal >= 0
        # The last row of an id that reached the threshold sets its prediction; the last
        # row of each id (whatever it proposed) carries the count change.
        won = _last_wins(ids, proposal.clamp(min=0), C, self._scratch, valid=change)
        final = torch.where(won >= 0, won % C, old)
        pos = torch.arange(ids.shape[0], device=ids.device, dtype=torch.int64)
        last = (_last_wins(ids, torch.zeros_like(ids), 1, self._scratch) == pos).to(torch.int64)
        self.selected.index_copy_(0, ids, final)
        self.counts.index_add_(0, old + 1, -last)
        self.counts.index_add_(0, final + 1, last)

    def _batch_sums(self, p: torch.Tensor, parts: list[torch.Tensor]) -> torch.Tensor:
        """Concatenate per-batch sums (float64) and all-reduce them under DDP."""
        sums = torch.cat([t.reshape(-1).to(torch.float64) for t in parts])
        if is_distributed() and world_size() > 1:
            import torch.distributed as dist

            dist.all_reduce(sums)
        return sums

    def _update_freematch(self, p: torch.Tensor) -> None:
        pf = p.to(torch.float32)
        maxp = pf.max(dim=1).values
        n = torch.full((1,), float(p.shape[0]), device=p.device)
        sums = self._batch_sums(p, [maxp.sum(), pf.sum(dim=0), n])
        count = sums[-1]
        m = self.momentum
        self.tau = (m * self.tau + (1 - m) * (sums[0] / count)).to(torch.float32)
        self.p_model = (m * self.p_model + (1 - m) * (sums[1:-1] / count)).to(torch.float32)

    def _update_softmatch(self, p: torch.Tensor) -> None:
        maxp = p.max(dim=1).values.to(torch.float64)
        n = torch.full((1,), float(p.shape[0]), device=p.device, dtype=torch.float64)
        sums = self._batch_sums(p, [maxp.sum(), (maxp * maxp).sum(), n])
        count = sums[2]
        mean = sums[0] / count
        # Unbiased variance (torch.var's default, as USB uses); NaN for a single row.
        var = (sums[1] - count * mean * mean) / (count - 1)
        m = self.momentum
        self.mu = (m * self.mu + (1 - m) * mean).to(torch.float32)
        self.var = (m * self.var + (1 - m) * var).to(torch.float32)

    # read-out ------------------------------------------------------------------------

    def _beta(self) -> torch.Tensor:
        sigma = self.counts[1:].to(torch.float32)
        top = sigma.max()
        if self.warmup:
            top = torch.maximum(top, self.counts[0].to(torch.float32))
        # 0/0 (nothing selected yet, warmup off) gives beta 0, as USB's untouched zeros.
        return torch.where(top > 0, sigma / top.clamp(min=1.0), torch.zeros_like(sigma))

    def thresholds(self) -> torch.Tensor:
        """The per-class thresholds T_c, shape (C,), on the state's device.

        Returns
        -------
        torch.Tensor of float, shape (C,)
            Threshold of every class.
        """
        if self.method == "flexmatch":
            beta = self._beta()
            return self.threshold * beta / (2.0 - beta)
        if self.method == "freematch":
            return self.tau * self.p_model / self.p_model.max()
        return self.mu.expand(self.num_classes).clone()

    @torch.no_grad()
    def mask(self, probs: Any) -> torch.Tensor:
        """Per-row weights from the current state: float tensor (n,) on probs' device.

        Parameters
        ----------
        probs : tensor or array-like, shape (n, C)
            Class probabilities of the rows to weigh.

        Returns
        -------
        torch.Tensor, shape (n,)
            0/1 (flexmatch, freematch) or soft (softmatch) weights, in ``probs``' dtype.

        Raises
        ------
        TypeError
            If ``probs`` is not floating point.
        ValueError
            If ``probs`` is not 2-D with ``C`` columns or (on CPU) holds NaN or infinity.
        """
        p = _check_probs(probs, self.num_classes)
        self._follow(p.device)
        maxp, pred = p.max(dim=1)
        if self.method == "softmatch":
            gap = torch.clamp(maxp.to(torch.float32) - self.mu, max=0.0)
            return torch.exp(-(gap * gap) / (2.0 * self.var / self.n_sigma**2)).to(p.dtype)
        t = self.thresholds().index_select(0, pred)
        return (maxp >= t.to(maxp.dtype)).to(p.dtype)

    def step(self, probs: Any, indexes: Any = None) -> torch.Tensor:
        """``mask`` and ``update`` in USB's order (FlexMatch masks first, the others last).

        Parameters
        ----------
        probs : tensor or array-like, shape (n, C)
            Class probabilities of unlabeled rows.
        indexes : tensor or array-like of int, shape (n,), optional
            Ids of the rows; required by flexmatch.

        Returns
        -------
        torch.Tensor, shape (n,)
            The weights of :meth:`mask`.

        Raises
        ------
        TypeError, ValueError
            As :meth:`update` and :meth:`mask`.
        """
        if self.method == "flexmatch":
            out = self.mask(probs)
            self.update(probs, indexes)
            return out
        self.update(probs, indexes)
        return self.mask(probs)


# ---------------------------------------------------------------- training dynamics


class TrainingDynamics:
    """Per-example training dynamics, accumulated batch by batch on the model's device.

    ``update(indexes, logits, targets)`` after every forward pass (``indexes``: the
    dataset ids of the rows) adds, for each example, over the updates it receives:

    - ``el2n()``: mean of ||softmax(z) - onehot(y)||_2 (EL2N, Paul et al. 2021, NeurIPS);
    - ``forgetting()``: number of correct -> incorrect transitions between consecutive
      updates of the example (Toneva et al. 2019, ICLR); an example never predicted
      correctly has 0 here and ``ever_correct()`` False;
    - ``aum()``: mean of z_y - max_{j != y} z_j (area under the margin, Pleiss et al.
      2020, NeurIPS);
    - ``confidence()`` / ``variability()``: mean / standard deviation (ddof 0) of p_y
      (dataset cartography, Swayamdipta et al. 2020, EMNLP).

    Every read-out is a float tensor (num_samples,) on the state's device, NaN for an
    example with no update. ``update`` never synchronises with the host; sums are kept
    in float64 (float32 on devices without float64). Under DDP call ``sync()`` (for
    example once per epoch): one all-reduce of the sums counted since the last sync, and
    of the latest correctness of each example (by update step), so that transitions
    across ranks are counted as one process would; ``merge(other)`` does the same for
    two objects in one process.

    Parameters
    ----------
    num_samples : int
        Dataset size: ids lie in ``[0, num_samples)`` (>= 1).
    num_classes : int
        Number of classes ``C`` (>= 1).

    Raises
    ------
    TypeError
        If ``num_samples`` or ``num_classes`` is not an integer.
    ValueError
        If ``num_samples`` or ``num_classes`` is < 1.

    Examples
    --------
    >>> import torch
    >>> td = TrainingDynamics(3, 2)
    >>> td.update(torch.tensor([0, 1, 2]), torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 3.0]]),
    ...           torch.tensor([0, 0, 1]))
    >>> td.aum().tolist()
    [2.0, -1.0, 2.0]
    >>> td.update(torch.tensor([0]), torch.tensor([[0.0, 2.0]]), torch.tensor([0]))
    >>> td.forgetting().tolist()
    [1, 0, 0]
    """

    _SUMS = ("count", "el2n_sum", "aum_sum", "conf_sum", "conf_sq", "forget")

    def __init__(self, num_samples: int, num_classes: int) -> None:
        self.num_samples = check_positive_int(num_samples, "num_samples", minimum=1)
        self.num_classes = check_positive_int(num_classes, "num_classes", minimum=1)
        self._device = torch.device("cpu")
        self._init_state()

    def _float(self) -> torch.dtype:
        return torch.float32 if self._device.type == "mps" else torch.float64

    def _init_state(self) -> None:
        n, dev, f = self.num_samples, self._device, self._float()
        # Sums since the last sync (local) and the part agreed by all ranks (base).
        self._local = {
            "count": torch.zeros(n, dtype=torch.int64, device=dev),
            "forget": torch.zeros(n, dtype=torch.int64, device=dev),
            "el2n_sum": torch.zeros(n, dtype=f, device=dev),
            "aum_sum": torch.zeros(n, dtype=f, device=dev),
            "conf_sum": torch.zeros(n, dtype=f, device=dev),
            "conf_sq": torch.zeros(n, dtype=f, device=dev),
        }
        self._base = {k: torch.zeros_like(v) for k, v in self._local.items()}
        # Latest correctness of each example as stamp * 2 + correct (stamp = update step
        # + 1; 0: never seen), so the latest across ranks is an all-reduce MAX.
        self._last = torch.zeros(n, dtype=torch.int64, device=dev)
        self._scratch = torch.full((n,), -1, dtype=torch.int64, device=dev)
        self._step = 0

    @property
    def device(self) -> torch.device:
        return self._device

    def to(self, device: Any) -> "TrainingDynamics":
        """Move the state to ``device`` (returns self).

        Parameters
        ----------
        device : torch.device or str
            Target device.

        Returns
        -------
        TrainingDynamics
            This object.
        """
        self._device = torch.device(device)
        f = self._float()
        for d in (self._local, self._base):
            for k, v in d.items():
                d[k] = v.to(self._device, dtype=v.dtype if v.dtype == torch.int64 else f)
        self._last = self._last.to(self._device)
        self._scratch = self._scratch.to(self._device)
        return self

    def reset(self) -> None:
        """Forget everything seen (keeps the device)."""
        self._init_state()

    @torch.no_grad()
    def update(self, indexes: Any, logits: Any, targets: Any) -> None:
        """Add one batch: ``indexes`` (n,) dataset ids, ``logits`` (n, C), ``targets`` (n,).

        Parameters
        ----------
        indexes : tensor or array-like of int, shape (n,)
            Dataset ids of the rows, in ``[0, num_samples)``.
        logits : tensor or array-like of float, shape (n, C)
            Model outputs before the softmax.
        targets : tensor or array-like of int, shape (n,)
            Given labels, in ``[0, C)``.

        Raises
        ------
        TypeError
            If ``logits`` is not floating point, or ``indexes`` or ``targets`` are not
            integer data.
        ValueError
            If ``logits`` is not of shape (n, C), ``indexes`` or ``targets`` do not have
            ``n`` values, or (on CPU) an id or target is out of range.
        """
        z = _as_tensor(logits, "logits")
        if z.dim() != 2 or z.shape[1] != self.num_classes:
            raise ValueError(
                f"logits: expected shape (n, {self.num_classes}), got {tuple(z.shape)}"
            )
        if not z.is_floating_point():
            raise TypeError(f"logits: expected floating-point logits, got {z.dtype}")
        if z.device != self._device:
            self.to(z.device)
        n = z.shape[0]
        ids = _check_ids(indexes, n, self.num_samples, "indexes", z.device)
        y = _check_ids(targets, n, self.num_classes, "targets", z.device)
        if n == 0:
            return
        f = self._float()
        z = z.to(f)
        p = torch.softmax(z, dim=1)
        onehot = torch.nn.functional.one_hot(y, self.num_classes).to(f)
        el2n = torch.linalg.vector_norm(p - onehot, dim=1)
        z_y = z.gather(1, y[:, None])[:, 0]
        others = z.masked_fill(onehot.bool(), -math.inf)
        # With one class there is no other logit: the margin is defined as z_y.
        best_other = others.max(dim=1).values if self.num_classes > 1 else torch.zeros_like(z_y)
        aum = z_y - best_other
        p_y = p.gather(1, y[:, None])[:, 0]
        correct = (z.argmax(dim=1) == y).to(torch.int64)

        loc = self._local
        loc["count"].index_add_(0, ids, torch.ones_like(ids))
        loc["el2n_sum"].index_add_(0, ids, el2n)
        loc["aum_sum"].index_add_(0, ids, aum)
        loc["conf_sum"].index_add_(0, ids, p_y)
        loc["conf_sq"].index_add_(0, ids, p_y * p_y)

        # Forgetting: compare with the example's previous correctness. Repeated ids in
        # one batch: the last occurrence is compared with the state before the batch.
        self._step += 1
        prev = self._last.index_select(0, ids)
        seen_correct = (prev > 0) & (prev % 2 == 1)
        won = _last_wins(ids, correct, 2, self._scratch)
        pos = torch.arange(n, device=ids.device, dtype=torch.int64)
        now, is_last = won % 2, (won // 2) == pos
        forgot = (seen_correct & (now == 0) & is_last).to(torch.int64)
        loc["forget"].index_add_(0, ids, forgot)
        stamp = torch.full_like(ids, 2 * self._step) + now
        self._last.index_copy_(0, ids, stamp)

    # read-out ------------------------------------------------------------------------

    def _total(self, key: str) -> torch.Tensor:
        return self._base[key] + self._local[key]

    def _mean(self, key: str) -> torch.Tensor:
        count = self._total("count").to(self._float())
        return self._total(key) / count  # 0/0 = NaN for examples never seen

    def el2n(self) -> torch.Tensor:
        """Mean EL2N score per example (num_samples,).

        Returns
        -------
        torch.Tensor of float, shape (num_samples,)
            NaN for an example with no update.
        """
        return self._mean("el2n_sum")

    def aum(self) -> torch.Tensor:
        """Mean margin z_y - max other logit per example (num_samples,).

        Returns
        -------
        torch.Tensor of float, shape (num_samples,)
            NaN for an example with no update.
        """
        return self._mean("aum_sum")

    def confidence(self) -> torch.Tensor:
        """Mean probability of the given label per example (num_samples,).

        Returns
        -------
        torch.Tensor of float, shape (num_samples,)
            NaN for an example with no update.
        """
        return self._mean("conf_sum")

    def variability(self) -> torch.Tensor:
        """Standard deviation (ddof 0) of the probability of the given label (num_samples,).

        Returns
        -------
        torch.Tensor of float, shape (num_samples,)
            NaN for an example with no update.
        """
        mean = self._mean("conf_sum")
        var = self._mean("conf_sq") - mean * mean
        return torch.sqrt(var.clamp(min=0.0))

    def forgetting(self) -> torch.Tensor:
        """Forgetting events (correct -> incorrect) per example, int64 (num_samples,).

        Returns
        -------
        torch.Tensor of int64, shape (num_samples,)
            Count of correct -> incorrect transitions.
        """
        return self._total("forget").clone()

    def counts(self) -> torch.Tensor:
        """Number of updates each example received, int64 (num_samples,).

        Returns
        -------
        torch.Tensor of int64, shape (num_samples,)
            Updates per example.
        """
        return self._total("count").clone()

    def ever_correct(self) -> torch.Tensor:
        """Whether each example was predicted correctly at its latest update (bool).

        Toneva et al. treat examples never learned as forgotten infinitely often; combine
        ``forgetting()`` with ``counts() > 0`` and this flag to rank them so.

        Returns
        -------
        torch.Tensor of bool, shape (num_samples,)
            False for an example never seen.
        """
        return (self._last > 0) & (self._last % 2 == 1)

    # merge / sync ---------------------------------------------------------------------

    def _check_other(self, other: "TrainingDynamics") -> None:
        if not isinstance(other, TrainingDynamics):
            raise TypeError(f"other: expected a TrainingDynamics, got {type(other).__name__}")
        if (other.num_samples, other.num_classes) != (self.num_samples, self.num_classes):
            raise ValueError(
                f"other: has num_samples={other.num_samples}, num_classes="
                f"{other.num_classes}; expected {self.num_samples}, {self.num_classes}"
            )

    def merge(self, other: "TrainingDynamics") -> "TrainingDynamics":
        """Add ``other``'s updates into self (``other`` is left as it is).

        Parameters
        ----------
        other : TrainingDynamics
            Dynamics with the same ``num_samples`` and ``num_classes``.

        Returns
        -------
        TrainingDynamics
            This object.

        Raises
        ------
        TypeError
            If ``other`` is not a TrainingDynamics.
        ValueError
            If ``other`` has another ``num_samples`` or ``num_classes``.

        Notes
        -----

        Sums add up exactly. A forgetting transition is counted by the object that saw
        both updates of the example, so merging at the end is exact when each example is
        always fed to the same object; when examples move between objects (ranks under
        a reshuffling sampler), ``sync`` at least once per epoch instead.
        """
        self._check_other(other)
        for k in self._SUMS:
            self._local[k] += other._total(k).to(self._device, self._local[k].dtype)
        self._last = torch.maximum(self._last, other._last.to(self._device))
        self._step = max(self._step, other._step)
        return self

    def sync(self, group: Any = None) -> None:
        """All-reduce the sums since the last sync and the latest correctness over ranks.

        Call it on every rank at the same point (e.g. the end of each epoch), with the
        ranks having made the same number of ``update`` calls since the start (as DDP
        does): the update step then orders the ranks' observations of an example.

        Parameters
        ----------
        group : torch.distributed group, optional
            Process group of the all-reduce (default group when None).
        """
        if not is_distributed() or world_size(group) == 1:
            for k in self._SUMS:
                self._base[k] += self._local[k]
                self._local[k].zero_()
            return
        import torch.distributed as dist

        dev = self._device
        backend_dev = dev
        if dist.get_backend(group) != "nccl":
            backend_dev = torch.device("cpu")
        ints = torch.stack([self._local["count"], self._local["forget"]]).to(backend_dev)
        keys = ("el2n_sum", "aum_sum", "conf_sum", "conf_sq")
        floats = torch.stack([self._local[k] for k in keys]).to(backend_dev)
        last = self._last.to(backend_dev)
        dist.all_reduce(ints, group=group)
        dist.all_reduce(floats, group=group)
        dist.all_reduce(last, op=dist.ReduceOp.MAX, group=group)
        ints, floats, last = ints.to(dev), floats.to(dev), last.to(dev)
        self._base["count"] += ints[0]
        self._base["forget"] += ints[1]
        for i, k in enumerate(("el2n_sum", "aum_sum", "conf_sum", "conf_sq")):
            self._base[k] += floats[i]
        for k in self._SUMS:
            self._local[k].zero_()
        self._last = last

    def state_dict(self) -> dict:
        """All state tensors (on their device) and the step counter.

        Returns
        -------
        dict
            Cloned state tensors, ``step``, ``num_samples`` and ``num_classes``.
        """
        out = {f"base_{k}": v.clone() for k, v in self._base.items()}
        out.update({f"local_{k}": v.clone() for k, v in self._local.items()})
        out["last"] = self._last.clone()
        out["step"] = self._step
        out["num_samples"], out["num_classes"] = self.num_samples, self.num_classes
        return out

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output (moved to this object's device).

        Parameters
        ----------
        state : dict
            Output of :meth:`state_dict` of dynamics of the same sizes.

        Raises
        ------
        ValueError
            If ``state`` was saved for another ``num_samples`` or ``num_classes``.
        """
        if (state.get("num_samples"), state.get("num_classes")) != (
            self.num_samples,
            self.num_classes,
        ):
            raise ValueError(
                "state: saved for num_samples={!r}, num_classes={!r}; expected {}, {}".format(
                    state.get("num_samples"),
                    state.get("num_classes"),
                    self.num_samples,
                    self.num_classes,
                )
            )
        for k in self._SUMS:
            self._base[k] = state[f"base_{k}"].to(self._device, self._base[k].dtype).clone()
            self._local[k] = state[f"local_{k}"].to(self._device, self._local[k].dtype).clone()
        self._last = state["last"].to(self._device).clone()
        self._step = int(state["step"])
