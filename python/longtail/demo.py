"""``longtail demo``: what the library's recipes do for tail classes, on bundled data.

scikit-learn's digits (8x8 images, 10 classes, ~180 images each; bundled, no download)
are split into a balanced test set and a long-tailed training set made by
:func:`longtail.datasets.long_tailed_indices`. A small MLP is trained with plain
cross-entropy and with the library's recipes, all with the same budget (epochs, batch
size, optimiser, learning rate), and scored on the balanced test set:

- ``cross-entropy``: the baseline, instance-balanced mini-batches.
- ``class-balanced sampler``: :class:`longtail.samplers.ClassBalancedSampler`
  (every class equally likely in a batch; Kang et al. 2020).
- ``balanced softmax``: :class:`longtail.losses.BalancedSoftmaxLoss` (Ren et al. 2020).
- ``logit adjustment``: the cross-entropy model, corrected after training by
  :func:`longtail.losses.logit_adjust` (Menon et al. 2021); it costs no training.
- ``LDAM-DRW``: :class:`longtail.losses.LDAMLoss` on a cosine classifier, with
  :func:`longtail.losses.deferred_reweighting` in the last fifth of training
  (Cao et al. 2019).

>>> X_train, y_train, X_test, y_test = digits_long_tailed(imbalance_ratio=100, seed=0)
>>> np.bincount(y_test).tolist()
[50, 50, 50, 50, 50, 50, 50, 50, 50, 50]
>>> counts = np.bincount(y_train)
>>> bool(counts.max() >= 50 * counts.min())
True
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = [
    "RECIPES",
    "DemoConfig",
    "DemoResult",
    "digits_long_tailed",
    "run_demo",
    "format_demo_table",
    "demo_output_paths",
    "write_demo_outputs",
]

#: Recipe keys in table order, with the name printed for each.
RECIPES: dict[str, str] = {
    "ce": "cross-entropy",
    "cb-sampler": "class-balanced sampler",
    "balanced-softmax": "balanced softmax",
    "logit-adjust": "logit adjustment (post-hoc)",
    "ldam-drw": "LDAM-DRW",
}


# Scale of LDAM's cosine logits (Cao et al. 2019 use s=30); applied at test time too, so
# that the probabilities (ECE) are those the loss trained.
_LDAM_S = 30.0


@dataclass
class DemoConfig:
    """Settings of :func:`run_demo`; the defaults are those of ``longtail demo``.

    The training budget (epochs, batch size, learning rate, width) is shared by every
    recipe, so that the comparison is fair. ``many``/``few`` are the shot-group
    thresholds on training-class size (many: n > many, few: n < few); ``profile`` is the
    imbalance profile of :func:`longtail.datasets.long_tailed_indices` ("exp", "step",
    "linear" or "zipf"); with digits at
    imbalance ratio 100 the classes have 133 down to 1 training examples, so the
    library-wide defaults (100/20), made for CIFAR-LT's 5000..50, would leave one class
    in the many-shot group.

    >>> DemoConfig().imbalance_ratio, DemoConfig().seeds
    (100.0, 3)
    """

    imbalance_ratio: float = 100.0
    profile: str = "exp"
    seeds: int = 3
    epochs: int = 60
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 5e-4
    hidden: int = 128
    test_per_class: int = 50
    many: int = 40
    few: int = 10
    n_bins: int = 10
    recipes: tuple[str, ...] = tuple(RECIPES)


@dataclass
class DemoResult:
    """What :func:`run_demo` measured.

    ``metrics[recipe][name]`` holds one value per seed for ``balanced_accuracy``,
    ``many``, ``medium``, ``few``, ``ece``. ``recall[recipe]`` is the per-class recall
    averaged over seeds; ``probs[recipe]`` the test-set probabilities of all seeds
    stacked, with ``y_test`` the matching labels (for the reliability diagram).
    """

    config: DemoConfig
    train_counts: np.ndarray
    metrics: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    recall: dict[str, np.ndarray] = field(default_factory=dict)
    probs: dict[str, np.ndarray] = field(default_factory=dict)
    y_test: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def mean(self, recipe: str, name: str) -> float:
        """Mean over seeds of one metric of one recipe (NaN-aware)."""
        values = np.asarray(self.metrics[recipe][name], dtype=np.float64)
        return float(np.nanmean(values)) if np.isfinite(values).any() else math.nan

    def best(self) -> str:
        """The recipe other than plain cross-entropy with the best balanced accuracy."""
        others = [r for r in self.metrics if r != "ce"]
        return max(others, key=lambda r: self.mean(r, "balanced_accuracy"))

    def gain(self) -> float:
        """Balanced-accuracy gain (in points) of :meth:`best` over plain cross-entropy."""
        best = self.best()
        return 100.0 * (self.mean(best, "balanced_accuracy") - self.mean("ce", "balanced_accuracy"))


def digits_long_tailed(
    imbalance_ratio: float = 100.0, *, test_per_class: int = 50, seed: int = 0,
    profile: str = "exp",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Long-tailed train set and balanced test set from scikit-learn's digits.

    The test set is taken first (``test_per_class`` images of every class), so that it
    stays balanced and disjoint from training; the long-tailed training set is then cut
    from the rest by :func:`longtail.datasets.long_tailed_indices` (``profile``, by
    default exponential: class 0 keeps the most images, class 9 the fewest, ratio
    ``imbalance_ratio``; also "step", "linear" or "zipf").
    Pixels are scaled from 0..16 to 0..1. Returns ``X_train, y_train, X_test, y_test``.

    >>> X_tr, y_tr, X_te, y_te = digits_long_tailed(10, test_per_class=20, seed=1)
    >>> X_te.shape, float(X_tr.max())
    ((200, 64), 1.0)
    """
    from sklearn.datasets import load_digits

    from longtail.datasets import long_tailed_indices

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    y = y.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:test_per_class] for c in np.unique(y)]
    )
    pool = np.setdiff1d(np.arange(y.size), test)
    keep = pool[
        long_tailed_indices(y[pool], imbalance_ratio=imbalance_ratio, profile=profile, seed=seed)
    ]
    return X[keep], y[keep], X[test], y[test]


def _train(
    recipe: str,
    X: np.ndarray,
    y: np.ndarray,
    counts: np.ndarray,
    config: DemoConfig,
    seed: int,
) -> Callable[[np.ndarray], np.ndarray]:
    """Train one recipe; return a function mapping inputs to test-time logits."""
    import torch
    from torch import nn

    from longtail.losses import BalancedSoftmaxLoss, LDAMLoss, deferred_reweighting
    from longtail.samplers import ClassBalancedSampler

    torch.manual_seed(seed)
    n_classes = counts.size
    body = nn.Sequential(nn.Linear(X.shape[1], config.hidden), nn.ReLU())
    head = nn.Linear(config.hidden, n_classes)
    cosine = recipe == "ldam-drw"

    def forward(inputs: torch.Tensor) -> torch.Tensor:
        features = body(inputs)
        if cosine:
            # LDAM's margins are defined on cosine logits (Cao et al. 2019 use a
            # normalised linear classifier); the loss scales them by s.
            return (
                nn.functional.normalize(features, dim=1)
                @ nn.functional.normalize(head.weight, dim=1).T
            )
        return head(features)

    params = list(body.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    counts_t = torch.as_tensor(counts, dtype=torch.float32)

    if recipe == "balanced-softmax":
        loss_fn: Any = BalancedSoftmaxLoss(counts_t)
    else:
        loss_fn = nn.CrossEntropyLoss()
    sampler = ClassBalancedSampler(y, seed=seed) if recipe == "cb-sampler" else None
    gen = torch.Generator().manual_seed(seed)
    # DRW: plain LDAM first, class-balanced weights for the last fifth of the epochs.
    drw_start = int(0.8 * config.epochs)

    for epoch in range(config.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
            order = torch.from_numpy(np.asarray(sampler.indices(), dtype=np.int64))
        else:
            order = torch.randperm(y.size, generator=gen)
        if cosine:
            weight = deferred_reweighting(counts, epoch, start_epoch=drw_start)
            loss_fn = LDAMLoss(
                counts, s=_LDAM_S, weight=torch.as_tensor(weight, dtype=torch.float32)
            )
        for start in range(0, order.numel(), config.batch_size):
            batch = order[start : start + config.batch_size]
            opt.zero_grad()
            loss = loss_fn(forward(Xt[batch]), yt[batch])
            loss.backward()
            opt.step()

    def predict(inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = forward(torch.from_numpy(inputs))
            if cosine:
                logits = logits * _LDAM_S
        return logits.numpy().astype(np.float64)

    return predict


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def run_demo(config: DemoConfig | None = None, *, progress: bool = False) -> DemoResult:
    """Train every recipe of ``config`` for every seed and score it on the test set.

    Seed ``k`` fixes the test split, the long-tailed subset and the network's
    initialisation and batch order, so one seed gives the same numbers on every run.
    ``progress`` shows a tqdm bar on stderr.

    >>> cfg = DemoConfig(seeds=1, epochs=2, recipes=("ce", "logit-adjust"))
    >>> result = run_demo(cfg)
    >>> sorted(result.metrics), len(result.metrics["ce"]["balanced_accuracy"])
    (['ce', 'logit-adjust'], 1)
    """
    import torch
    from tqdm.auto import tqdm

    from longtail.losses import logit_adjust
    from longtail.metrics import (
        balanced_accuracy_score,
        expected_calibration_error,
        shot_accuracy,
    )

    config = config or DemoConfig()
    unknown = [r for r in config.recipes if r not in RECIPES]
    if unknown:
        raise ValueError(f"recipes: unknown {unknown}; choose from {list(RECIPES)}")
    if "logit-adjust" in config.recipes and "ce" not in config.recipes:
        # Logit adjustment is a correction of the cross-entropy model: it needs one.
        raise ValueError("recipes: 'logit-adjust' needs 'ce' (it corrects that model)")
    recipes = [r for r in RECIPES if r in config.recipes]  # table order
    trained = [r for r in recipes if r != "logit-adjust"]

    # A 64-128-10 MLP is far too small to gain from intra-op threads; extra threads only
    # cost synchronisation (and fight other processes on a small machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    recalls: dict[str, list[np.ndarray]] = {r: [] for r in recipes}
    probs: dict[str, list[np.ndarray]] = {r: [] for r in recipes}
    result: DemoResult | None = None
    ys: list[np.ndarray] = []
    try:
        bar = tqdm(
            total=config.seeds * len(trained),
            desc="longtail demo",
            unit="model",
            disable=not progress,
            file=sys.stderr,
        )
        with bar:
            for seed in range(config.seeds):
                X_tr, y_tr, X_te, y_te = digits_long_tailed(
                    config.imbalance_ratio,
                    test_per_class=config.test_per_class,
                    seed=seed,
                    profile=config.profile,
                )
                counts = np.bincount(y_tr, minlength=10)
                if result is None:
                    result = DemoResult(config=config, train_counts=counts)
                    result.metrics = {r: {} for r in recipes}
                ys.append(y_te)
                logits: dict[str, np.ndarray] = {}
                for recipe in trained:
                    bar.set_postfix_str(f"seed {seed}, {RECIPES[recipe]}")
                    logits[recipe] = _train(recipe, X_tr, y_tr, counts, config, seed)(X_te)
                    bar.update(1)
                if "logit-adjust" in recipes:
                    logits["logit-adjust"] = logit_adjust(
                        torch.from_numpy(logits["ce"]), torch.as_tensor(counts), tau=1.0
                    ).numpy()
                for recipe in recipes:
                    p = _softmax(np.asarray(logits[recipe], dtype=np.float64))
                    pred = p.argmax(axis=1)
                    shots = shot_accuracy(y_te, pred, counts, many=config.many, few=config.few)
                    m = result.metrics[recipe]
                    m.setdefault("balanced_accuracy", []).append(
                        float(balanced_accuracy_score(y_te, pred))
                    )
                    for group in ("many", "medium", "few"):
                        m.setdefault(group, []).append(float(shots[group]))
                    m.setdefault("ece", []).append(
                        float(expected_calibration_error(y_te, p, n_bins=config.n_bins))
                    )
                    recalls[recipe].append(
                        np.array([np.mean(pred[y_te == c] == c) for c in range(counts.size)])
                    )
                    probs[recipe].append(p)
    finally:
        torch.set_num_threads(threads)
    assert result is not None  # config.seeds >= 1 is checked by the callers
    result.recall = {r: np.mean(recalls[r], axis=0) for r in recipes}
    result.probs = {r: np.concatenate(probs[r]) for r in recipes}
    result.y_test = np.concatenate(ys)
    return result


def format_demo_table(result: DemoResult) -> str:
    """The comparison table printed by ``longtail demo`` (percent, mean ± sd over seeds).

    Ends with the shot-group thresholds and the gain of the best recipe over plain
    cross-entropy, in points of balanced accuracy.
    """
    cfg = result.config
    cols = [
        ("balanced_accuracy", "bal. acc"),
        ("many", "many"),
        ("medium", "medium"),
        ("few", "few"),
        ("ece", "ECE"),
    ]
    name_w = max(len(RECIPES[r]) for r in result.metrics)
    header = f"{'recipe':<{name_w}}  " + "  ".join(f"{label:>11}" for _, label in cols)
    lines = [header, "-" * len(header)]
    for recipe, m in result.metrics.items():
        cells = []
        for key, _ in cols:
            values = 100.0 * np.asarray(m[key], dtype=np.float64)
            if not np.isfinite(values).any():
                cells.append(f"{'n/a':>11}")
                continue
            mean = float(np.nanmean(values))
            sd = float(np.nanstd(values)) if np.isfinite(values).sum() > 1 else 0.0
            cells.append(f"{mean:6.1f} ±{sd:4.1f}" if cfg.seeds > 1 else f"{mean:11.1f}")
        lines.append(f"{RECIPES[recipe]:<{name_w}}  " + "  ".join(cells))
    counts = result.train_counts
    lines.append("")
    lines.append(
        f"digits, imbalance ratio {cfg.imbalance_ratio:g}"
        + ("" if cfg.profile == "exp" else f" ({cfg.profile} profile)")
        + f": {int(counts.sum())} training images "
        f"(class sizes {int(counts.max())} .. {int(counts.min())}), "
        f"{cfg.test_per_class} test images per class; mean"
        + (" ± sd" if cfg.seeds > 1 else "")
        + f" over {cfg.seeds} seed{'s' if cfg.seeds > 1 else ''}, in percent."
    )
    lines.append(
        f"Shot groups by training-class size: many n > {cfg.many:g}, "
        f"medium {cfg.few:g} <= n <= {cfg.many:g}, few n < {cfg.few:g}. "
        f"ECE: {cfg.n_bins} equal-width bins."
    )
    if "ce" in result.metrics and len(result.metrics) > 1:
        best = result.best()
        lines.append(
            f"Best recipe: {RECIPES[best]}, {result.gain():+.1f} points of balanced accuracy "
            f"over plain cross-entropy."
        )
    return "\n".join(lines)


def demo_output_paths(out: str | os.PathLike[str]) -> dict[str, Path]:
    """The files ``longtail demo`` writes under ``out``, by role.

    >>> sorted(demo_output_paths("x"))
    ['predictions', 'recall', 'reliability', 'report']
    """
    out = Path(out)
    return {
        "recall": out / "recall_vs_train_count.png",
        "reliability": out / "reliability.png",
        "report": out / "report.md",
        "predictions": out / "predictions.npz",
    }


def write_demo_outputs(result: DemoResult, out: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the plots, the Markdown report and the best recipe's predictions.

    ``predictions.npz`` (arrays ``y_true``, ``scores``, ``train_counts``; seed 0 of the
    best recipe) is an input for ``longtail report``. Existing files are overwritten:
    the command line checks for them first (see ``--force``).
    """
    from longtail.plots import (
        RELIABILITY_NOTE,
        markdown_figure,
        plot_recall_vs_train_count,
        plot_reliability_diagram,
        save_figure,
    )

    paths = demo_output_paths(out)
    paths["report"].parent.mkdir(parents=True, exist_ok=True)
    cfg = result.config
    seeds = f"{cfg.seeds} seed{'s' if cfg.seeds > 1 else ''}"
    recall = {RECIPES[r]: v for r, v in result.recall.items()}
    fig = plot_recall_vs_train_count(
        result.train_counts,
        recall,
        many=cfg.many,
        few=cfg.few,
        title=f"Digits, imbalance ratio {cfg.imbalance_ratio:g}: per-class recall "
        f"(mean of {seeds})",
    )
    save_figure(fig, paths["recall"])

    # Plain CE against the best recipe: with five lines the diagram is unreadable.
    shown = (
        ["ce", result.best()]
        if "ce" in result.probs and len(result.probs) > 1
        else list(result.probs)
    )
    ece = {RECIPES[r]: result.mean(r, "ece") for r in shown}
    fig = plot_reliability_diagram(
        result.y_test,
        {RECIPES[r]: result.probs[r] for r in shown},
        n_bins=cfg.n_bins,
        ece=ece,
        title=f"Reliability on the balanced test set ({seeds} pooled)",
    )
    save_figure(fig, paths["reliability"])

    best = shown[-1]
    n0 = result.y_test.size // cfg.seeds
    np.savez_compressed(
        paths["predictions"],
        y_true=result.y_test[:n0],
        scores=result.probs[best][:n0],
        train_counts=result.train_counts,
    )

    table = format_demo_table(result)
    md = [
        "# longtail demo",
        "",
        "A small MLP trained on a long-tailed subset of scikit-learn's digits with plain "
        "cross-entropy and with longtail's recipes (same budget for all), scored on a "
        "balanced test set. Reproduce with `longtail demo "
        f"--imbalance-ratio {cfg.imbalance_ratio:g} "
        + ("" if cfg.profile == "exp" else f"--profile {cfg.profile} ")
        + f"--seeds {cfg.seeds} "
        f"--epochs {cfg.epochs}`.",
        "",
        "```text",
        table,
        "```",
        "",
        *markdown_figure(
            "Per-class recall against training-class size",
            paths["recall"].name,
            "per-class recall",
            "Tail classes (left) are where the recipes differ from plain cross-entropy.",
        ),
        *markdown_figure(
            "Reliability diagram",
            paths["reliability"].name,
            "reliability diagram",
            RELIABILITY_NOTE,
        ),
        f"The best recipe's test predictions (seed 0) are in `{paths['predictions'].name}`; "
        f"`longtail report {paths['predictions'].name} --many {cfg.many:g} --few {cfg.few:g}` "
        "analyses them.",
        "",
    ]
    paths["report"].write_text("\n".join(md), encoding="utf-8")
    return paths
