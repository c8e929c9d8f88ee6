"""Feature groups: the user's ``feature_mask`` as dense ids, and the two maps through them.

A feature mask gives every input element an integer group id; elements that share an id (in
one input tensor or across several) are perturbed together and share one attribution. Masks
broadcast to their input (a ``(1, 1, H, W)`` mask for a ``(B, C, H, W)`` batch is one map
for every example and channel). The ids may be any non-negative integers; internally they are
renumbered densely ``0..n_features-1`` in increasing order of the user's ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from veracity._core.validate import fail


@dataclass(frozen=True)
class FeatureGroups:
    """Dense group ids, one tensor per input, each with the input's number of dimensions.

    ``ids[i]`` broadcasts to ``inputs[i]``; its first dimension is 1 (one map for the whole
    batch) or the batch size (a map per example). ``user_ids[f]`` is the user's id of dense
    feature ``f``.
    """

    ids: tuple[Tensor, ...]
    n_features: int
    user_ids: Tensor

    def keep(self, presence: Tensor) -> tuple[Tensor, ...]:
        """Which elements keep their input value, per input: ``(k, 1 or batch, *ids.shape[1:])``.

        ``presence`` is boolean, ``(k, n_features)`` (one coalition for the whole batch) or
        ``(k, batch, n_features)`` (a coalition per example).
        """
        k = presence.shape[0]
        result = []
        for ids in self.ids:
            if presence.dim() == 2:
                result.append(presence[:, ids.reshape(-1)].view(k, *ids.shape))
                continue
            batch = presence.shape[1]
            flat = ids.reshape(ids.shape[0], -1).expand(batch, -1)
            picked = presence.gather(2, flat.unsqueeze(0).expand(k, -1, -1))
            result.append(picked.view(k, batch, *ids.shape[1:]))
        return tuple(result)

    def spread(self, per_feature: Tensor, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """Give every element its group's value: ``per_feature`` is ``(rows, n_features)``.

        ``rows`` is the batch, or 1 for a model that scores the whole batch with one value
        (the masks are then shared by the batch), or ``K`` times the batch when every one of
        ``K`` output values per example is explained (rows example-major); results are
        ``(rows, *x.shape[1:])``.
        """
        rows = per_feature.shape[0]
        result = []
        for ids, x in zip(self.ids, inputs):
            flat = ids.reshape(ids.shape[0], -1)
            if flat.shape[0] not in (1, rows):
                flat = flat.repeat_interleave(rows // flat.shape[0], 0)
            flat = flat.expand(rows, -1)
            values = per_feature.gather(1, flat).view(rows, *ids.shape[1:])
            result.append(values.expand(rows, *x.shape[1:]).contiguous())
        return tuple(result)


def _one_mask(mask: Any, x: Tensor, name: str) -> Tensor:
    if not isinstance(mask, Tensor):
        fail(name, "an integer tensor of group ids", mask, TypeError)
    if mask.is_complex():
        fail(name, "an integer tensor of group ids", mask, TypeError)
    if mask.is_floating_point():
        if not bool(torch.isfinite(mask).all()) or not bool((mask == mask.round()).all()):
            fail(name, "integer group ids", "non-integer values (e.g. "
                 f"{mask[mask != mask.round()].reshape(-1)[:1].tolist()})")
    try:
        shape = torch.broadcast_shapes(tuple(mask.shape), tuple(x.shape))
    except RuntimeError:
        shape = None
    if shape != tuple(x.shape) or mask.dim() > x.dim():
        fail(name, f"a mask that broadcasts to the input's shape {tuple(x.shape)} "
             f"(e.g. {(1, *x.shape[1:])})", mask)
    mask = mask.to(device=x.device, dtype=torch.long)
    if mask.numel() and int(mask.min()) < 0:
        fail(name, "non-negative group ids", f"the id {int(mask.min())}")
    return mask.reshape((1,) * (x.dim() - mask.dim()) + tuple(mask.shape))


def prepare_feature_mask(feature_mask: Any, inputs: tuple[Tensor, ...], name: str = "feature_mask") -> FeatureGroups:
    """Check and renumber ``feature_mask``; ``None`` makes every scalar its own feature."""
    if feature_mask is None:
        ids, offset = [], 0
        for x in inputs:
            count = x[0].numel()
            ids.append(torch.arange(offset, offset + count, device=x.device).view(1, *x.shape[1:]))
            offset += count
        return FeatureGroups(tuple(ids), offset, torch.arange(offset))
    masks = feature_mask if isinstance(feature_mask, tuple) else (feature_mask,)
    if len(masks) != len(inputs):
        fail(name, f"{len(inputs)} masks, one per input", feature_mask)
    checked = [_one_mask(m, x, name if len(inputs) == 1 else f"{name}[{i}]")
               for i, (m, x) in enumerate(zip(masks, inputs))]
    flat = torch.cat([m.reshape(-1).cpu() for m in checked])
    if flat.numel() == 0:
        fail(name, "at least one element", "empty masks")
    user_ids, dense = torch.unique(flat, sorted=True, return_inverse=True)
    ids, start = [], 0
    for m in checked:
        part = dense[start:start + m.numel()].view(m.shape).to(m.device)
        ids.append(part)
        start += m.numel()
    return FeatureGroups(tuple(ids), int(user_ids.numel()), user_ids)
