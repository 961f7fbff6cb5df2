"""scikit-learn compatible metrics, long-tail metrics and streaming accumulators."""

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

__all__ = list(globals().get("__all__", [])) + [
    "shot_accuracy",
    "expected_calibration_error",
    "frechet_distance",
    "mean_iou",
    "separated_kappa",
    "streaming",
]
