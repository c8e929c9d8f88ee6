"""A small app shared by the Insights tests: a linear model on 1x4x4 images (closed forms)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

pytest.importorskip("starlette")

from veracity.insights import AttributionVisualizer, Batch, ImageFeature  # noqa: E402

EVIL_CLASS = '<img src=x onerror="window.__pwned=1">two&amp;'
CLASSES = ["zero", "one", EVIL_CLASS]


def linear_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()


def dataset() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(12, 1, 4, 4, generator=g), torch.arange(12) % 3


def visualizer(**kwargs: Any) -> AttributionVisualizer:
    x, y = dataset()
    return AttributionVisualizer([linear_model()], CLASSES, [ImageFeature("image")],
                                 [Batch(x[:6], y[:6]), Batch(x[6:], y[6:])], score_func=lambda o: o.softmax(1),
                                 **kwargs)
