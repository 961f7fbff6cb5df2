"""scikit-learn compatible metrics, long-tail metrics and streaming accumulators."""
