"""Complexity of an explanation: how concentrated is the relevance? No model needed.

Each metric takes attributions ``(batch, ...)`` and returns one value per example, computed
on ``|a|`` over all non-batch dimensions. Explanations that are all zero have no
distribution of relevance: :func:`sparseness` and :func:`complexity_entropy` return NaN for them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from veracity._core.validate import fail

__all__ = ["sparseness", "complexity_entropy", "effective_complexity"]


def _magnitudes(attributions: Tensor) -> Tensor:
    if not isinstance(attributions, Tensor) or attributions.dim() < 2:
        fail("attributions", "a tensor shaped (batch, ...)", attributions, TypeError)
    if not bool(torch.isfinite(attributions).all()):
        fail("attributions", "finite values only", "a tensor containing NaN or inf")
    return attributions.detach().reshape(attributions.shape[0], -1).abs().double()


def _nan_where_empty(values: Tensor, totals: Tensor) -> Tensor:
    return torch.where(totals > 0, values, torch.full_like(values, float("nan"))).float()


def sparseness(attributions: Tensor) -> Tensor:
    """Sparseness (Chalasani et al. 2020): the Gini index of ``|a|``; higher is better.

    ``G = sum_i (2i - n - 1) a_(i) / (n sum a)`` with ``a_(i)`` sorted ascending: 0 for a
    uniform map, ``1 - 1/n`` when all relevance sits on one feature.

    Example:
        >>> import torch
        >>> from veracity.metrics import sparseness
        >>> sparseness(torch.tensor([[0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]))
        tensor([0.7500, 0.0000])
    """
    values = _magnitudes(attributions).sort(dim=1).values
    n = values.shape[1]
    index = torch.arange(1, n + 1, dtype=values.dtype, device=values.device)
    totals = values.sum(1)
    gini = ((2 * index - n - 1) * values).sum(1) / (n * totals.clamp(min=1e-300))
    return _nan_where_empty(gini, totals)


def complexity_entropy(attributions: Tensor) -> Tensor:
    """Complexity (Bhatt et al. 2020): entropy of ``|a_i| / sum |a|``; lower is better.

    ``log(n)`` for a uniform map, 0 for a single relevant feature (natural logarithm).

    Example:
        >>> import torch
        >>> from veracity.metrics import complexity_entropy
        >>> complexity_entropy(torch.tensor([[0.0, 2.0], [1.0, 1.0]]))
        tensor([0.0000, 0.6931])
    """
    values = _magnitudes(attributions)
    totals = values.sum(1, keepdim=True)
    shares = values / totals.clamp(min=1e-300)
    entropy = torch.where(shares > 0, -shares * shares.log(), torch.zeros_like(shares)).sum(1)
    return _nan_where_empty(entropy, totals[:, 0])


def effective_complexity(attributions: Tensor, eps: float = 1e-5) -> Tensor:
    """Effective complexity (Nguyen & Rodriguez Martinez 2020): ``#{i : |a_i| > eps}``; lower is better.

    Example:
        >>> import torch
        >>> from veracity.metrics import effective_complexity
        >>> effective_complexity(torch.tensor([[0.0, 2.0, -3.0], [1e-7, 0.0, 0.0]]))
        tensor([2., 0.])
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or eps < 0:
        fail("eps", "a non-negative number", eps)
    return (_magnitudes(attributions) > eps).sum(1).float()
