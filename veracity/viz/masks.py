"""Outlines and labels of image segments on a matplotlib axis (Captum 0.9's
``draw_mask_border`` / ``draw_mask_legend``), numpy only: no scipy needed."""

from __future__ import annotations

from typing import Any

import numpy as np

from veracity._core.validate import fail

__all__ = ["draw_mask_border", "draw_mask_legend"]


def _mask(mask: Any) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim != 2:
        fail("mask", "a 2-d boolean array (H, W)", f"an array of shape {array.shape}")
    return array.astype(bool)


def _eroded(mask: np.ndarray, steps: int) -> np.ndarray:
    """Binary erosion with the 4-neighbourhood cross, outside the image counting as empty."""
    inside = mask.copy()
    for _ in range(steps):
        padded = np.pad(inside, 1, constant_values=False)
        inside = (padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1]
                  & padded[1:-1, :-2] & padded[1:-1, 2:])
    return inside


def draw_mask_border(ax: Any, mask: Any, border_width: int = 1, border_color: Any = "black") -> None:
    """Draw the ``border_width``-pixel inner border of ``mask`` on ``ax`` in ``border_color``.

    Example:
        >>> import numpy as np
        >>> from matplotlib.figure import Figure
        >>> ax = Figure().add_subplot()
        >>> mask = np.zeros((6, 6), bool); mask[1:5, 1:5] = True
        >>> draw_mask_border(ax, mask)
        >>> int((ax.images[0].get_array()[..., 3] > 0).sum())  # the 12 pixels of a 4 x 4 ring
        12
    """
    from matplotlib.colors import to_rgba

    region = _mask(mask)
    if isinstance(border_width, bool) or not isinstance(border_width, int) or border_width < 1:
        fail("border_width", "an integer >= 1", border_width, TypeError)
    border = region & ~_eroded(region, border_width)
    overlay = np.zeros((*region.shape, 4))
    overlay[border] = to_rgba(border_color)
    ax.imshow(overlay, interpolation="nearest")


def draw_mask_legend(ax: Any, mask: Any, label: str, fontsize: int = 10, text_color: str = "white",
                     bbox_facecolor: str = "black", bbox_alpha: float = 0.6) -> None:
    """Write ``label`` at the centre of mass of ``mask`` on ``ax``, on a translucent box.

    Example:
        >>> import numpy as np
        >>> from matplotlib.figure import Figure
        >>> ax = Figure().add_subplot()
        >>> mask = np.zeros((6, 6), bool); mask[0:2, 2:6] = True
        >>> draw_mask_legend(ax, mask, "sky")
        >>> ax.texts[0].get_text(), tuple(float(v) for v in ax.texts[0].get_position())
        ('sky', (3.5, 0.5))
    """
    region = _mask(mask)
    rows, cols = np.nonzero(region)
    if rows.size == 0:
        fail("mask", "a mask with at least one pixel set", "an empty mask")
    ax.text(cols.mean(), rows.mean(), label, color=text_color, fontsize=fontsize, ha="center", va="center",
            bbox={"facecolor": bbox_facecolor, "alpha": bbox_alpha, "edgecolor": "none"})
