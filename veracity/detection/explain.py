"""Explain every decision of every detection (DExT, Padmanabhan et al. 2023): its class score
and each box coordinate, with any method of ``veracity.attr``.

A detection is tracked by its pre-NMS slot: the explained quantity of detection ``j`` is
column ``c`` of slot ``s`` of :class:`~veracity.detection.DetectorOutputs` (``x1, y1, x2, y2``
are columns 0-3, the score of class ``k`` is column ``4 + k``), on every perturbed,
interpolated or noisy copy of the image alike. All (image, detection, quantity) rows of a call
are stacked into ONE call of the method, so the library's engine batches and chunks them.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from veracity._core.detection import BOX_COLUMNS, DetectorOutputs
from veracity._core.validate import fail
from veracity.detection.detections import Detections, box_masks
from veracity.metrics.localisation import relevance_mass_accuracy

__all__ = ["QUANTITIES", "detection_targets", "explain_detections", "box_mass_fraction", "merge_maps"]

QUANTITIES = ("score", *BOX_COLUMNS)
MERGES = ("or_add", "or_average", "and_add", "and_average")


def _check_quantities(quantities: Sequence[str]) -> tuple[str, ...]:
    chosen = (quantities,) if isinstance(quantities, str) else tuple(quantities)
    if not chosen or any(q not in QUANTITIES for q in chosen):
        fail("quantities", f"a non-empty selection of {QUANTITIES}", repr(quantities))
    return chosen


def detection_targets(detections: Detections, quantities: Sequence[str] = QUANTITIES) -> list[tuple[int, int]]:
    """The ``(slot, column)`` targets of :class:`DetectorOutputs` for each detection and quantity
    (detection-major): ``"score"`` is the score of the detection's label, ``"x1"`` ... its box.

    Example:
        >>> d = Detections.of([[0.0, 0.0, 4.0, 4.0]], labels=[3], slots=[5])
        >>> detection_targets(d, ("score", "x2"))
        [(5, 7), (5, 2)]
    """
    chosen = _check_quantities(quantities)
    return [(int(slot), 4 + int(label) if q == "score" else BOX_COLUMNS.index(q))
            for slot, label in zip(detections.slots.tolist(), detections.labels.tolist()) for q in chosen]


def _head(method: Any) -> DetectorOutputs:
    head = getattr(method, "forward_func", None)
    if not hasattr(method, "attribute") or not isinstance(head, DetectorOutputs):
        fail("method", "an attribution method built on DetectorOutputs(detector), e.g. "
             "IntegratedGradients(DetectorOutputs(detector))",
             f"{type(method).__name__} over {type(head).__name__}", TypeError)
    return head


def explain_detections(method: Any, images: Tensor, detections: Sequence[Detections],
                       quantities: Sequence[str] = QUANTITIES,
                       **attribute_kwargs: Any) -> list[Tensor] | tuple[list[Tensor], list[Tensor]]:
    """Attribution maps of each detection's quantities: per image a tensor
    ``(K, len(quantities), *image_shape)`` (``K`` its detections), from ONE call of
    ``method.attribute`` over all rows.

    ``method`` is an attribution method over :class:`DetectorOutputs`; ``detections`` one
    :class:`Detections` per image (from :func:`detect`, or given by hand); ``attribute_kwargs``
    go to ``method.attribute`` (``n_steps``, ``sliding_window_shapes``, ...). A ``baselines``
    tensor with one row per image is matched to the rows. With ``return_convergence_delta=True``
    it returns ``(maps, deltas)``, the deltas per image shaped ``(K, len(quantities))``. Layer
    methods (``LayerGradCam(head, layer)``) give maps at the layer's resolution.

    Example:
        >>> from veracity.attr import Saliency
        >>> def detector(x):  # one slot: box (x_sum, 0, 1, 1), class 0 scored x_mean
        ...     flat = x.flatten(1)
        ...     zeros = torch.zeros_like(flat[:, 0])
        ...     boxes = torch.stack([flat.sum(1), zeros, zeros + 1, zeros + 1], 1)[:, None]
        ...     return boxes, flat.mean(1)[:, None, None]
        >>> found = [Detections.of([[0.0, 0, 1, 1]], labels=[0], slots=[0])]
        >>> maps = explain_detections(Saliency(DetectorOutputs(detector)), torch.ones(1, 1, 2, 2), found,
        ...                           quantities=("score", "x1"), abs=False)
        >>> maps[0].shape, maps[0][0, :, 0, 0, 0].tolist()
        (torch.Size([1, 2, 1, 2, 2]), [0.25, 1.0])
    """
    _head(method)
    chosen = _check_quantities(quantities)
    if not isinstance(images, Tensor) or images.dim() < 2:
        fail("images", "a batch of images shaped (batch, ...)", images, TypeError)
    if isinstance(detections, Detections) or len(detections) != images.shape[0] \
            or not all(isinstance(d, Detections) for d in detections):
        fail("detections", f"one Detections per image ({images.shape[0]})", detections, TypeError)
    rows, targets = [], []
    for i, found in enumerate(detections):
        pairs = detection_targets(found, chosen)
        rows += [i] * len(pairs)
        targets += pairs
    counts = [len(d) for d in detections]
    if not rows:
        return [images.new_zeros((0, len(chosen), *images.shape[1:])) for _ in counts]
    index = torch.tensor(rows, device=images.device)
    baselines = attribute_kwargs.get("baselines")
    if isinstance(baselines, Tensor) and baselines.dim() == images.dim() and baselines.shape[0] == images.shape[0]:
        attribute_kwargs = {**attribute_kwargs, "baselines": baselines[index]}
    result = method.attribute(images[index], target=targets, **attribute_kwargs)
    maps, delta = result if isinstance(result, tuple) else (result, None)
    sizes = [k * len(chosen) for k in counts]
    per_image = [m.reshape(k, len(chosen), *m.shape[1:]) for m, k in zip(torch.split(maps, sizes), counts)]
    if delta is None:
        return per_image
    return per_image, [d.reshape(k, len(chosen)) for d, k in zip(torch.split(delta, sizes), counts)]


def box_mass_fraction(maps: Sequence[Tensor], detections: Sequence[Detections]) -> list[Tensor]:
    """Per image ``(K, quantities)``: the fraction of absolute attribution inside each detection's
    own box (relevance mass accuracy with the box as the mask; channels summed; NaN for an
    all-zero map). ``maps`` as returned by :func:`explain_detections`.

    Example:
        >>> found = [Detections.of([[0.0, 0, 1, 2]], labels=[0], slots=[0])]
        >>> box_mass_fraction([torch.tensor([[[[[3.0, 1.0], [1.0, 0.0]]]]])], found)
        [tensor([[0.8000]])]
    """
    if len(maps) != len(detections):
        fail("maps", f"one map tensor per image ({len(detections)})", f"{len(maps)} tensors")
    fractions = []
    for m, found in zip(maps, detections):
        if m.dim() < 4 or m.shape[0] != len(found):
            fail("maps", f"maps shaped (detections={len(found)}, quantities, ..., height, width)", m)
        height, width = m.shape[-2:]
        masks = box_masks(found.boxes.detach().cpu(), height, width).to(m.device)
        per_pixel = m.reshape(m.shape[0], m.shape[1], -1, height, width).sum(2)
        expanded = masks[:, None].expand(-1, m.shape[1], -1, -1).reshape(-1, height, width)
        if not bool(expanded.reshape(expanded.shape[0], -1).any(1).all()):
            fail("detections", "boxes that contain at least one pixel centre", found.boxes)
        fractions.append(relevance_mass_accuracy(per_pixel.reshape(-1, height, width), expanded)
                         .reshape(m.shape[0], m.shape[1]))
    return fractions


def merge_maps(maps: Tensor, how: str = "or_average") -> Tensor:
    """DExT's multi-object merge of ``maps`` ``(K, ...)`` into one map scaled to [0, 1]:
    ``or_add`` / ``or_average`` sum / average the maps; ``and_add`` / ``and_average`` also keep
    only the elements that are non-zero in every map; then min-max scaling (all-equal: zeros).
    Apply ``abs()`` first to merge magnitudes.

    Example:
        >>> merge_maps(torch.tensor([[0.0, 1.0, 2.0], [0.0, 3.0, 0.0]]), "and_add").tolist()
        [0.0, 1.0, 0.0]
    """
    if how not in MERGES:
        fail("how", f"one of {MERGES}", repr(how))
    if not isinstance(maps, Tensor) or maps.dim() < 2 or maps.shape[0] == 0:
        fail("maps", "a tensor of maps shaped (K, ...) with K >= 1", maps, TypeError)
    merged = maps.sum(0) if how.endswith("add") else maps.mean(0)
    if how.startswith("and"):
        merged = merged * (maps != 0).all(0)
    low, high = merged.min(), merged.max()
    return (merged - low) / (high - low) if bool(high > low) else torch.zeros_like(merged)
