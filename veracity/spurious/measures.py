"""The three reliability metrics of Adebayo et al. (ICLR 2022) on given attribution maps.

Every map is first reduced to a *saliency image*: summed over channels, absolute value,
divided by its maximum (an all-zero map stays zero), shape ``(batch, 1, H, W)`` in [0, 1].

* **KSSD**, known spurious signal detection: how well the spurious model's maps of inputs
  carrying the artifact match the artifact's ground-truth mask. Higher = the method finds
  the known artifact. ``measure``: ``"ssim"`` (the paper's: SSIM between the saliency image
  and the 0/1 mask), ``"rank_accuracy"`` (the share of the ``|mask|`` most salient pixels
  that are planted; a uniformly random map scores ``|mask| / (H W)`` on average), or
  ``"roc_auc"`` (the saliency as a score for planted pixels; random: 0.5). All three are 1
  for a map that marks exactly the planted pixels.
* **CCM**, cause-for-concern: similarity of the spurious and the normal model's maps of the
  same inputs *with* the artifact. Lower = the explanation reveals that the models differ.
* **FAM**, false alarm: the same similarity on inputs *without* the artifact. Higher = no false
  alarm (the maps agree where the models behave alike).

The paper's similarity is SSIM; any ``similarity(a, b) -> (batch,)`` from
:mod:`veracity.metrics.similarity` works on the saliency images.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.validate import check_choice, fail
from veracity.metrics.localisation import relevance_rank_accuracy, roc_auc
from veracity.metrics.similarity import ssim

__all__ = ["MEASURES", "saliency_images", "known_spurious_signal_detection", "cause_for_concern",
           "false_alarm", "chance_level"]

MEASURES = ("ssim", "rank_accuracy", "roc_auc")
Similarity = Callable[[Tensor, Tensor], Tensor]


def saliency_images(maps: Tensor, name: str = "maps") -> Tensor:
    """``(batch, 1, H, W)`` in [0, 1]: ``maps`` ``(batch, C, H, W)`` or ``(batch, H, W)``
    summed over channels, absolute, divided by each example's maximum.

    Example:
        >>> import torch
        >>> saliency_images(torch.tensor([[[[-2.0, 1.0]], [[0.0, 1.0]]]]))
        tensor([[[[1., 1.]]]])
    """
    if not isinstance(maps, Tensor) or maps.dim() not in (3, 4) or not maps.is_floating_point():
        fail(name, "a floating-point tensor shaped (batch, C, H, W) or (batch, H, W)", maps, TypeError)
    if not bool(torch.isfinite(maps).all()):
        fail(name, "finite values only", "a tensor containing NaN or inf")
    summed = maps.detach().unsqueeze(1) if maps.dim() == 3 else maps.detach().sum(1, keepdim=True)
    magnitude = summed.abs()
    peak = magnitude.flatten(1).amax(1).view(-1, 1, 1, 1)
    return torch.where(peak > 0, magnitude / peak.clamp_min(torch.finfo(magnitude.dtype).tiny),
                       torch.zeros_like(magnitude))


def _check_masks(masks: Any, maps: Tensor, given: Tensor) -> Tensor:
    """Boolean ``(batch, 1, H, W)`` masks for ``maps`` (as :func:`saliency_images` returns them)."""
    if not isinstance(masks, Tensor):
        fail("masks", "a boolean tensor of planted pixels", masks, TypeError)
    batch, _, height, width = maps.shape
    shapes = {(batch, 1, height, width), (batch, height, width)}
    if tuple(masks.shape) not in shapes:
        fail("masks", f"a mask shaped (batch, 1, H, W) or (batch, H, W) matching the maps "
             f"{tuple(given.shape)}", masks)
    flat = (masks != 0).reshape(batch, 1, height, width).to(maps.device)
    empty = (~flat.flatten(1).any(1)).nonzero().flatten().tolist()
    if empty:
        fail("masks", "at least one planted pixel per example", f"an empty mask for example(s) {empty}")
    return flat


def known_spurious_signal_detection(maps: Tensor, masks: Tensor, measure: str = "ssim") -> Tensor:
    """KSSD per example: agreement of ``maps`` (the spurious model's, on inputs with the
    artifact) with the planted pixels ``masks``; see the module docstring for ``measure``.

    Example:
        >>> import torch
        >>> masks = torch.zeros(1, 1, 8, 8, dtype=torch.bool); masks[..., :2, :2] = True
        >>> [float(known_spurious_signal_detection(masks.float(), masks, m)) for m in MEASURES]
        [1.0, 1.0, 1.0]
    """
    check_choice("measure", measure, MEASURES)
    images = saliency_images(maps)
    truth = _check_masks(masks, images, maps)
    if measure == "ssim":
        return ssim(images, truth.to(images.dtype), data_range=1.0)
    if measure == "rank_accuracy":
        return relevance_rank_accuracy(images, truth)
    return roc_auc(images, truth)


def chance_level(masks: Tensor, measure: str = "rank_accuracy") -> Tensor:
    """The expected KSSD of a map drawn uniformly at random (continuous, i.i.d. pixels), per
    example: ``|mask| / (H W)`` for ``"rank_accuracy"``, 0.5 for ``"roc_auc"``. SSIM has no
    closed form (raises); estimate it with random maps instead.

    Example:
        >>> import torch
        >>> masks = torch.zeros(1, 1, 8, 8, dtype=torch.bool); masks[..., :2, :2] = True
        >>> chance_level(masks), chance_level(masks, "roc_auc")
        (tensor([0.0625]), tensor([0.5000]))
    """
    check_choice("measure", measure, MEASURES)
    if measure == "ssim":
        fail("measure", "'rank_accuracy' or 'roc_auc' (SSIM has no closed-form chance level)", repr(measure))
    if not isinstance(masks, Tensor) or masks.dim() not in (3, 4):
        fail("masks", "a boolean tensor shaped (batch, 1, H, W) or (batch, H, W)", masks, TypeError)
    flat = (masks != 0).flatten(1)
    if measure == "roc_auc":
        return torch.full((flat.shape[0],), 0.5)
    return flat.sum(1).float() / flat.shape[1]


def _similar(name: str, spurious_maps: Tensor, normal_maps: Tensor, similarity: Similarity | None) -> Tensor:
    a = saliency_images(spurious_maps, "spurious_maps")
    b = saliency_images(normal_maps, "normal_maps")
    if a.shape != b.shape:
        fail("normal_maps", f"maps shaped like spurious_maps {tuple(spurious_maps.shape)}", normal_maps)
    if similarity is None:
        return ssim(a, b, data_range=1.0)
    if not callable(similarity):
        fail("similarity", "a function similarity(a, b) -> one score per example", similarity, TypeError)
    scores = similarity(a, b)
    if not isinstance(scores, Tensor) or scores.shape != (a.shape[0],):
        fail("similarity", f"a function returning one score per example ({a.shape[0]},)", scores)
    return scores


def cause_for_concern(spurious_maps: Tensor, normal_maps: Tensor, similarity: Similarity | None = None) -> Tensor:
    """CCM per example: similarity (default SSIM) of the two models' maps of inputs *with* the
    artifact. Lower = the explanation gives cause for concern.

    Example:
        >>> import torch
        >>> maps = torch.rand(3, 1, 8, 8)
        >>> cause_for_concern(maps, 2 * maps)
        tensor([1., 1., 1.])
    """
    return _similar("cause_for_concern", spurious_maps, normal_maps, similarity)


def false_alarm(spurious_maps: Tensor, normal_maps: Tensor, similarity: Similarity | None = None) -> Tensor:
    """FAM per example: similarity (default SSIM) of the two models' maps of inputs *without*
    the artifact. Lower = a false alarm.

    Example:
        >>> import torch
        >>> maps = torch.rand(2, 1, 8, 8)
        >>> bool((false_alarm(maps, torch.rand(2, 1, 8, 8)) < 1).all())
        True
    """
    return _similar("false_alarm", spurious_maps, normal_maps, similarity)
