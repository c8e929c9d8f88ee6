"""Figures for spatial bias: mean feature maps per layer, mean filters, a foveation map."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'veracity[plot]'") from error
    return plt


def _heatmap_row(panels: list[tuple[str, Any, dict[str, Any]]], size: float, title: str) -> Any:
    """One row of ``size``-inch heatmaps with a colorbar each: ``(caption, array, imshow kwargs)``."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size), squeeze=False)
    for ax, (caption, values, style) in zip(axes[0], panels):
        image = ax.imshow(values, **style)
        ax.set_title(caption, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_mean_feature_maps(maps: dict[str, Tensor], title: str = "") -> Any:
    """One heatmap per layer of :func:`~veracity.spatial.mean_feature_maps`; returns the figure.

    Example:
        >>> import torch, matplotlib
        >>> matplotlib.use("Agg")
        >>> len(plot_mean_feature_maps({"conv1": torch.rand(4, 4), "conv2": torch.rand(2, 2)}).axes)
        4
    """
    panels = [(name, value.detach().cpu().numpy(), {"cmap": "viridis"}) for name, value in maps.items()]
    return _heatmap_row(panels, 2.6, title)


def plot_filters(layers: dict[str, nn.Conv2d], title: str = "") -> Any:
    """The mean filter (weights averaged over output and input channels) of each conv layer.

    Example:
        >>> import torch, matplotlib
        >>> matplotlib.use("Agg")
        >>> len(plot_filters({"c": torch.nn.Conv2d(1, 2, 3)}).axes)
        2
    """
    panels = []
    for name, layer in layers.items():
        mean = layer.weight.detach().double().mean((0, 1)).cpu().numpy()
        bound = abs(mean).max() or 1.0
        panels.append((f"{name} mean filter", mean, {"cmap": "RdBu_r", "vmin": -bound, "vmax": bound}))
    return _heatmap_row(panels, 2.4, title)


def plot_foveation(values: Tensor, title: str = "foveation map") -> Any:
    """A :func:`~veracity.spatial.foveation_map` as a heatmap (position of the stimulus).

    Example:
        >>> import torch, matplotlib
        >>> matplotlib.use("Agg")
        >>> len(plot_foveation(torch.rand(5, 5)).axes)
        2
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(3, 3))
    image = ax.imshow(values.detach().cpu().numpy(), cmap="magma")
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("stimulus column")
    ax.set_ylabel("stimulus row")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig
