"""Post-processing of a dense detector head: per-slot best class, score threshold, NMS.

Each kept detection remembers its **slot** (its pre-NMS index in the head), which is what an
explanation tracks (see :mod:`veracity._core.detection` for the output contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from veracity._core.detection import DetectorOutputs, dense_predictions
from veracity._core.validate import fail

__all__ = ["Detections", "box_iou", "non_maximum_suppression", "detect", "box_masks"]


@dataclass(frozen=True)
class Detections:
    """The detections of one image: ``boxes`` ``(K, 4)`` xyxy pixels, ``scores`` ``(K,)``,
    ``labels`` ``(K,)`` class indices and ``slots`` ``(K,)`` their pre-NMS slot in the head,
    sorted by decreasing score."""

    boxes: Tensor
    scores: Tensor
    labels: Tensor
    slots: Tensor

    def __len__(self) -> int:
        return int(self.slots.shape[0])

    @classmethod
    def of(cls, boxes: Any, labels: Any, slots: Any, scores: Any = None) -> "Detections":
        """Detections given by hand (e.g. ground truth matched to slots): checked and as tensors.

        Example:
            >>> d = Detections.of([[0.0, 0.0, 4.0, 4.0]], labels=[3], slots=[5])
            >>> len(d), d.labels.tolist()
            (1, [3])
        """
        b = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4) if not isinstance(boxes, Tensor) else boxes
        lab, slot = torch.as_tensor(labels, dtype=torch.long), torch.as_tensor(slots, dtype=torch.long)
        sc = torch.ones(len(slot)) if scores is None else torch.as_tensor(scores, dtype=torch.float32)
        if b.dim() != 2 or b.shape[1] != 4:
            fail("boxes", "a (K, 4) array of x1, y1, x2, y2", b)
        if not (lab.shape == slot.shape == sc.shape == (b.shape[0],)):
            fail("labels", f"labels, slots and scores with one entry per box ({b.shape[0]})",
                 f"shapes {tuple(lab.shape)}, {tuple(slot.shape)}, {tuple(sc.shape)}")
        return cls(b, sc, lab, slot)


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Intersection over union of every box in ``a`` ``(n, 4)`` with every box in ``b`` ``(m, 4)``.

    Example:
        >>> box_iou(torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[1.0, 0, 3, 2], [0.0, 0, 2, 2]]))
        tensor([[0.3333, 1.0000]])
    """
    width = (torch.minimum(a[:, None, 2], b[None, :, 2]) - torch.maximum(a[:, None, 0], b[None, :, 0])).clamp(min=0)
    height = (torch.minimum(a[:, None, 3], b[None, :, 3]) - torch.maximum(a[:, None, 1], b[None, :, 1])).clamp(min=0)
    inter = width * height
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def non_maximum_suppression(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float = 0.5) -> Tensor:
    """Indices kept by greedy per-class NMS, in decreasing score order: a box is dropped when it
    overlaps a kept box of the same label with IoU above ``iou_threshold``.

    Example:
        >>> boxes = torch.tensor([[0.0, 0, 4, 4], [0.5, 0, 4.5, 4], [10.0, 10, 14, 14]])
        >>> non_maximum_suppression(boxes, torch.tensor([0.9, 0.8, 0.7]), torch.tensor([1, 1, 1])).tolist()
        [0, 2]
    """
    order = torch.argsort(scores, descending=True, stable=True)
    overlap = box_iou(boxes[order], boxes[order]) > iou_threshold
    same = labels[order][:, None] == labels[order][None, :]
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):  # greedy: each kept box suppresses the later ones it overlaps
        if not suppressed[i]:
            keep.append(i)
            suppressed |= overlap[i] & same[i]
    return order[torch.tensor(keep, dtype=torch.long)]


def detect(detector: Any, images: Tensor, score_threshold: float = 0.5, iou_threshold: float = 0.5,
           max_detections: int = 100, batch_size: int = 256) -> list[Detections]:
    """The detections of a dense-head detector on ``images`` ``(batch, C, H, W)``: each slot's
    best class, those scoring at least ``score_threshold``, per-class NMS, at most
    ``max_detections`` per image. Each detection keeps its slot.

    Example:
        >>> def detector(x):  # slot 0 finds class 1 in a fixed box, slot 1 nothing
        ...     boxes = torch.tensor([[1.0, 1, 3, 3], [0, 0, 1, 1]]).expand(len(x), 2, 4)
        ...     scores = torch.tensor([[0.1, 0.9], [0.2, 0.1]]).expand(len(x), 2, 2)
        ...     return boxes, scores
        >>> found = detect(detector, torch.zeros(1, 1, 4, 4))
        >>> found[0].slots.tolist(), found[0].labels.tolist()
        ([0], [1])
    """
    if not isinstance(images, Tensor) or images.dim() < 2:
        fail("images", "a batch of images shaped (batch, channels, height, width)", images, TypeError)
    boxes, scores = dense_predictions(DetectorOutputs(detector), images, batch_size)
    found = []
    for b, s in zip(boxes, scores):
        best, labels = s.max(dim=1)
        slots = (best >= score_threshold).nonzero().flatten()
        kept = slots[non_maximum_suppression(b[slots], best[slots], labels[slots], iou_threshold)][:max_detections]
        found.append(Detections(b[kept], best[kept], labels[kept], kept))
    return found


def box_masks(boxes: Tensor, height: int, width: int) -> Tensor:
    """Boolean masks ``(K, height, width)``: the pixels whose centres lie inside each box.

    Pixel ``(row i, column j)`` covers ``[j, j+1) x [i, i+1)``; its centre is ``(j + 0.5, i + 0.5)``.

    Example:
        >>> box_masks(torch.tensor([[1.0, 0.0, 3.0, 1.0]]), 2, 4).int().tolist()
        [[[0, 1, 1, 0], [0, 0, 0, 0]]]
    """
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    xs = torch.arange(width, dtype=torch.float32) + 0.5
    ys = torch.arange(height, dtype=torch.float32) + 0.5
    inside_x = (xs[None, :] >= boxes[:, 0:1]) & (xs[None, :] <= boxes[:, 2:3])
    inside_y = (ys[None, :] >= boxes[:, 1:2]) & (ys[None, :] <= boxes[:, 3:4])
    return inside_y[:, :, None] & inside_x[:, None, :]
