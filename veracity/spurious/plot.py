"""Figures of the spurious-signal metrics (matplotlib, the ``plot`` extra; import explicitly)."""

from __future__ import annotations

from typing import Any, Mapping

from torch import Tensor

from veracity._core.validate import check_positive_int, fail
from veracity.spurious.evaluate import SpuriousScores
from veracity.spurious.measures import saliency_images

__all__ = ["plot_scores", "plot_maps"]


def _figure(size: tuple[float, float]) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - the plot extra
        raise ImportError("veracity.spurious.plot needs matplotlib: pip install 'veracity[plot]'") from error
    return Figure(figsize=size)


def plot_scores(results: Mapping[str, Mapping[str, SpuriousScores]]) -> Any:
    """Three panels (KSSD with its random-map level, CCM, FAM): one group of bars per method,
    one bar per artifact. ``results``: artifact -> method -> scores. Returns the Figure.

    Example:
        >>> import torch
        >>> scores = SpuriousScores(torch.ones(2), torch.zeros(2), torch.ones(2), torch.full((2,), 0.5),
        ...                         "roc_auc", {})
        >>> len(plot_scores({"patch": {"Gradient": scores}}).axes)
        3
    """
    if not isinstance(results, Mapping) or not results or not all(isinstance(r, Mapping) and r
                                                                   for r in results.values()):
        fail("results", "a non-empty mapping artifact -> {method: SpuriousScores}", results, TypeError)
    artifacts = list(results)
    methods = list(dict.fromkeys(m for rows in results.values() for m in rows))
    fig = _figure((4.0 * 3, 3.6))
    axes = fig.subplots(1, 3)
    width = 0.8 / len(artifacts)
    panels = [("kssd", "KSSD ↑ (dashes: random map)"), ("ccm", "CCM ↓ (with artifact)"),
              ("fam", "FAM ↑ (without artifact)")]
    for ax, (key, title) in zip(axes, panels):
        for i, artifact in enumerate(artifacts):
            rows = results[artifact]
            xs = [j + (i - (len(artifacts) - 1) / 2) * width for j, m in enumerate(methods) if m in rows]
            means = [rows[m].means() for m in methods if m in rows]
            ax.bar(xs, [v[key] for v in means], width, label=artifact)
            if key == "kssd":
                ax.hlines([v["kssd_random"] for v in means], [x - width / 2 for x in xs],
                          [x + width / 2 for x in xs], colors="black", linestyles="dashed", linewidth=1)
        ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right", fontsize=7)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_maps(inputs: Tensor, masks: Tensor, maps: Mapping[str, Tensor], n_examples: int = 3) -> Any:
    """One row per example: the input with the planted pixels outlined, then each map's
    saliency image (``maps``: name -> ``(batch, C, H, W)``). Returns the Figure.

    Example:
        >>> import torch
        >>> x = torch.rand(2, 1, 8, 8); masks = x > 0.5
        >>> len(plot_maps(x, masks, {"Gradient": x}, n_examples=2).axes)
        4
    """
    check_positive_int("n_examples", n_examples)
    if not isinstance(inputs, Tensor) or inputs.dim() != 4:
        fail("inputs", "a tensor shaped (batch, C, H, W)", inputs, TypeError)
    if not isinstance(masks, Tensor) or masks.shape[0] != inputs.shape[0] or masks.shape[-2:] != inputs.shape[-2:]:
        fail("masks", f"masks (batch, 1, H, W) for the inputs {tuple(inputs.shape)}", masks)
    rows = min(n_examples, inputs.shape[0])
    images = {name: saliency_images(m, f"maps[{name!r}]")[:rows, 0].cpu().numpy() for name, m in maps.items()}
    fig = _figure((1.6 * (1 + len(images)), 1.6 * rows))
    axes = fig.subplots(rows, 1 + len(images), squeeze=False)
    for r in range(rows):
        axes[r][0].imshow(inputs[r].detach().mean(0).cpu().numpy(), cmap="gray")
        axes[r][0].contour(masks[r].reshape(masks.shape[-2:]).float().cpu().numpy(), levels=[0.5], colors="red",
                           linewidths=1)
        for c, (name, image) in enumerate(images.items(), start=1):
            axes[r][c].imshow(image[r], cmap="hot", vmin=0, vmax=1)
            if r == 0:
                axes[r][c].set_title(name, fontsize=7)
        if r == 0:
            axes[r][0].set_title("input (artifact)", fontsize=7)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig
