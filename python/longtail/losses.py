"""Losses and post-hoc corrections for long-tailed training."""
