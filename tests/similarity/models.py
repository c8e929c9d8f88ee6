"""Seeded encoders for the similarity tests: linear (closed forms) and a small CNN with biases."""

from __future__ import annotations

import torch
from torch import nn


def linear_encoder(features: int = 30, width: int = 5, seed: int = 0) -> nn.Sequential:
    """``x -> W x.flatten()`` in float64, no bias: similarities have closed forms."""
    torch.manual_seed(seed)
    layer = nn.Linear(features, width, bias=False).double()
    return nn.Sequential(nn.Flatten(), layer).eval()


def conv_encoder(seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """conv3x3(1->4) -> ReLU -> maxpool2 -> flatten -> linear(64->6) on 8x8 inputs; biases
    everywhere, so an all-zero input still has a non-zero embedding. ``model[1]``: the CAM layer."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(64, 6))
    for parameter in model.parameters():
        nn.init.normal_(parameter, std=0.5)
    return model.to(dtype).eval()


def digit_like(batch: int = 2, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """8x8 images that are zero outside a central 4x4 block (strokes on a black background)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.zeros(batch, 1, 8, 8, dtype=dtype)
    x[:, :, 2:6, 2:6] = torch.rand(batch, 1, 4, 4, generator=generator, dtype=dtype) + 0.1
    return x
