"""Plain predictions (no gradients) for reports and apps: the model's outputs in chunks."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from veracity._core.validate import check_positive_int, fail


def predict(model: Any, inputs: Tensor | tuple[Tensor, ...], batch_size: int = 256) -> Tensor:
    """The model's outputs on ``inputs`` under ``torch.no_grad``, ``batch_size`` rows per call.

    ``inputs`` is one tensor or a tuple of tensors with the same first dimension; the outputs
    of the chunks are concatenated along the first dimension and detached.

    Example:
        >>> model = torch.nn.Linear(3, 2)
        >>> predict(model, torch.ones(5, 3), batch_size=2).shape
        torch.Size([5, 2])
    """
    check_positive_int("batch_size", batch_size)
    parts = inputs if isinstance(inputs, tuple) else (inputs,)
    if not parts or not all(isinstance(p, Tensor) for p in parts):
        fail("inputs", "a tensor or a tuple of tensors", inputs, TypeError)
    n = parts[0].shape[0]
    if any(p.shape[0] != n for p in parts):
        fail("inputs", "tensors with the same first dimension", str([tuple(p.shape) for p in parts]))
    outputs = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            outputs.append(model(*(p[start:start + batch_size] for p in parts)))
    if not outputs:
        fail("inputs", "at least one example", str([tuple(p.shape) for p in parts]))
    return torch.cat(outputs).detach()
