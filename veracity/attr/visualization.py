"""Captum's ``captum.attr.visualization`` under the same name: ``from veracity.attr import
visualization as viz`` and then ``viz.visualize_image_attr(...)`` as before.

The figures come from :mod:`veracity.viz` (matplotlib, imported only when a function draws;
``pip install 'veracity[plot]'``). Differences from Captum 0.9: :func:`visualize_text` and
:func:`format_word_importances` HTML-escape every token and label (Captum's do not,
captum#1226); :func:`visualize_text` needs no IPython (it returns an object with the markup
in ``data``, and displays it when IPython is there); :func:`visualize_timeseries_attr` works
with matplotlib >= 3.9 (Captum's calls the removed ``matplotlib.cm.get_cmap``);
:func:`draw_mask_border` needs no scipy.

Example:
    >>> import torch
    >>> from veracity.attr import visualization as viz
    >>> fig, ax = viz.visualize_image_attr(torch.randn(1, 8, 8), method="heat_map", sign="all",
    ...                                    use_pyplot=False)
    >>> len(ax.images)
    1
"""

from veracity.viz.image import (
    ImageVisualizationMethod,
    VisualizeSign,
    visualize_image_attr,
    visualize_image_attr_multiple,
)
from veracity.viz.masks import draw_mask_border, draw_mask_legend
from veracity.viz.text import (
    HTML,
    VisualizationDataRecord,
    format_classname,
    format_special_tokens,
    format_tooltip,
    format_word_importances,
    visualize_text,
)
from veracity.viz.timeseries import TimeseriesVisualizationMethod, visualize_timeseries_attr

__all__ = ["HTML", "ImageVisualizationMethod", "TimeseriesVisualizationMethod", "VisualizationDataRecord",
           "VisualizeSign", "draw_mask_border", "draw_mask_legend", "format_classname", "format_special_tokens",
           "format_tooltip", "format_word_importances", "visualize_image_attr", "visualize_image_attr_multiple",
           "visualize_text", "visualize_timeseries_attr"]
