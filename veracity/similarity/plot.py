"""A figure of a pair: both views, each with its map (matplotlib, the ``plot`` extra)."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from veracity._core.validate import fail


def _image(view: Tensor) -> Any:
    """``(channels, height, width)`` or ``(height, width)`` as an array matplotlib shows, in [0, 1]."""
    image = view.detach().float().cpu()
    if image.dim() == 3:
        image = image[0] if image.shape[0] == 1 else image[:3].permute(1, 2, 0)
    low, high = image.min(), image.max()
    return ((image - low) / (high - low)).numpy() if high > low else torch.zeros_like(image).numpy()


def _heat(attribution: Tensor) -> Any:
    """A map summed over its channels, ``(height, width)``."""
    heat = attribution.detach().float().cpu()
    return (heat.sum(0) if heat.dim() == 3 else heat).numpy()


def plot_pair(view1: Tensor, view2: Tensor, map1: Tensor, map2: Tensor, index: int = 0,
              titles: Sequence[str] = ("view 1", "view 2"), cmap: str = "jet", alpha: float = 0.5,
              fig_size: tuple[float, float] = (6.0, 6.0)) -> Any:
    """A 2x2 figure of example ``index``: each view alone (top) and under its map (bottom).

    Views and maps are batch-first; a map of another resolution (a CAM) is stretched over
    its view. Returns a ``matplotlib.figure.Figure`` (not registered with pyplot: save it with
    ``fig.savefig``).

    Example:
        >>> import torch
        >>> from veracity.similarity import plot_pair
        >>> x = torch.rand(1, 1, 8, 8)
        >>> fig = plot_pair(x, x, torch.rand(1, 1, 8, 8), torch.rand(1, 1, 4, 4))
        >>> len(fig.axes)  # four panels and two colour bars
        6
    """
    for name, value in (("view1", view1), ("view2", view2), ("map1", map1), ("map2", map2)):
        if not isinstance(value, Tensor) or value.dim() < 3:
            fail(name, "a batch-first tensor (batch, [channels,] height, width)", value, TypeError)
        if not 0 <= index < value.shape[0]:
            fail("index", f"an example index below the batch of `{name}` ({value.shape[0]})", str(index))
    try:
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("plot_pair needs matplotlib: pip install 'veracity[plot]'") from error
    fig = Figure(figsize=fig_size)
    axes = fig.subplots(2, 2)
    for column, (view, heat, title) in enumerate(zip((view1, view2), (map1, map2), titles)):
        image = _image(view[index])
        height, width = image.shape[:2]
        extent = (-0.5, width - 0.5, height - 0.5, -0.5)
        gray = "gray" if image.ndim == 2 else None
        axes[0, column].imshow(image, cmap=gray)
        axes[0, column].set_title(title, fontsize=9)
        axes[1, column].imshow(image, cmap=gray)
        shown = axes[1, column].imshow(_heat(heat[index]), cmap=cmap, alpha=alpha, extent=extent,
                                       interpolation="bilinear")
        fig.colorbar(shown, ax=axes[1, column], fraction=0.046, pad=0.04)
        for ax in axes[:, column]:
            ax.set_xticks([])
            ax.set_yticks([])
    return fig
