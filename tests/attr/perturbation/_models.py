"""Small float64 models with known attributions for the perturbation tests."""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn


class Additive(nn.Module):
    """f(x) = sum_i g_i(x_i), output (batch, 2): column 1 is 2 * column 0 + 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        index = torch.arange(flat.shape[1], dtype=flat.dtype)
        terms = torch.sin(flat * (1 + index)) + 0.3 * flat**2 * index
        total = terms.sum(1)
        return torch.stack([total, 2 * total + 1], dim=1)

    def terms(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        index = torch.arange(flat.shape[1], dtype=flat.dtype)
        return (torch.sin(flat * (1 + index)) + 0.3 * flat**2 * index).view_as(x)


def mlp(features: int = 5, outputs: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(features, 12), nn.Tanh(), nn.Linear(12, 12), nn.ReLU(),
                         nn.Linear(12, outputs)).double().eval()


def coalition_value(model: nn.Module, x: torch.Tensor, baseline: torch.Tensor, mask: torch.Tensor,
                    present: set[int], target: int) -> torch.Tensor:
    """F at x with the groups in ``present`` kept and the others at the baseline, per example."""
    keep = torch.zeros_like(x, dtype=torch.bool)
    for group in present:
        keep |= (mask == group).expand_as(x)
    with torch.no_grad():
        return model(torch.where(keep, x, baseline))[:, target]


def brute_force_shapley(model: nn.Module, x: torch.Tensor, baseline: torch.Tensor, mask: torch.Tensor,
                        target: int) -> torch.Tensor:
    """Shapley values by averaging marginal contributions over all orders: (batch, n_groups)."""
    groups = sorted(int(g) for g in mask.unique())
    result = torch.zeros(x.shape[0], len(groups), dtype=x.dtype)
    for order in itertools.permutations(groups):
        present: set[int] = set()
        previous = coalition_value(model, x, baseline, mask, present, target)
        for group in order:
            present.add(group)
            current = coalition_value(model, x, baseline, mask, present, target)
            result[:, groups.index(group)] += current - previous
            previous = current
    return result / math.factorial(len(groups))


def per_group(attributions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The attribution of each group (read at its first element): (batch, n_groups)."""
    flat_mask = mask.expand_as(attributions[:1]).reshape(-1)
    flat = attributions.reshape(attributions.shape[0], -1)
    return torch.stack([flat[:, int((flat_mask == g).nonzero()[0])] for g in flat_mask.unique()], 1)
