"""Losses and post-hoc corrections for long-tailed training.

Every re-balancing loss of the long-tail literature that is usually copied from a paper
repository, as one tested package with one set of conventions:

- each loss is an :class:`torch.nn.Module` (class counts kept as buffers, so
  ``.to(device)`` moves them) and a functional form sharing the same math; the
  functional forms check and convert ``counts`` on every call (a host-to-device copy
  when the logits are on a GPU), so in a training loop prefer the module;
- ``reduction="mean"|"sum"|"none"`` and ``ignore_index`` as in
  :func:`torch.nn.functional.cross_entropy`; logits are ``(N, C)`` or ``(N, C, d1, ...)``
  (the multi-label losses take 0/1 targets of the logits' shape, ``ignore_index=None``
  by default; the detection heads take ``(N, C)``);
- running statistics (Seesaw's class counts, EQLv2's gradient sums) are buffers updated
  on the device in training mode;
- device and dtype follow the input: float16/bfloat16 logits are computed in float32
  (log-sum-exp and the class offsets would lose too much in half precision) and the loss
  comes back in the input dtype; nothing in ``forward`` copies between host and device;
- class counts may be a list, numpy array or tensor; a class with count 0 never turns a
  loss into NaN or infinity (see :func:`class_balanced_weights` and
  :class:`BalancedSoftmaxLoss` for what such a class gets).

Target values are range-checked (``ValueError`` naming ``target``) when they live on the
CPU. On an accelerator that check would need a device-to-host copy on every step, so it
is left to the device-side assertion of ``cross_entropy``/``gather`` instead.

References: Cui et al. 2019 (class-balanced loss), Lin et al. 2017 (focal loss, prior
bias init), Cao et al. 2019 (LDAM-DRW), Ren et al. 2020 (balanced softmax), Menon et al.
2021 (logit adjustment), Kang et al. 2020 (tau-normalisation), Hou et al. 2023 (SBCL),
Ridnik et al. 2021 (ASL), Salehi et al. 2017 (Tversky), Wang et al. 2021 (Seesaw), Tan et
al. 2021 (EQLv2), Zhang & Sabuncu 2018 (GCE), Chou et al. 2020 (Remix).

Where each loss lives (one module per family; every name is importable from
``longtail.losses``):

- :mod:`longtail.losses.reweighting`: ``class_balanced_weights``,
  ``deferred_reweighting``, ``ClassBalancedLoss``, ``FocalLoss``;
- :mod:`longtail.losses.margins` (margins and logit adjustment): ``LDAMLoss``,
  ``BalancedSoftmaxLoss``, ``LogitAdjustedLoss``, ``logit_adjust``, ``tau_normalize``,
  ``prior_bias_init``;
- :mod:`longtail.losses.dense` (dense and multi-label): ``ClassBalancedBCELoss``,
  ``AsymmetricLoss``, ``TverskyLoss``;
- :mod:`longtail.losses.detection` (detection heads): ``SeesawLoss``, ``EQLv2Loss``;
- :mod:`longtail.losses.noise_robust`: ``GCELoss``;
- :mod:`longtail.losses.contrastive`: ``SubclassContrastiveLoss``;
- :mod:`longtail.losses.mixing`: ``remix``.

The argument checks every loss shares are in ``longtail.losses._checks``, the shared
math (reduction, count buffers, weighted cross-entropy) in ``longtail.losses._common``.
"""

from longtail.losses.contrastive import SubclassContrastiveLoss, subclass_contrastive_loss
from longtail.losses.dense import (
    AsymmetricLoss,
    ClassBalancedBCELoss,
    TverskyLoss,
    asymmetric_loss,
    class_balanced_bce_loss,
    tversky_loss,
)
from longtail.losses.detection import EQLv2Loss, SeesawLoss, eqlv2_loss, seesaw_loss
from longtail.losses.margins import (
    BalancedSoftmaxLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    balanced_softmax_loss,
    ldam_loss,
    logit_adjust,
    logit_adjusted_loss,
    prior_bias_init,
    tau_normalize,
)
from longtail.losses.mixing import remix
from longtail.losses.noise_robust import GCELoss, gce_loss
from longtail.losses.reweighting import (
    ClassBalancedLoss,
    FocalLoss,
    class_balanced_loss,
    class_balanced_weights,
    deferred_reweighting,
    focal_loss,
)

__all__ = [
    "class_balanced_weights",
    "deferred_reweighting",
    "prior_bias_init",
    "tau_normalize",
    "logit_adjust",
    "ClassBalancedLoss",
    "class_balanced_loss",
    "FocalLoss",
    "focal_loss",
    "LDAMLoss",
    "ldam_loss",
    "BalancedSoftmaxLoss",
    "balanced_softmax_loss",
    "LogitAdjustedLoss",
    "logit_adjusted_loss",
    "SubclassContrastiveLoss",
    "subclass_contrastive_loss",
    "ClassBalancedBCELoss",
    "class_balanced_bce_loss",
    "AsymmetricLoss",
    "asymmetric_loss",
    "TverskyLoss",
    "tversky_loss",
    "SeesawLoss",
    "seesaw_loss",
    "EQLv2Loss",
    "eqlv2_loss",
    "GCELoss",
    "gce_loss",
    "remix",
]
