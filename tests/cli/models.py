"""Models the CLI tests load as ``tests.cli.models:FUNCTION``."""

from __future__ import annotations

import torch
from torch import nn


def linear() -> nn.Module:
    """f(x) = W flatten(x) + b on 1x4x4 images, 3 classes; seeded, so every process builds the same."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3))


def not_a_model() -> str:
    return "a string"
