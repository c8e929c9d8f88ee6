"""Tiny seeded models and inputs for examples, docs and quick experiments.

Each function returns ``(model, inputs)``: an eval-mode model built in code (no download) with
weights drawn from a seeded generator, and a matching batch. They keep the examples in the
docstrings short and runnable.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _seeded(seed: int) -> None:
    torch.manual_seed(seed)


def toy_mlp(batch: int = 3, features: int = 4, hidden: int = 8, classes: int = 2, activation: str = "tanh",
            seed: int = 0) -> tuple[nn.Sequential, Tensor]:
    """``Linear -> activation -> Linear`` and a ``(batch, features)`` input; ``model[1]`` is the
    hidden layer.

    Example:
        >>> model, x = toy_mlp(activation="relu")
        >>> model(x).shape, type(model[1]).__name__
        (torch.Size([3, 2]), 'ReLU')
    """
    acts = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}
    if activation not in acts:
        raise ValueError(f"`activation`: expected one of {sorted(acts)}, got {activation!r}")
    _seeded(seed)
    model = nn.Sequential(nn.Linear(features, hidden), acts[activation](), nn.Linear(hidden, classes)).eval()
    return model, torch.randn(batch, features)


def toy_cnn(batch: int = 2, size: int = 8, channels: int = 4, classes: int = 3, seed: int = 0
            ) -> tuple[nn.Sequential, Tensor]:
    """``Conv2d -> ReLU -> global average pool -> Linear`` and a ``(batch, 1, size, size)``
    input; ``model[1]`` is the rectified feature map (the usual CAM layer).

    Example:
        >>> model, x = toy_cnn()
        >>> model(x).shape, model[:2](x).shape
        (torch.Size([2, 3]), torch.Size([2, 4, 8, 8]))
    """
    _seeded(seed)
    model = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(channels, classes)).eval()
    return model, torch.randn(batch, 1, size, size)
