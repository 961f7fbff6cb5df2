"""k-means, balanced k-means and batched per-class subclass clustering."""
