"""Shared piece of the gradient family: weighted accumulation of stacked gradients."""

from __future__ import annotations

import torch
from torch import Tensor


def accumulate_weighted(totals: list[Tensor], weights: Tensor, grads: tuple[Tensor, ...]) -> None:
    """``totals[i] += sum_k weights[k] * grads[i][k]`` for gradients stacked point-major."""
    k = weights.shape[0]
    for total, grad in zip(totals, grads):
        stacked = grad.reshape(k, -1).to(total.dtype)
        total += torch.mv(stacked.t(), weights.to(total.dtype)).view_as(total)
