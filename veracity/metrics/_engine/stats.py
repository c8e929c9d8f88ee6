"""Row-wise statistics for metrics: Pearson, Spearman (average ranks), trapezoid AUC.

The one implementation of each kernel; :mod:`veracity.metrics.similarity` wraps them in the
public, validated API (``pearson``, ``rank``, ``spearman``).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
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


_NUMPY_SORTABLE = (torch.float32, torch.float64, torch.int32, torch.int64)


def _sort_rows(rows: Tensor) -> tuple[Tensor, Tensor]:
    """Each row sorted, and the order. On the CPU numpy's vectorised argsort (2-3x faster than
    ``torch.sort`` for rows of thousands of values), split over torch's thread count (numpy
    sorts single-threaded and releases the GIL); elsewhere ``torch.sort``."""
    if rows.device.type == "cpu" and rows.dtype in _NUMPY_SORTABLE and not rows.requires_grad:
        values = rows.numpy()
        order = np.empty(values.shape, dtype=np.int64)
        workers = max(1, min(torch.get_num_threads(), values.shape[0] * values.shape[1] // 65536,
                             values.shape[0]))
        bounds = np.linspace(0, values.shape[0], workers + 1).astype(int)

        def sort_part(i: int) -> None:
            order[bounds[i]:bounds[i + 1]] = np.argsort(values[bounds[i]:bounds[i + 1]], axis=1)

        if workers == 1:
            sort_part(0)
        else:
            list(_sort_pool(workers).map(sort_part, range(workers)))
        order_t = torch.from_numpy(order)
        return rows.gather(1, order_t), order_t
    return rows.sort(dim=1)


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _sort_pool(workers: int) -> ThreadPoolExecutor:
    """One long-lived pool per worker count (creating threads per call would cost more than it saves)."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="veracity-sort")
    return _POOLS[workers]


def average_ranks(values: Tensor) -> Tensor:
    """1-based float64 ranks along the last dimension; tied values share their average rank.

    The convention of ``scipy.stats.rankdata(method="average")``. One sort, then O(n): every
    run of equal values gets an id (runs never cross rows), ``bincount`` gives the run lengths,
    and each member of a run ending at 1-based position ``e`` with length ``c`` gets
    ``e - (c - 1) / 2``, the mean of its positions.
    """
    shape = values.shape
    n = shape[-1]
    rows = values.reshape(math.prod(shape[:-1]), n)
    sorted_values, order = _sort_rows(rows)
    starts = torch.ones_like(sorted_values, dtype=torch.bool)  # first element of a run of ties
    starts[:, 1:] = sorted_values[:, 1:] != sorted_values[:, :-1]
    row_offsets = torch.arange(rows.shape[0], device=values.device, dtype=torch.float64)[:, None] * n
    if bool(starts.all()):  # no ties: the ranks are the inverse permutation
        sorted_ranks = torch.arange(1, n + 1, device=values.device, dtype=torch.float64).expand_as(rows)
    else:
        run = starts.reshape(-1).cumsum(0, dtype=torch.int64) - 1
        lengths = torch.bincount(run).double()
        mean_position = lengths.cumsum(0) - (lengths - 1) / 2  # 1-based, over the flattened rows
        sorted_ranks = mean_position[run].reshape(rows.shape) - row_offsets
    return torch.empty_like(sorted_ranks).scatter_(1, order, sorted_ranks).reshape(shape)


def spearman_rows(a: Tensor, b: Tensor) -> Tensor:
    """Spearman rank correlation along the last dimension, as float32 (NaN where a row is
    constant)."""
    return pearson_rows(average_ranks(a), average_ranks(b))


def trapezoid_auc(curve: Tensor, fractions: Tensor) -> Tensor:
    """Area under each row of ``curve`` (``(batch, steps)``) over x = ``fractions``."""
    return torch.trapezoid(curve, fractions.to(curve.device, curve.dtype), dim=-1)
