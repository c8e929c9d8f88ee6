"""Figures for attributions (matplotlib, imported only when a function is called).

``visualize_image_attr`` and ``visualize_image_attr_multiple`` keep Captum's names and
arguments; ``attribution_grid`` writes a PNG of many examples and methods at once. The core
of veracity does not need matplotlib: install it with ``pip install 'veracity[plot]'``.
"""

from veracity.viz.grid import attribution_grid
from veracity.viz.image import (
    ImageVisualizationMethod,
    VisualizeSign,
    visualize_image_attr,
    visualize_image_attr_multiple,
)

__all__ = ["ImageVisualizationMethod", "VisualizeSign", "attribution_grid", "visualize_image_attr",
           "visualize_image_attr_multiple"]
