"""How much two explanation maps differ (Ghorbani et al. 2019): top-k intersection, Spearman
rank correlation and the shift of the center of mass; and the saliency map ``I`` the attacks
work on (absolute values summed over channels, scaled to sum to ``h * w``)."""

from __future__ import annotations

import torch
from torch import Tensor

from veracity._core.validate import fail


def saliency_image(attributions: Tensor) -> Tensor:
    """``I = sum_c |attributions|`` per pixel, normalised to sum to ``h * w``: ``(batch, h, w)``.

    Example:
        >>> saliency_image(torch.tensor([[[[1.0, -3.0]]]])).tolist()
        [[[0.5, 1.5]]]
    """
    if attributions.dim() != 4:
        fail("attributions", "image maps shaped (batch, channels, height, width)", attributions)
    image = attributions.abs().sum(1)
    total = image.flatten(1).sum(1).clamp_min(1e-12)
    return image * (image[0].numel() / total).reshape(-1, 1, 1)


def top_k_mask(image: Tensor, k: int) -> Tensor:
    """A 0/1 mask of each map's ``k`` largest pixels, shaped like ``image``."""
    flat = image.flatten(1)
    mask = torch.zeros_like(flat)
    mask.scatter_(1, flat.topk(k, dim=1).indices, 1.0)
    return mask.reshape(image.shape)


def top_k_intersection(a: Tensor, b: Tensor, k: int) -> Tensor:
    """``|topk(a) ∩ topk(b)| / k`` per example (maps ``(batch, ...)``).

    Example:
        >>> top_k_intersection(torch.tensor([[3.0, 2.0, 1.0]]), torch.tensor([[3.0, 0.0, 2.0]]), 2).tolist()
        [0.5]
    """
    return (top_k_mask(a, k) * top_k_mask(b, k)).flatten(1).sum(1) / k


def _ranks(values: Tensor) -> Tensor:
    """Ranks of each row (ties broken by position, as the maps are continuous)."""
    order = values.argsort(dim=1)
    ranks = torch.empty_like(values)
    ranks.scatter_(1, order, torch.arange(values.shape[1], dtype=values.dtype, device=values.device)
                   .expand_as(values).contiguous())
    return ranks


def spearman(a: Tensor, b: Tensor) -> Tensor:
    """Spearman rank correlation of two maps per example.

    Example:
        >>> spearman(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[10.0, 20.0, 30.0]])).tolist()
        [1.0]
    """
    ra, rb = _ranks(a.flatten(1).double()), _ranks(b.flatten(1).double())
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    return ((ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1)).clamp_min(1e-12)).to(a.dtype)


def center_of_mass(image: Tensor) -> Tensor:
    """``C(I) = sum_ij I_ij [i, j] / sum I`` per map ``(batch, h, w)``: ``(batch, 2)`` in pixels."""
    rows = torch.arange(image.shape[1], dtype=image.dtype, device=image.device)
    cols = torch.arange(image.shape[2], dtype=image.dtype, device=image.device)
    total = image.sum((1, 2)).clamp_min(1e-12)
    return torch.stack([(image.sum(2) * rows).sum(1) / total, (image.sum(1) * cols).sum(1) / total], 1)


def center_shift(a: Tensor, b: Tensor) -> Tensor:
    """L2 distance in pixels between the centers of mass of two maps ``(batch, h, w)``.

    Example:
        >>> a = torch.zeros(1, 3, 3); a[0, 0, 0] = 1
        >>> b = torch.zeros(1, 3, 3); b[0, 0, 2] = 1
        >>> center_shift(a, b).tolist()
        [2.0]
    """
    return (center_of_mass(a) - center_of_mass(b)).norm(dim=1)
