"""matplotlib plots: per-class recall against training frequency, reliability diagram."""
