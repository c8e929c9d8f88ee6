"""Row-wise statistics for metrics: Pearson, Spearman (average ranks), trapezoid AUC.

The one implementation of each kernel; :mod:`veracity.metrics.similarity` wraps them in the
public, validated API (``pearson``, ``rank``, ``spearman``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def correlation(x: Tensor, y: Tensor) -> Tensor:
    """Pearson correlation along the last dimension, in the inputs' dtype.

    NaN where either row is constant (no defined correlation); clamped to [-1, 1] against
    rounding.
    """
    x = x - x.mean(-1, keepdim=True)
    y = y - y.mean(-1, keepdim=True)
    denominator = x.norm(dim=-1) * y.norm(dim=-1)
    values = (x * y).sum(-1) / denominator
    return torch.where(denominator > 0, values, torch.full_like(values, math.nan)).clamp(-1, 1)


def pearson_rows(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation along the last dimension, computed in float64, returned as float32;
    NaN where either row is constant."""
    return correlation(a.double(), b.double()).float()


def average_ranks(values: Tensor) -> Tensor:
    """1-based float64 ranks along the last dimension; tied values share their average rank.

    The convention of ``scipy.stats.rankdata(method="average")``. One sort, then O(n): a run
    of ties spans sorted positions ``first..last`` and each member gets ``(first + last) / 2 + 1``.
    """
    shape = values.shape
    n = shape[-1]
    rows = values.reshape(math.prod(shape[:-1]), n)
    sorted_values, order = rows.sort(dim=1)
    positions = torch.arange(n, device=values.device).expand_as(rows)
    starts = torch.ones_like(sorted_values, dtype=torch.bool)  # first element of a run of ties
    starts[:, 1:] = sorted_values[:, 1:] != sorted_values[:, :-1]
    if bool(starts.all()):  # no ties: the ranks are the inverse permutation
        sorted_ranks = (positions + 1).to(torch.float64)
    else:
        ends = torch.ones_like(starts)  # last element of a run of ties
        ends[:, :-1] = starts[:, 1:]
        first = torch.where(starts, positions, 0).cummax(1).values
        last = torch.where(ends, positions, n).flip(1).cummin(1).values.flip(1)
        sorted_ranks = (first + last).to(torch.float64) / 2 + 1
    return torch.empty_like(sorted_ranks).scatter_(1, order, sorted_ranks).reshape(shape)


def spearman_rows(a: Tensor, b: Tensor) -> Tensor:
    """Spearman rank correlation along the last dimension, as float32 (NaN where a row is
    constant)."""
    return pearson_rows(average_ranks(a), average_ranks(b))


def trapezoid_auc(curve: Tensor, fractions: Tensor) -> Tensor:
    """Area under each row of ``curve`` (``(batch, steps)``) over x = ``fractions``."""
    return torch.trapezoid(curve, fractions.to(curve.device, curve.dtype), dim=-1)
