# Type stub of the compiled module longtail._core (rust/python).

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

__version__: str

class LongtailValueError(ValueError): ...
class LongtailTypeError(TypeError): ...

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...

# --- samplers ---

_Order = npt.NDArray[np.uint32] | npt.NDArray[np.uint64]

def group_labels(
    labels: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], _Order]: ...
def class_first_indices(
    order: _Order,
    offsets: npt.NDArray[np.int64],
    class_probs: npt.NDArray[np.float64],
    total: int,
    replacement: bool,
    seed: int,
    epoch: int,
    rank: int,
    num_replicas: int,
) -> npt.NDArray[np.int64]: ...
def alias_table(
    weights: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], _Order]: ...
def weighted_indices(
    prob: npt.NDArray[np.float64],
    alias: _Order,
    total: int,
    seed: int,
    epoch: int,
    rank: int,
    num_replicas: int,
) -> npt.NDArray[np.int64]: ...
def weighted_indices_without_replacement(
    weights: npt.NDArray[np.float64],
    num_samples: int,
    total: int,
    seed: int,
    epoch: int,
    rank: int,
    num_replicas: int,
) -> npt.NDArray[np.int64]: ...
def repeat_factor_indices(
    factors: npt.NDArray[np.float64],
    seed: int,
    epoch: int,
    rank: int,
    num_replicas: int,
    drop_last: bool,
) -> npt.NDArray[np.int64]: ...
def m_per_class_indices(
    order: _Order,
    offsets: npt.NDArray[np.int64],
    m: int,
    batch_size: int,
    batches_per_rank: int,
    seed: int,
    epoch: int,
    rank: int,
    num_replicas: int,
) -> npt.NDArray[np.int64]: ...

# --- metrics ---
# Functional metrics kernels (rust/python/src/metrics.rs); arrays must be contiguous.
def binary_clf_curve(
    y: np.ndarray, scores: np.ndarray, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def binary_score(
    y: np.ndarray, scores: np.ndarray, sample_weight: np.ndarray | None, metric: str
) -> float: ...
def per_column_score(
    scores: np.ndarray,
    classes: np.ndarray | None,
    indicator: np.ndarray | None,
    sample_weight: np.ndarray | None,
    metric: str,
) -> np.ndarray: ...
def ovo_pair_auc(classes: np.ndarray, scores: np.ndarray) -> np.ndarray: ...
def label_range(a: np.ndarray, b: np.ndarray) -> tuple[int, int] | None: ...
def rows_sum_to_one(scores: np.ndarray) -> bool: ...
def label_range_eq(a: np.ndarray, value: int) -> tuple[tuple[int, int] | None, np.ndarray]: ...
def present_labels(a: np.ndarray, b: np.ndarray, lo: int, hi: int) -> np.ndarray: ...
def confusion_matrix_lut(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    lo: int,
    lut: np.ndarray,
    k: int,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray: ...
def confusion_matrix_auto(
    y_true: np.ndarray, y_pred: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None: ...
def top_k_hits(classes: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray: ...

# --- streaming ---

def binned_hist_multiclass(
    scores: npt.NDArray[np.floating] | npt.NDArray[np.uint16],
    target: npt.NDArray[np.int64],
    hist: npt.NDArray[np.int64],
    bins: int,
    lo: float,
    hi: float,
) -> None: ...
def binned_hist_multilabel(
    scores: npt.NDArray[np.floating] | npt.NDArray[np.uint16],
    target: npt.NDArray[np.uint8],
    hist: npt.NDArray[np.int64],
    bins: int,
    lo: float,
    hi: float,
) -> None: ...
def binned_hist_binary(
    scores: npt.NDArray[np.floating] | npt.NDArray[np.uint16],
    target: npt.NDArray[np.int64],
    hist: npt.NDArray[np.int64],
    bins: int,
    lo: float,
    hi: float,
) -> None: ...
def binned_scores(
    hist: npt.NDArray[np.int64], classes: int, bins: int, ap: bool
) -> list[float]: ...
def confusion_counts(
    target: npt.NDArray[np.int64],
    preds: npt.NDArray[np.int64],
    cm: npt.NDArray[np.int64],
    classes: int,
) -> None: ...

# --- cluster ---

def simd_level() -> int: ...

def kmeans_row_norms(x: NDArray[np.floating]) -> NDArray[np.floating]: ...
def kmeans_mean_variance(x: NDArray[np.floating]) -> float: ...
def kmeans_init(
    x: NDArray[np.floating],
    x_squared_norms: NDArray[np.floating],
    n_clusters: int,
    init: str,
    seed: int,
    run: int,
    key: int = 0,
    n_local_trials: int | None = None,
    init_size: int | None = None,
) -> NDArray[np.floating]: ...
def kmeans_step(
    x: NDArray[np.floating],
    x_squared_norms: NDArray[np.floating],
    centers: NDArray[np.floating],
    labels_old: NDArray[np.int64] | None = None,
) -> tuple[NDArray[np.floating], NDArray[np.int64], float, float, int]: ...
def kmeans_assign(
    x: NDArray[np.floating], centers: NDArray[np.floating]
) -> tuple[NDArray[np.int64], NDArray[np.floating]]: ...
def kmeans_inertia(
    x: NDArray[np.floating], centers: NDArray[np.floating], labels: NDArray[np.int64]
) -> float: ...
def kmeans_balance(
    x: NDArray[np.floating],
    x_squared_norms: NDArray[np.floating],
    centers: NDArray[np.floating],
    max_rounds: int,
) -> tuple[NDArray[np.floating], NDArray[np.int64], float]: ...
def kmeans_fit(
    x: NDArray[np.floating],
    n_clusters: int,
    *,
    init: str = "k-means++",
    n_init: int = 1,
    max_iter: int = 300,
    tol: float = 1e-4,
    seed: int = 0,
    balanced: bool = False,
    n_local_trials: int | None = None,
    init_size: int | None = None,
) -> tuple[NDArray[np.floating], NDArray[np.int64], float, int]: ...

class LloydRun:
    """One run of Lloyd's iterations with Hamerly's bounds (the state lives in Rust)."""

    def __init__(self, centers: NDArray[np.floating]) -> None: ...
    def step(
        self, x: NDArray[np.floating], x_squared_norms: NDArray[np.floating]
    ) -> tuple[float, int]: ...
    def finish(
        self, x: NDArray[np.floating], x_squared_norms: NDArray[np.floating]
    ) -> NDArray[np.int64]: ...
    def centers(self) -> NDArray[np.floating]: ...
    def labels(self) -> NDArray[np.int64]: ...
    def recomputed(self) -> int: ...
def subclass_kmeans(
    features: NDArray[np.floating],
    offsets: list[int],
    n_clusters: list[int],
    *,
    seed: int = 0,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int = 1,
    balanced: bool = False,
) -> NDArray[np.int64]: ...

# --- bootstrap intervals (issue 16; rust/python/src/bootstrap.rs) ---
def confusion_bootstrap(
    strata: NDArray[np.uint64],
    true_class: NDArray[np.uint32],
    pred_a: NDArray[np.uint32],
    pred_b: NDArray[np.uint32] | None,
    count: NDArray[np.uint64],
    n_classes: int,
    metric: str,
    n_resamples: int,
    seed: int,
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64] | None,
    NDArray[np.float64],
    NDArray[np.float64] | None,
]: ...
def poisson_ranking(
    y_sorted: NDArray[np.uint8],
    group_ends: NDArray[np.uint64],
    metric: str,
    n_resamples: int,
    seed: int,
) -> NDArray[np.float64]: ...
def poisson_ece(
    bin: NDArray[np.uint32],
    conf: NDArray[np.float64],
    correct: NDArray[np.uint8],
    n_bins: int,
    n_resamples: int,
    seed: int,
) -> NDArray[np.float64]: ...
def binomial_draws(n: int, p: float, size: int, seed: int) -> NDArray[np.uint64]: ...
# --- detection (rust/python/src/detection.rs): COCO / LVIS evaluation ---
# ``images``: a dict with det_offsets, det_scores, det_labels, gt_offsets, gt_labels,
# gt_crowd (uint8), gt_area and federated (None or (neg_offsets, neg_ids, nel_offsets,
# nel_ids)). Both return (scores, labels, levels, codes, gt_flags).
def detection_evaluate_boxes(
    images: dict[str, object],
    det_boxes: NDArray[np.floating],
    gt_boxes: NDArray[np.floating],
    box_format: str,
    iou_thrs: list[float],
    max_dets: list[int],
) -> tuple[
    NDArray[np.float64], NDArray[np.int64], NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]
]: ...
def detection_evaluate_masks(
    images: dict[str, object],
    det_cnts: NDArray[np.uint32],
    det_cnt_offsets: NDArray[np.int64],
    det_hw: NDArray[np.uint32],
    gt_cnts: NDArray[np.uint32],
    gt_cnt_offsets: NDArray[np.int64],
    gt_hw: NDArray[np.uint32],
    iou_thrs: list[float],
    max_dets: list[int],
) -> tuple[
    NDArray[np.float64], NDArray[np.int64], NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]
]: ...
def detection_accumulate(
    scores: NDArray[np.float64],
    labels: NDArray[np.int64],
    levels: NDArray[np.uint8],
    codes: NDArray[np.uint8],
    gt_labels: NDArray[np.int64],
    gt_flags: NDArray[np.uint8],
    classes: NDArray[np.int64],
    n_thrs: int,
    rec_thrs: list[float],
    n_max: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...
def rle_encode(masks: NDArray[np.uint8]) -> tuple[NDArray[np.uint32], NDArray[np.int64]]: ...
def rle_from_strings(strings: list[bytes]) -> tuple[NDArray[np.uint32], NDArray[np.int64]]: ...
def rle_to_string(cnts: NDArray[np.uint32]) -> bytes: ...
# --- metrics: native inputs (issue 12) ---
# binary_clf_curve, binary_score, per_column_score, ovo_pair_auc, rows_sum_to_one,
# check_finite, top_k_hits and binned_hist_* take their scores as float32, float64,
# float16 or uint16 (C-contiguous), read as given: a uint16 array at a score argument holds
# bfloat16 bit patterns (numpy has no bfloat16; `_checks.as_scores(..., half=True)` makes
# them from a torch bfloat16 tensor). Halves are widened exactly per element in the kernel.

def check_finite(scores: np.ndarray) -> None: ...
# --- select ---
# Selection kernels (rust/python/src/select.rs); arrays must be contiguous, labels and
# indexes int64, scores/probs/features float32 or float64. Quotas come as
# (sorted class ids, values, default for unlisted classes).
def select_random_keys(indexes: npt.NDArray[np.int64], seed: int) -> npt.NDArray[np.uint64]: ...
def select_class_counts(
    labels: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def select_topk(
    labels: npt.NDArray[np.int64],
    quota_classes: npt.NDArray[np.int64],
    quota_values: npt.NDArray[np.int64],
    quota_default: int,
    scores: NDArray[np.floating] | None = None,
    largest: bool = True,
    seed: int = 0,
    indexes: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.int64]: ...
def select_row_scan(
    probs: NDArray[np.floating], strategy: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...
def select_stratified(
    labels: npt.NDArray[np.int64],
    scores: NDArray[np.floating],
    quota_classes: npt.NDArray[np.int64],
    quota_values: npt.NDArray[np.int64],
    quota_default: int,
    n_strata: int,
    prune_fraction: float,
    prune_high: bool,
    seed: int,
) -> npt.NDArray[np.int64]: ...
def select_kcenter(
    features: NDArray[np.floating], budget: int, labeled: npt.NDArray[np.int64], seed: int
) -> npt.NDArray[np.int64]: ...
def select_coverage(
    image_ids: npt.NDArray[np.int64],
    labels: npt.NDArray[np.int64],
    quota_classes: npt.NDArray[np.int64],
    quota_values: npt.NDArray[np.int64],
    quota_default: int,
    budget: int,
) -> npt.NDArray[np.int64]: ...
# --- longtail.noise (label issues, cleanlab-identical) ---
def noise_class_sums(
    labels: NDArray[np.int64], pred_probs: NDArray[np.floating]
) -> tuple[list[int], list[float]]: ...

class PairwiseSums:
    """Streaming numpy-pairwise per-class sums over a shard's positions of each class."""

    def __init__(
        self,
        total: NDArray[np.int64],
        lo: NDArray[np.int64],
        hi: NDArray[np.int64],
        double: bool,
    ) -> None: ...
    def update(self, labels: NDArray[np.int64], pred_probs: NDArray[np.floating]) -> None: ...
    def complete(self) -> bool: ...
    def pieces(
        self,
    ) -> tuple[
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.float64],
        NDArray[np.bool_],
    ]: ...

def noise_pairwise_eval(
    total: NDArray[np.int64],
    cls: NDArray[np.int64],
    start: NDArray[np.int64],
    len: NDArray[np.int64],
    value: NDArray[np.float64],
    raw: NDArray[np.bool_],
    double: bool,
) -> list[float]: ...
def noise_confident_joint(
    labels: NDArray[np.int64],
    pred_probs: NDArray[np.floating],
    thresholds: NDArray[np.floating],
    eps: float,
    lo: float,
    hi: float,
    off_diagonal: bool,
) -> tuple[list[int], list[int]]: ...
def noise_select(
    labels: NDArray[np.int64],
    pred_probs: NDArray[np.floating],
    pair_k: NDArray[np.int64],
    pair_j: NDArray[np.int64],
    pair_cap: NDArray[np.int64],
    class_caps: NDArray[np.int64],
    offset: int,
    eps: float,
    lo: float,
    hi: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]: ...
def noise_quality(
    labels: NDArray[np.int64], pred_probs: NDArray[np.floating], method: int, lo: float, hi: float
) -> NDArray[np.floating]: ...
def noise_predicted_neq_given(
    labels: NDArray[np.int64], pred_probs: NDArray[np.floating], eps: float, lo: float, hi: float
) -> list[int]: ...
