"""Baseline ensembles of attribution maps (Borisov et al. 2021): preprocessing, mean, rank-mean,
mean over standard deviation."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from veracity._core.validate import fail
from veracity.metrics.similarity import rank

Maps = Tensor | Sequence[Tensor]


def stack_maps(maps: Maps) -> Tensor:
    """``m`` maps of shape ``(N, ...)`` (a sequence, or a tensor ``(m, N, ...)``) as one tensor.

    Example:
        >>> import torch
        >>> stack_maps([torch.zeros(2, 3), torch.ones(2, 3)]).shape
        torch.Size([2, 2, 3])
    """
    if isinstance(maps, Tensor):
        stacked = maps
    else:
        maps = list(maps)
        if not maps or not all(isinstance(a, Tensor) for a in maps):
            fail("maps", "a non-empty sequence of tensors or a tensor (m, N, ...)", maps, TypeError)
        shapes = {tuple(a.shape) for a in maps}
        if len(shapes) != 1:
            fail("maps", "maps of one shape", f"shapes {sorted(shapes)}")
        stacked = torch.stack([a.detach() for a in maps])
    if stacked.dim() < 2:
        fail("maps", "a tensor (m, N, ...) with a map per method and example", f"shape {tuple(stacked.shape)}")
    return stacked.detach()


def normalise_maps(maps: Maps, clamp: bool = True) -> Tensor:
    """The preprocessing of the reference code: negatives set to 0 (``clamp``), then each map of
    each example min-max scaled to [0, 1] (constant maps become 0). Returns ``(m, N, ...)``.

    Example:
        >>> import torch
        >>> normalise_maps(torch.tensor([[[-1.0, 1.0, 3.0]]])).tolist()
        [[[0.0, 0.3333333432674408, 1.0]]]
    """
    stacked = stack_maps(maps)
    values = stacked.clamp(min=0) if clamp else stacked
    flat = values.reshape(*values.shape[:2], -1)
    low, high = flat.min(-1, keepdim=True).values, flat.max(-1, keepdim=True).values
    span = high - low
    scaled = torch.where(span > 0, (flat - low) / span.clamp(min=torch.finfo(flat.dtype).tiny), torch.zeros_like(flat))
    return scaled.reshape(stacked.shape)


def mean_ensemble(maps: Maps, normalise: bool = True) -> Tensor:
    """The mean of the (normalised, :func:`normalise_maps`) maps: ``(N, ...)``.

    Example:
        >>> import torch
        >>> mean_ensemble([torch.tensor([[0.0, 2.0]]), torch.tensor([[0.0, 1.0]])]).tolist()
        [[0.0, 1.0]]
    """
    stacked = normalise_maps(maps) if normalise else stack_maps(maps)
    return stacked.mean(0)


def rank_mean_ensemble(maps: Maps) -> Tensor:
    """The mean over methods of each map's ranks within its example (ties share their average
    rank), scaled to [0, 1]: ``(N, ...)``. Insensitive to each method's scale.

    Example:
        >>> import torch
        >>> rank_mean_ensemble([torch.tensor([[1.0, 5.0, 3.0]]), torch.tensor([[10.0, 30.0, 20.0]])]).tolist()
        [[0.0, 1.0, 0.5]]
    """
    stacked = stack_maps(maps)
    m, n = stacked.shape[:2]
    flat = stacked.reshape(m * n, -1).to(torch.float64)
    ranks01 = (rank(flat) - 1) / max(flat.shape[1] - 1, 1)  # average ranks (ties share), scaled to [0, 1]
    ranks = ranks01.reshape(stacked.shape).to(stacked.dtype if stacked.is_floating_point() else torch.float32)
    return ranks.mean(0)


def variance_ensemble(maps: Maps, normalise: bool = True) -> Tensor:
    """The reference code's "variance" ensemble ``mean / (std + eps)`` with ``eps = 10 * mean(A)``
    over all maps of an example: high where the methods agree on a high value.

    Example:
        >>> import torch
        >>> maps = [torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 1.0]])]
        >>> [round(v, 3) for v in variance_ensemble(maps)[0].tolist()]
        [0.0, 0.2]
    """
    stacked = normalise_maps(maps) if normalise else stack_maps(maps)
    mean, std = stacked.mean(0), stacked.std(0, unbiased=False)
    eps = 10 * stacked.transpose(0, 1).reshape(stacked.shape[1], -1).mean(1)
    return mean / (std + eps.view(-1, *([1] * (mean.dim() - 1))))
