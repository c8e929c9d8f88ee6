"""Matplotlib figures for metric curves (perturbation curves, randomisation stages).

Import explicitly: ``from veracity.metrics import plot`` (matplotlib is optional).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from veracity._core.validate import fail

__all__ = ["plot_curves", "plot_randomisation"]


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("veracity.metrics.plot needs matplotlib: pip install matplotlib") from error
    return plt.subplots(figsize=(5, 3.5))[1]


def _band(ax: Any, x: Tensor, values: Tensor, label: str) -> None:
    values = values.detach().double().cpu().reshape(-1, values.shape[-1])
    mean = values.nanmean(0)
    spread = torch.sqrt(((values - mean) ** 2).nanmean(0))
    (line,) = ax.plot(x.cpu().numpy(), mean.numpy(), label=label)
    ax.fill_between(x.cpu().numpy(), (mean - spread).numpy(), (mean + spread).numpy(),
                    color=line.get_color(), alpha=0.2, linewidth=0)


def plot_curves(curves: dict[str, Any], ax: Any = None, xlabel: str = "fraction perturbed",
                ylabel: str = "model output", title: str | None = None) -> Any:
    """Mean curve and +- one standard deviation band per method; returns the axes.

    ``curves`` maps a method to a curve result (with ``curve`` ``(batch, steps)`` and
    ``fractions``, as returned with ``return_curve=True`` or by ``table.curves(metric)``) or
    to a ``(batch, steps)`` tensor (x = 0..1).

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import torch
        >>> ax = plot_curves({"random": torch.rand(4, 10)})
        >>> len(ax.lines)
        1
    """
    if not isinstance(curves, dict) or not curves:
        fail("curves", "a non-empty dict {method: curve}", curves, TypeError)
    ax = _axes(ax)
    for name, item in curves.items():
        values = item.curve if hasattr(item, "curve") else item
        if not isinstance(values, Tensor):
            fail("curves", "curve results or tensors", item, TypeError)
        x = item.fractions if hasattr(item, "fractions") else torch.linspace(0, 1, values.shape[-1])
        _band(ax, x.reshape(-1), values, name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def plot_randomisation(results: dict[str, Any], similarity: str = "spearman_abs", ax: Any = None,
                       title: str | None = None) -> Any:
    """Similarity to the trained model's maps per randomisation stage, one line per method.

    ``results`` maps a method to a :class:`~veracity.metrics.RandomisationResult`.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> from veracity.data import DigitsCNN
        >>> from veracity.metrics import model_parameter_randomisation
        >>> r = model_parameter_randomisation(DigitsCNN().eval(), torch.rand(3, 1, 8, 8), 0, Saliency)
        >>> len(plot_randomisation({"saliency": r}).lines)
        1
    """
    if not isinstance(results, dict) or not results:
        fail("results", "a non-empty dict {method: RandomisationResult}", results, TypeError)
    ax = _axes(ax)
    for name, result in results.items():
        if similarity not in result.similarity:
            fail("similarity", f"one of {sorted(result.similarity)}", repr(similarity))
        values = result.similarity[similarity].t()
        _band(ax, torch.arange(values.shape[-1], dtype=torch.float64), values, name)
        ax.set_xticks(range(len(result.stages)), result.stages)
    ax.set_xlabel("randomised up to layer")
    ax.set_ylabel(similarity)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
