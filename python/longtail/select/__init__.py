"""Class-aware data selection (see DESIGN.md, "longtail.select")."""

from longtail.select.dynamics import ClassAdaptiveThreshold, TrainingDynamics

__all__ = ["ClassAdaptiveThreshold", "TrainingDynamics"]
