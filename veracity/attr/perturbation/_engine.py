"""Building blocks of the perturbation family's points: masked blends of inputs and baselines,
coalitions; the scores themselves come from :mod:`veracity._core.batch_scores`."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity.attr.perturbation._groups import FeatureGroups

BuildFn = Callable[[int, int], tuple[Tensor, ...]]


def blend(x: Tensor, replacement: Tensor, keep: Tensor) -> Tensor:
    """``x`` where ``keep``, else ``replacement``, stacked point-major: ``(k * batch, ...)``.

    ``x`` and ``replacement`` are ``(batch or 1, ...)``; ``keep`` is ``(k, batch or 1, ...)``,
    boolean (exact selection) or real in [0, 1] (a soft mask: a convex combination).
    """
    x0, r0 = x.unsqueeze(0), replacement.unsqueeze(0)
    if keep.dtype == torch.bool:
        mixed = torch.where(keep, x0, r0)
    else:
        mixed = r0 + keep.to(x.dtype) * (x0 - r0)
    k, batch = keep.shape[0], x.shape[0]
    return mixed.expand(k, batch, *x.shape[1:]).reshape(k * batch, *x.shape[1:])


def presence_builder(call: Call, baselines: tuple[Tensor, ...], groups: FeatureGroups,
                     presence: Callable[[int, int], Tensor]) -> BuildFn:
    """Points whose features are present (input value) or absent (baseline value).

    ``presence(start, stop)`` gives the points' coalitions, ``(k, n_features)`` or
    ``(k, batch, n_features)`` booleans.
    """

    def build(start: int, stop: int) -> tuple[Tensor, ...]:
        keeps = groups.keep(presence(start, stop))
        return tuple(blend(x, b, keep) for x, b, keep in zip(call.inputs, baselines, keeps))

    return build


def coalition_matrix(codes: Tensor, n_features: int) -> Tensor:
    """Bit ``f`` of each integer code says whether feature ``f`` is present: ``(k, n_features)``."""
    bits = torch.arange(n_features, device=codes.device)
    return (codes.unsqueeze(1) >> bits) & 1 == 1
