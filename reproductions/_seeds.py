"""Shared pieces of the attribution-side reproductions (checks 1-9, 11, 17, 18 of methods.md):
the explanation functions on the digits CNN, a softmax head, tables and figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from veracity.attr import (
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Saliency,
)

Explain = Callable[[nn.Module, Tensor, Any], Tensor]
SEEDS = (0, 1)


def softmax_model(model: nn.Module) -> nn.Module:
    """``model`` followed by a softmax over classes (the explained output is a probability)."""
    return nn.Sequential(model, nn.Softmax(dim=1)).eval()


def gradient(model: nn.Module, x: Tensor, target: Any) -> Tensor:
    return Saliency(model).attribute(x, target=target, abs=False)


def smoothgrad(samples: int = 50, sigma: float = 0.15, seed: int = 0) -> Explain:
    """SmoothGrad of the signed gradient; ``sigma`` in input units (inputs lie in [0, 1])."""
    def explain(model: nn.Module, x: Tensor, target: Any) -> Tensor:
        return NoiseTunnel(Saliency(model)).attribute(x, nt_samples=samples, stdevs=sigma, target=target, abs=False,
                                                      generator=torch.Generator().manual_seed(seed))
    return explain


def integrated_gradients(steps: int = 50) -> Explain:
    def explain(model: nn.Module, x: Tensor, target: Any) -> Tensor:
        return IntegratedGradients(model).attribute(x, target=target, n_steps=steps)
    return explain


def input_x_gradient(model: nn.Module, x: Tensor, target: Any) -> Tensor:
    return InputXGradient(model).attribute(x, target=target)


def grad_cam(model: nn.Module, x: Tensor, target: Any) -> Tensor:
    """Grad-CAM at the last conv layer (``conv2``), upsampled (bilinear) to the 8x8 input."""
    layer = model[0].conv2 if isinstance(model, nn.Sequential) else model.conv2
    cam = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)
    return LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), "bilinear")


def adebayo_methods(seed: int = 0) -> dict[str, Explain]:
    """Adebayo et al.'s methods as in check 2: Gradient, SmoothGrad (sigma 0.15, 50 samples),
    Grad-CAM (conv2), IG (50 steps, zero baseline), Input x Gradient."""
    return {"Gradient": gradient, "SmoothGrad": smoothgrad(seed=seed), "GradCAM": grad_cam,
            "IG": integrated_gradients(), "InputXGradient": input_x_gradient}


def mean(values: Tensor) -> float:
    return float(values.float().nanmean())


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown-like text table; floats with 3 decimals."""
    cells = [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def figure(path: Path, draw: Callable[[Any], None], size: tuple[float, float] = (7.0, 4.0),
           dpi: int = 100) -> str | None:
    """Draw with ``draw(fig)`` and save ``path``; None when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - the plot extra
        return None
    fig = Figure(figsize=size)
    draw(fig)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=dpi)
    return path.name
