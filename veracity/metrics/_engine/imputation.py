"""Noisy linear imputation (Rong et al. 2022, ROAD), solved on the device.

Every removed pixel takes the weighted mean of its 8 neighbours (weight 1/6 for the four
direct ones, 1/12 for the diagonals; neighbours outside the image are left out), where
neighbours that are removed too are unknowns of the same linear system. The system (a
Laplacian restricted to the removed pixels) is symmetric positive semi-definite, so it is
solved by batched conjugate gradients with 3x3 convolutions as the matrix, for all
``(points x examples x channels)`` images at once; the reference implementation builds a
sparse matrix per image and calls scipy on the CPU. Gaussian noise of std ``noise`` is then
added to the imputed pixels. A region of removed pixels with no known neighbour at all
(e.g. 100 % removed) is imputed as 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from veracity._core.seeding import point_generator, point_seeds
from veracity._core.validate import check_non_negative
from veracity.metrics._engine.curves import FillFn

_WEIGHTS = ((1 / 12, 1 / 6, 1 / 12), (1 / 6, 0.0, 1 / 6), (1 / 12, 1 / 6, 1 / 12))


def _neighbour_sum(images: Tensor) -> Tensor:
    """Weighted sum of each pixel's in-image neighbours, for ``(n, H, W)`` images."""
    kernel = torch.tensor(_WEIGHTS, dtype=images.dtype, device=images.device).view(1, 1, 3, 3)
    return F.conv2d(images.unsqueeze(1), kernel, padding=1).squeeze(1)


def linear_imputation(images: Tensor, removed: Tensor, max_iterations: int | None = None,
                      tolerance: float = 1e-6) -> Tensor:
    """Fill ``removed`` pixels of ``(n, H, W)`` images by the neighbour-mean linear system."""
    removed = removed.to(images.dtype)
    known = images * (1 - removed)
    degree = _neighbour_sum(torch.ones_like(images[:1])).expand_as(images)

    def apply(v: Tensor) -> Tensor:
        return removed * (degree * v - _neighbour_sum(removed * v))

    rhs = removed * _neighbour_sum(known)
    solution = torch.zeros_like(images)
    residual = rhs.clone()
    direction = residual.clone()
    rr = residual.pow(2).sum((1, 2))
    limit = tolerance ** 2 * rhs.pow(2).sum((1, 2)).clamp(min=1e-30)
    iterations = max_iterations or 4 * max(images.shape[-2:])
    for iteration in range(iterations):
        product = apply(direction)
        curvature = (direction * product).sum((1, 2))
        alpha = torch.where(curvature > 0, rr / curvature.clamp(min=1e-30), torch.zeros_like(rr))
        solution = solution + alpha[:, None, None] * direction
        residual = residual - alpha[:, None, None] * product
        new_rr = residual.pow(2).sum((1, 2))
        beta = torch.where(rr > 0, new_rr / rr.clamp(min=1e-30), torch.zeros_like(rr))
        direction = residual + beta[:, None, None] * direction
        rr = new_rr
        if iteration % 16 == 15 and bool((rr <= limit).all()):
            break
    return known + removed * solution


def noisy_linear_imputation_fill(inputs: Tensor, n_points: int, noise: float,
                                 generator: torch.Generator | None) -> FillFn:
    """A fill for the curve engine: imputation plus per-point noise (same for every chunk size)."""
    check_non_negative("noise", noise)
    seeds = point_seeds(n_points, generator)

    def fill(start: int, stop: int, stacked: Tensor, mask: Tensor) -> Tensor:
        mask = mask.expand_as(stacked)
        height, width = stacked.shape[-2:]
        imputed = linear_imputation(stacked.reshape(-1, height, width),
                                    mask.reshape(-1, height, width)).view_as(stacked)
        if noise > 0:
            draws = torch.stack([
                torch.randn(stacked.shape[1:], generator=point_generator(seed, stacked.device),
                            device=stacked.device, dtype=stacked.dtype)
                for seed in seeds[start:stop]])
            imputed = imputed + noise * draws
        return torch.where(mask, imputed, stacked)

    return fill
