"""Interactive explorers: one function per chapter returns a ready-to-display widget.

Each explorer is tested code: its `update(**values)` recomputes with rooflib and redraws one
matplotlib Figure into an image widget, so a slider move costs one vectorised rooflib call and one
PNG render (measured by `make bench`). Figures are `matplotlib.figure.Figure` objects, never
pyplot's, so nothing is displayed twice in a notebook.
"""
from .base import Explorer
from .batching import batching_explorer

__all__ = ["Explorer", "batching_explorer"]
