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
from veracity.viz.masks import draw_mask_border, draw_mask_legend
from veracity.viz.text import VisualizationDataRecord, format_word_importances, visualize_text
from veracity.viz.timeseries import TimeseriesVisualizationMethod, visualize_timeseries_attr

__all__ = ["ImageVisualizationMethod", "TimeseriesVisualizationMethod", "VisualizationDataRecord", "VisualizeSign",
           "attribution_grid", "draw_mask_border", "draw_mask_legend", "format_word_importances",
           "visualize_image_attr", "visualize_image_attr_multiple", "visualize_text", "visualize_timeseries_attr"]
