"""The report's figures as PNG bytes: the maps beside the inputs, and the randomisation curves."""

from __future__ import annotations

import io
from typing import Any, Sequence

from torch import Tensor

from veracity.metrics.randomisation import RandomisationResult
from veracity.report.checks import Check

SIMILARITY_LABELS = {"spearman_abs": "Spearman correlation, |maps|", "spearman": "Spearman correlation, signed maps"}


def _png(fig: Any, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def maps_figure(images: Tensor, attributions: dict[str, Tensor], titles: Sequence[str]) -> bytes:
    """The attribution grid (rows: examples; columns: input, then each method) as PNG bytes.

    Example:
        >>> import torch
        >>> maps_figure(torch.rand(2, 1, 8, 8), {"m": torch.randn(2, 1, 8, 8)}, ["a", "b"])[:4]
        b'\\x89PNG'
    """
    from veracity.viz import attribution_grid

    buffer = io.BytesIO()
    attribution_grid(images.detach().cpu(), {k: v.detach().cpu() for k, v in attributions.items()},
                     buffer, list(titles), cell_size=1.5, dpi=100)
    return buffer.getvalue()


def randomisation_figure(results: dict[str, RandomisationResult], thresholds: dict[str, float]) -> bytes:
    """Similarity to the trained model's maps per randomised layer (one panel per similarity).

    Lines: mean over examples with a +- one standard deviation band; x ticks name the layer
    re-initialised at each stage (cumulatively from the output); dashed: the check's threshold.

    Example:
        >>> import torch
        >>> r = RandomisationResult(["fc", "conv"], {"spearman": torch.rand(2, 3)}, torch.zeros(3))
        >>> randomisation_figure({"m": r}, {"spearman": 0.5})[:4]
        b'\\x89PNG'
    """
    from matplotlib.figure import Figure

    from veracity.metrics.plot import plot_randomisation

    keys = list(next(iter(results.values())).similarity)
    fig = Figure(figsize=(4.6 * len(keys), 3.6), layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        plot_randomisation(results, key, ax=ax, title=SIMILARITY_LABELS.get(key, key))
        for line, style in zip(ax.get_lines(), ["-", "--", ":", "-."] * 4):
            line.set_linestyle(style)
        if key in thresholds:
            ax.axhline(thresholds[key], color="black", linewidth=0.8, linestyle=(0, (4, 3)),
                       label=f"threshold {thresholds[key]:g}")
        ax.axhline(0.0, color="grey", linewidth=0.5)
        ax.set_ylabel(f"{SIMILARITY_LABELS.get(key, key)}\n(1 = unchanged)", fontsize=8)
        ax.set_xlabel("layers re-initialised, from the output down to", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    return _png(fig)


def report_figures(images: Tensor, attributions: dict[str, Tensor], examples: list[dict[str, Any]],
                   randomisation: dict[str, RandomisationResult], checks: Sequence[Check]) -> list[Any]:
    """The report's :class:`~veracity.report.build.Figure` list (maps; randomisation if run)."""
    from veracity.report.build import Figure

    titles = [f"#{e['index']}: target {e['target_name']}\npredicted {e['predicted_name']}" for e in examples]
    methods = ", ".join(attributions)
    figures = [Figure(
        "attributions", maps_figure(images, attributions, titles),
        f"Attribution maps of {len(examples)} examples (rows) by {methods} (columns), beside the input. "
        "Each map explains the row's target class. Every panel is scaled on its own (its colorbar "
        "reads value / scale); signed maps use a diverging colormap centred at 0 (red negative, "
        "green positive), unsigned maps a sequential one.",
        "Grid of input images and their attribution maps per method")]
    if randomisation:
        thresholds = {c.metric.removeprefix("mprt_"): c.threshold for c in checks if c.metric.startswith("mprt_")}
        n = len(next(iter(randomisation.values())).original)
        figures.append(Figure(
            "randomisation", randomisation_figure(randomisation, thresholds),
            "Cascading model parameter randomisation (Adebayo et al. 2018): the layers are "
            "re-initialised one after the other, from the output down to the input (x axis: the "
            "last layer re-initialised); y: rank correlation of each method's maps with the trained "
            f"model's, mean +- sd over {n} examples. A method that explains the model should fall "
            "towards 0; the dashed line is the check's threshold.",
            "Line plot of map similarity per randomised layer, one line per method"))
    return figures
