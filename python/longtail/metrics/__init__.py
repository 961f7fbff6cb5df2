"""scikit-learn compatible metrics, long-tail metrics and streaming accumulators.

The functional metrics take scikit-learn's arguments and return its results (to 1e-12),
raising ``ValueError`` where it does; their O(n) and O(n log n) work runs in Rust with
the GIL released. Inputs may be lists, numpy arrays or torch tensors (CPU or CUDA).
"""

from longtail.metrics._classification import (
    balanced_accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    geometric_mean_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    top_k_accuracy_score,
)
from longtail.metrics._ranking import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

__all__ = [
    "roc_auc_score",
    "roc_curve",
    "average_precision_score",
    "precision_recall_curve",
    "confusion_matrix",
    "balanced_accuracy_score",
    "precision_recall_fscore_support",
    "f1_score",
    "precision_score",
    "recall_score",
    "cohen_kappa_score",
    "matthews_corrcoef",
    "top_k_accuracy_score",
    "geometric_mean_score",
]

# --- long-tail metrics and streaming accumulators (metrics/longtail_metrics.py,
# metrics/streaming.py); kept as one block at the end of this file ---
from longtail.metrics import streaming  # noqa: E402
from longtail.metrics.longtail_metrics import (  # noqa: E402
    expected_calibration_error,
    frechet_distance,
    mean_iou,
    separated_kappa,
    shot_accuracy,
)

__all__ += [
    "shot_accuracy",
    "expected_calibration_error",
    "frechet_distance",
    "mean_iou",
    "separated_kappa",
    "streaming",
]

# --- issue 16: scoring rules, selective risk, intervals and paired comparisons,
# neural collapse, cluster accuracy (metrics/_scoring.py, selective.py, intervals.py,
# collapse.py, clustering.py); kept as one block at the end of this file ---
from longtail.metrics._scoring import accuracy_score, brier_score_loss, log_loss  # noqa: E402
from longtail.metrics.clustering import cluster_accuracy  # noqa: E402
from longtail.metrics.collapse import neural_collapse  # noqa: E402
from longtail.metrics.intervals import (  # noqa: E402
    bootstrap_interval,
    class_intervals,
    compare_predictions,
    group_report,
)
from longtail.metrics.selective import aurc, risk_coverage_curve  # noqa: E402

__all__ += [
    "accuracy_score",
    "log_loss",
    "brier_score_loss",
    "risk_coverage_curve",
    "aurc",
    "class_intervals",
    "bootstrap_interval",
    "compare_predictions",
    "group_report",
    "neural_collapse",
    "cluster_accuracy",
]
# --- COCO / LVIS detection mAP (metrics/detection.py) ---
from longtail.metrics.detection import (  # noqa: E402
    MeanAveragePrecision,
    mean_average_precision,
)

__all__ += ["MeanAveragePrecision", "mean_average_precision"]
