"""Localisation: does the explanation point at the ground-truth region? Higher is better for all.

Every metric takes ``attributions`` ``(batch, ...)`` and ground-truth ``masks`` (bool or 0/1)
of the same shape, or of the spatial shape when the attributions have a channel dimension
(``(batch, C, H, W)`` attributions with ``(batch, H, W)`` or ``(batch, 1, H, W)`` masks: the
attributions are then summed over channels). A mask with no positive element, or a mask of
another shape, raises ``ValueError``; values that are undefined for a valid input (no
positive relevance at all, no negative pixel for ROC-AUC) are NaN, as documented per metric.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from veracity._core.validate import fail
from veracity.metrics._engine.stats import average_ranks

__all__ = ["pointing_game", "attribution_localisation", "top_k_intersection",
           "relevance_rank_accuracy", "relevance_mass_accuracy", "roc_auc", "focus"]


def _align(attributions: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
    """Attributions and boolean masks of one shape ``(batch, *spatial)``."""
    if not isinstance(attributions, Tensor) or attributions.dim() < 2:
        fail("attributions", "a tensor shaped (batch, ...)", attributions, TypeError)
    if not isinstance(masks, Tensor):
        fail("masks", "a tensor of ground-truth masks", masks, TypeError)
    if not bool(torch.isfinite(attributions).all()):
        fail("attributions", "finite values only", "a tensor containing NaN or inf")
    a, m = attributions.detach(), masks.detach().to(attributions.device)
    if m.shape == a.shape:
        pass
    elif m.dim() == a.dim() - 1 and m.shape[0] == a.shape[0] and m.shape[1:] == a.shape[2:]:
        a = a.sum(1)
    elif m.dim() == a.dim() and m.shape[1] == 1 and m.shape[0] == a.shape[0] \
            and m.shape[2:] == a.shape[2:] and a.dim() > 2:
        a, m = a.sum(1), m[:, 0]
    else:
        fail("masks", f"a mask of the attributions' shape {tuple(attributions.shape)} or of its "
             "spatial shape", masks)
    m = m != 0
    empty = (~m.reshape(m.shape[0], -1).any(1)).nonzero().flatten().tolist()
    if empty:
        fail("masks", "at least one positive element per example",
             f"an empty mask for example(s) {empty}")
    return a.double(), m


def _ratio(numerator: Tensor, denominator: Tensor) -> Tensor:
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1e-300),
                       torch.full_like(numerator, float("nan"))).float()


def pointing_game(attributions: Tensor, masks: Tensor, tolerance: float = 0.0) -> Tensor:
    """Pointing game (Zhang et al. 2018): 1.0 where the maximum lies within ``tolerance`` of the mask.

    The first maximum counts; ``tolerance`` is a Euclidean distance in pixels (TorchRay uses 15).

    Example:
        >>> import torch
        >>> from veracity.metrics import pointing_game
        >>> a = torch.zeros(1, 5, 5); a[0, 0, 0] = 1
        >>> mask = torch.zeros(1, 5, 5, dtype=torch.bool); mask[0, 2, 2] = True
        >>> pointing_game(a, mask), pointing_game(a, mask, tolerance=3)
        (tensor([0.]), tensor([1.]))
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
        fail("tolerance", "a non-negative number of pixels", tolerance)
    a, m = _align(attributions, masks)
    spatial = a.shape[1:]
    grids = torch.meshgrid(*[torch.arange(s, device=a.device, dtype=torch.double) for s in spatial],
                           indexing="ij")
    coords = torch.stack([g.flatten() for g in grids], 1)
    peak = coords[a.reshape(a.shape[0], -1).argmax(1)]
    distance = torch.cdist(peak.unsqueeze(1), coords.unsqueeze(0).expand(a.shape[0], -1, -1))[:, 0]
    return ((distance <= tolerance + 1e-9) & m.reshape(m.shape[0], -1)).any(1).float()


def attribution_localisation(attributions: Tensor, masks: Tensor, weighted: bool = False) -> Tensor:
    """Attribution localisation (Kohlbrenner et al. 2020): share of positive relevance in the mask.

    ``sum_{mask} a+ / sum a+``; ``weighted`` multiplies by ``n / |mask|`` (the inverse mask
    size), so that large masks are not rewarded. NaN where no attribution is positive.

    Example:
        >>> import torch
        >>> from veracity.metrics import attribution_localisation
        >>> a = torch.tensor([[3.0, 1.0, -2.0, 0.0]])
        >>> attribution_localisation(a, torch.tensor([[1, 0, 1, 0]]))
        tensor([0.7500])
    """
    a, m = _align(attributions, masks)
    positive = a.clamp(min=0).reshape(a.shape[0], -1)
    inside = m.reshape(m.shape[0], -1)
    ratio = _ratio((positive * inside).sum(1), positive.sum(1))
    if weighted:
        ratio = ratio * inside.shape[1] / inside.sum(1)
    return ratio


def _top_hits(a: Tensor, m: Tensor, k: Tensor) -> Tensor:
    """How many of each example's ``k`` largest attributions lie in the mask (ties by index)."""
    flat, inside = a.reshape(a.shape[0], -1), m.reshape(m.shape[0], -1)
    order = torch.sort(-flat, dim=1, stable=True).indices
    ranked = inside.gather(1, order)
    positions = torch.arange(flat.shape[1], device=a.device)
    return (ranked & (positions[None] < k[:, None])).sum(1).double()


def top_k_intersection(attributions: Tensor, masks: Tensor, k: int = 1000) -> Tensor:
    """Top-k intersection (Theiner et al. 2021): ``|top_k(a) ∩ mask| / k``.

    Example:
        >>> import torch
        >>> from veracity.metrics import top_k_intersection
        >>> a = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
        >>> top_k_intersection(a, torch.tensor([[1, 0, 1, 0]]), k=2)
        tensor([0.5000])
    """
    a, m = _align(attributions, masks)
    n = a[0].numel()
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
        fail("k", f"an integer in [1, {n}] (the number of features)", k)
    return (_top_hits(a, m, torch.full((a.shape[0],), k, device=a.device)) / k).float()


def relevance_rank_accuracy(attributions: Tensor, masks: Tensor) -> Tensor:
    """Relevance rank accuracy (Arras et al. 2022): ``|top_K(a) ∩ mask| / K`` with ``K = |mask|``.

    Example:
        >>> import torch
        >>> from veracity.metrics import relevance_rank_accuracy
        >>> a = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
        >>> relevance_rank_accuracy(a, torch.tensor([[1, 1, 0, 1]]))
        tensor([0.6667])
    """
    a, m = _align(attributions, masks)
    size = m.reshape(m.shape[0], -1).sum(1)
    return (_top_hits(a, m, size) / size).float()


def relevance_mass_accuracy(attributions: Tensor, masks: Tensor) -> Tensor:
    """Relevance mass accuracy (Arras et al. 2022): ``sum_{mask} |a| / sum |a|``.

    On absolute relevance (Quantus's default); NaN for an all-zero map.

    Example:
        >>> import torch
        >>> from veracity.metrics import relevance_mass_accuracy
        >>> relevance_mass_accuracy(torch.tensor([[3.0, 1.0, -2.0, 0.0]]), torch.tensor([[1, 0, 0, 0]]))
        tensor([0.5000])
    """
    a, m = _align(attributions, masks)
    magnitude = a.abs().reshape(a.shape[0], -1)
    return _ratio((magnitude * m.reshape(m.shape[0], -1)).sum(1), magnitude.sum(1))


def roc_auc(attributions: Tensor, masks: Tensor) -> Tensor:
    """ROC-AUC (Fawcett 2006) of the attributions as scores for the mask's pixels.

    The Mann-Whitney statistic with tied scores counted half; NaN where the mask covers
    every element (no negatives).

    Example:
        >>> import torch
        >>> from veracity.metrics import roc_auc
        >>> roc_auc(torch.tensor([[4.0, 3.0, 2.0, 1.0]]), torch.tensor([[1, 0, 1, 0]]))
        tensor([0.7500])
    """
    a, m = _align(attributions, masks)
    ranks = average_ranks(a.reshape(a.shape[0], -1))
    inside = m.reshape(m.shape[0], -1)
    positives = inside.sum(1).double()
    negatives = inside.shape[1] - positives
    statistic = (ranks * inside).sum(1) - positives * (positives + 1) / 2
    return _ratio(statistic, positives * negatives)


def focus(attributions: Tensor, tile_labels: Tensor) -> Tensor:
    """Focus (Arias-Duart et al. 2022): share of positive relevance on the target-class tiles.

    For attributions of a mosaic image (e.g. 2x2 images, one or more of the target class),
    ``tile_labels`` ``(batch, rows, cols)`` marks the tiles of the target class; the tiles
    split the last two dimensions evenly. NaN where no attribution is positive.

    Example:
        >>> import torch
        >>> from veracity.metrics import focus
        >>> a = torch.zeros(1, 4, 4); a[0, :2, :2] = 1.0; a[0, 2:, 2:] = 3.0
        >>> focus(a, torch.tensor([[[True, False], [False, False]]]))
        tensor([0.2500])
    """
    if not isinstance(tile_labels, Tensor) or tile_labels.dim() != 3 \
            or not isinstance(attributions, Tensor) or attributions.dim() < 3:
        fail("tile_labels", "a (batch, rows, cols) tensor for attributions (batch, ..., H, W)",
             tile_labels)
    height, width = attributions.shape[-2:]
    rows, cols = tile_labels.shape[1:]
    if tile_labels.shape[0] != attributions.shape[0] or height % rows or width % cols:
        fail("tile_labels", f"({attributions.shape[0]}, rows, cols) tiles dividing "
             f"{height}x{width}", tile_labels)
    masks = F.interpolate(tile_labels.float()[:, None], size=(height, width), mode="nearest")[:, 0]
    spatial = attributions if attributions.dim() == 3 else attributions.reshape(
        attributions.shape[0], -1, height, width).sum(1)
    return attribution_localisation(spatial, masks.to(attributions.device))
