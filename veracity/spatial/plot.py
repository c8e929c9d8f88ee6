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


def plot_mean_feature_maps(maps: dict[str, Tensor], title: str = "") -> Any:
    """One heatmap per layer of :func:`~veracity.spatial.mean_feature_maps`; returns the figure.

    Example:
        >>> import torch, matplotlib
        >>> matplotlib.use("Agg")
        >>> len(plot_mean_feature_maps({"conv1": torch.rand(4, 4), "conv2": torch.rand(2, 2)}).axes)
        4
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(maps), figsize=(2.6 * len(maps), 2.6), squeeze=False)
    for ax, (name, value) in zip(axes[0], maps.items()):
        image = ax.imshow(value.detach().cpu().numpy(), cmap="viridis")
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_filters(layers: dict[str, nn.Conv2d], title: str = "") -> Any:
    """The mean filter (weights averaged over output and input channels) of each conv layer.

    Example:
        >>> import torch, matplotlib
        >>> matplotlib.use("Agg")
        >>> len(plot_filters({"c": torch.nn.Conv2d(1, 2, 3)}).axes)
        2
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(layers), figsize=(2.4 * len(layers), 2.4), squeeze=False)
    for ax, (name, layer) in zip(axes[0], layers.items()):
        mean = layer.weight.detach().double().mean((0, 1)).cpu().numpy()
        bound = abs(mean).max() or 1.0
        image = ax.imshow(mean, cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.set_title(f"{name} mean filter", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


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
