"""Drop-in ``DataLoader`` samplers for long-tailed data (see DESIGN.md)."""
