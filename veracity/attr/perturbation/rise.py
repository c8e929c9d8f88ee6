"""RISE (Petsiuk, Das & Saenko, "RISE: Randomized Input Sampling for Explanation of
Black-box Models", BMVC 2018)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from veracity._core.batch_scores import scores
from veracity._core.call import Call
from veracity._core.validate import check_positive_int, fail
from veracity.attr._base import PerturbationAttribution
from veracity.attr.perturbation._engine import blend

TensorOrTuple = Tensor | tuple[Tensor, ...]
_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


class _MaskFamily:
    """Random binary grids, upsampled (bi/tri)linearly and randomly shifted, of one input.

    The mask covers the spatial dimensions (all after the channel dimension; for a 2-d
    input, dimension 1) and is shared by the channels. The grids and shifts are drawn up
    front, so any chunk of masks can be rebuilt identically.
    """

    def __init__(self, x: Tensor, n_masks: int, resolution: Any, p_keep: float,
                 generator: torch.Generator | None) -> None:
        self.spatial = tuple(x.shape[2:]) if x.dim() >= 3 else tuple(x.shape[1:])
        dims = len(self.spatial)
        if dims > 3:
            fail("inputs", "at most 3 spatial dimensions for RISE masks", x)
        res = (resolution,) * dims if isinstance(resolution, int) else tuple(resolution)
        if len(res) != dims or any(not isinstance(r, int) or r < 1 for r in res):
            fail("mask_resolution", f"a positive integer or {dims} of them", resolution)
        self.cells = tuple(math.ceil(s / r) for s, r in zip(self.spatial, res))
        self.grids = torch.rand(n_masks, 1, *(r + 1 for r in res), generator=generator) < p_keep
        self.shifts = torch.stack([torch.randint(0, c, (n_masks,), generator=generator) for c in self.cells], 1)
        self.res, self.x_dim, self.device, self.dtype = res, x.dim(), x.device, x.dtype

    def masks(self, start: int, stop: int) -> Tensor:
        """Soft masks ``(k, *spatial)`` in [0, 1]."""
        grids = self.grids[start:stop].to(device=self.device, dtype=self.dtype)
        size = tuple((r + 1) * c for r, c in zip(self.res, self.cells))
        up = F.interpolate(grids, size=size, mode=_MODES[len(size)], align_corners=False)[:, 0]
        result = []
        for mask, shift in zip(up, self.shifts[start:stop].tolist()):
            result.append(mask[tuple(slice(s, s + n) for s, n in zip(shift, self.spatial))])
        return torch.stack(result)

    def broadcastable(self, masks: Tensor) -> Tensor:
        """``(k, 1, [1,] *spatial)``: one mask per point, shared by the batch and the channels."""
        channel = (1,) if self.x_dim >= 3 else ()
        return masks.view(masks.shape[0], 1, *channel, *self.spatial)


class RISE(PerturbationAttribution):
    """Saliency as the expected output under random masks: S = sum_i F(x * M_i) M_i / (N p).

    ``n_masks`` binary grids of ``mask_resolution`` cells per spatial dimension, each cell
    kept with probability ``p_keep``, are upsampled (bi/trilinearly) to one cell larger
    than the input and randomly shifted, giving smooth masks M_i; the masked input is
    ``baseline + M_i (x - baseline)`` (baseline 0 as in the paper). The spatial dimensions are
    those after the channel dimension (dimension 1 for 2-d inputs); the mask is shared by the
    channels, and each input of a tuple gets its own masks. Captum has no RISE. All masked
    copies go through the engine in chunks; ``generator`` makes the masks reproducible. A
    model returning one scalar for the whole batch gives one saliency map (first dimension 1).

    Example:
        >>> import torch
        >>> from veracity.attr import RISE
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
        >>> x = torch.rand(2, 3, 8, 8)
        >>> g = torch.Generator().manual_seed(0)
        >>> RISE(model).attribute(x, target=0, n_masks=50, mask_resolution=4, generator=g).shape
        torch.Size([2, 3, 8, 8])
    """

    def attribute(self, inputs: TensorOrTuple, target: Any = None, additional_forward_args: Any = None,
                  n_masks: int = 1000, mask_resolution: int | tuple[int, ...] = 7, p_keep: float = 0.5,
                  baselines: Any = None, perturbations_per_eval: int | None = None, show_progress: bool = False, *,
                  generator: torch.Generator | None = None) -> TensorOrTuple:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args)
        return self.attribute_call(call, n_masks, mask_resolution, p_keep, baselines, perturbations_per_eval,
                                   show_progress, generator=generator)

    def attribute_call(self, call: Call, n_masks: int = 1000, mask_resolution: int | tuple[int, ...] = 7,
                       p_keep: float = 0.5, baselines: Any = None, perturbations_per_eval: int | None = None,
                       show_progress: bool = False, *, generator: torch.Generator | None = None) -> TensorOrTuple:
        check_positive_int("n_masks", n_masks)
        if isinstance(p_keep, bool) or not isinstance(p_keep, (int, float)) or not 0 < p_keep <= 1:
            fail("p_keep", "a probability in (0, 1]", p_keep)
        base = call.baselines(baselines)
        families = [_MaskFamily(x, n_masks, mask_resolution, float(p_keep), generator) for x in call.inputs]

        def build(start: int, stop: int) -> tuple[Tensor, ...]:
            return tuple(blend(x, b, f.broadcastable(f.masks(start, stop)))
                         for x, b, f in zip(call.inputs, base, families))

        values = scores(call, n_masks, build, perturbations_per_eval, show_progress,
                        f"{self.get_name()} attribution")
        step = max(1, (1 << 22) // max(math.prod(families[0].spatial), 1))
        attributions = []
        for x, family in zip(call.inputs, families):
            total = torch.zeros(values.shape[1], math.prod(family.spatial), dtype=values.dtype, device=values.device)
            for start in range(0, n_masks, step):
                stop = min(n_masks, start + step)
                masks = family.masks(start, stop).reshape(stop - start, -1).to(values.dtype)
                total += values[start:stop].t() @ masks
            saliency = (total / (n_masks * p_keep)).view(values.shape[1], *family.broadcastable(total[:1]).shape[2:])
            attributions.append(saliency.expand(values.shape[1], *x.shape[1:]).contiguous())
        return call.finish(attributions)
