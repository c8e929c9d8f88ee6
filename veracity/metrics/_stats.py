"""Row-wise statistics for metrics: Pearson, Spearman (average ranks), trapezoid AUC."""

from __future__ import annotations

import torch
from torch import Tensor


def pearson_rows(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation along the last dimension; NaN where either row is constant."""
    a = a.double() - a.double().mean(-1, keepdim=True)
    b = b.double() - b.double().mean(-1, keepdim=True)
    denominator = (a.pow(2).sum(-1) * b.pow(2).sum(-1)).sqrt()
    value = (a * b).sum(-1) / denominator
    return torch.where(denominator > 0, value, torch.full_like(value, float("nan"))).float()


def average_ranks(values: Tensor) -> Tensor:
    """1-based ranks along the last dimension; tied values share their average rank."""
    ordered = values.sort(dim=-1).values.contiguous()
    values = values.contiguous()
    below = torch.searchsorted(ordered, values, side="left")
    through = torch.searchsorted(ordered, values, side="right")
    return (below + through + 1).double() / 2


def spearman_rows(a: Tensor, b: Tensor) -> Tensor:
    """Spearman rank correlation along the last dimension (NaN where a row is constant)."""
    return pearson_rows(average_ranks(a), average_ranks(b))


def trapezoid_auc(curve: Tensor, fractions: Tensor) -> Tensor:
    """Area under each row of ``curve`` (``(batch, steps)``) over x = ``fractions``."""
    return torch.trapezoid(curve, fractions.to(curve.device, curve.dtype), dim=-1)
