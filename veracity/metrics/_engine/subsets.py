"""Random subsets and single feature groups removed: the perturbations of the correlation
metrics (faithfulness correlation and estimate, monotonicity correlation, sensitivity-n) and of
non-sensitivity, on the shared curve engine (:meth:`.curves.MetricCall.outputs`).

Random subsets and random fills come from one seed per point, drawn up front from the
generator, so results do not depend on the chunk size.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from veracity._core.seeding import point_generator, point_seeds
from veracity._core.validate import check_positive_int
from veracity.metrics._engine.curves import (
    MetricCall,
    feature_ids,
    group_order,
    group_scores,
    replacement_values,
)


def random_subset_outputs(call: MetricCall, sizes: list[int], baseline: Any,
                          generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """Outputs with a random subset of ``sizes[p]`` attribution elements removed, per point.

    Returns ``(batch, points)`` outputs and the attribution sums over each subset.
    """
    a_flat = call.attributions.reshape(call.batch, -1)
    fill = replacement_values(call.inputs, baseline, generator)
    seeds = point_seeds(len(sizes), generator)
    sums: dict[int, Tensor] = {}

    def mask_fn(start: int, stop: int) -> Tensor:
        masks = []
        for p in range(start, stop):
            keys = torch.rand(a_flat.shape, generator=point_generator(seeds[p], a_flat.device),
                              device=a_flat.device)
            picked = keys.topk(sizes[p], dim=1, sorted=False).indices
            chosen = torch.zeros_like(keys, dtype=torch.bool).scatter_(1, picked, True)
            sums[p] = a_flat.gather(1, picked).sum(1)
            masks.append(chosen)
        return torch.stack(masks).view(stop - start, *call.attributions.shape)

    outputs = call.outputs(len(sizes), mask_fn, fill, desc="random subsets")
    return outputs, torch.stack([sums[p] for p in range(len(sizes))], 1)


def single_group_outputs(call: MetricCall, group_of: Tensor, n_groups: int, n_samples: int,
                         baseline: Any, generator: torch.Generator | None) -> Tensor:
    """Outputs with one group removed at a time, ``n_samples`` fills each: ``(batch, samples, groups)``.

    ``group_of`` labels every attribution element with its group (per example). Points are
    sample-major; sample ``s`` draws its fill (e.g. uniform noise) from its own seed.
    """
    seeds = point_seeds(n_samples, generator)
    fills: dict[int, Tensor] = {}

    def fill_for(sample: int) -> Tensor:
        if sample not in fills:
            fills.clear()
            fills[sample] = replacement_values(
                call.inputs, baseline, point_generator(seeds[sample], call.inputs.device))
        return fills[sample]

    def mask_fn(start: int, stop: int) -> Tensor:
        groups = torch.arange(start, stop, device=group_of.device) % n_groups
        return group_of.unsqueeze(0) == groups.view(-1, *[1] * group_of.dim())

    def fill(start: int, stop: int, stacked: Tensor, mask: Tensor) -> Tensor:
        values = torch.stack([fill_for(p // n_groups) for p in range(start, stop)])
        return torch.where(mask, values, stacked)

    outputs = call.outputs(n_samples * n_groups, mask_fn, fill, desc="single groups")
    return outputs.view(call.batch, n_samples, n_groups)


def step_groups(call: MetricCall, features_in_step: int, order: str) -> tuple[Tensor, int, Tensor]:
    """Groups of ``features_in_step`` consecutive features in attribution order, and their sums."""
    check_positive_int("features_in_step", features_in_step)
    shape = tuple(call.attributions.shape)
    ids, n = feature_ids(shape)
    scores, sizes = group_scores(call.attributions, ids, n)
    group_of = group_order(scores, sizes, order) // features_in_step
    n_groups = -(-n // features_in_step)
    sums = scores.new_zeros(call.batch, n_groups).scatter_add_(1, group_of, scores)
    return group_of.view(shape), n_groups, sums
