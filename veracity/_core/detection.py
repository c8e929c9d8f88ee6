"""The engine side of ``veracity.detection``: a detector's dense head as one explainable tensor.

A detector follows veracity's **dense-head contract** when ``detector(images)`` returns, before
any non-maximum suppression, either a tuple ``(boxes, scores)`` or a mapping with keys
``"boxes"`` and ``"scores"``:

- ``boxes``: ``(batch, slots, 4)`` floats, each slot's box decoded to image coordinates
  ``(x1, y1, x2, y2)`` in pixels (x: column, y: row);
- ``scores``: ``(batch, slots, classes)`` floats, each slot's confidence per class.

A *slot* is one pre-NMS prediction (an anchor, a grid cell, a query). The number of slots is
fixed by the architecture, so slot ``s`` of a perturbed or interpolated image is the same
prediction as slot ``s`` of the original: an explanation of detection ``j`` tracks it by its
slot (DExT's "track back to the pre-NMS box index", the bounded variant).

:class:`DetectorOutputs` wraps such a detector into a model with one output tensor
``(batch, slots, 4 + classes)`` (columns ``x1, y1, x2, y2, score_0, ...``), so every method of
``veracity.attr`` explains a slot's box coordinate or class score with the target
``(slot, column)``. Only this module calls the detector.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor, nn

from veracity._core.validate import fail

BOX_COLUMNS = ("x1", "y1", "x2", "y2")
CONTRACT = ("a dense (pre-NMS) head: a tuple (boxes, scores) or a mapping with keys 'boxes' and 'scores', "
            "boxes shaped (batch, slots, 4) as x1, y1, x2, y2 in pixels and scores shaped (batch, slots, "
            "classes)")


def _shapes(output: Any) -> str:
    if isinstance(output, Tensor):
        return f"one tensor of shape {tuple(output.shape)}"
    if isinstance(output, Mapping):
        parts = ", ".join(f"{k!r}: {tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__}"
                          for k, v in output.items())
        return f"a mapping {{{parts}}}"
    if isinstance(output, (tuple, list)):
        parts = ", ".join(str(tuple(v.shape)) if isinstance(v, Tensor) else type(v).__name__ for v in output)
        return f"a {type(output).__name__} of {len(output)} with shapes ({parts})"
    return type(output).__name__


def split_output(output: Any, rows: int) -> tuple[Tensor, Tensor]:
    """``(boxes, scores)`` of a detector's output, checked against the dense-head contract for a
    batch of ``rows`` images; any other output raises naming ``detector`` with the shapes returned.

    Example:
        >>> boxes, scores = split_output({"boxes": torch.zeros(2, 5, 4), "scores": torch.zeros(2, 5, 3)}, 2)
        >>> tuple(boxes.shape), tuple(scores.shape)
        ((2, 5, 4), (2, 5, 3))
    """
    if isinstance(output, Mapping) and "boxes" in output and "scores" in output:
        boxes, scores = output["boxes"], output["scores"]
    elif isinstance(output, (tuple, list)) and len(output) == 2:
        boxes, scores = output
    else:
        fail("detector", CONTRACT, _shapes(output), TypeError)
    if not isinstance(boxes, Tensor) or not isinstance(scores, Tensor):
        fail("detector", CONTRACT, _shapes(output), TypeError)
    good = (boxes.dim() == 3 and boxes.shape[2] == 4 and scores.dim() == 3
            and boxes.shape[:2] == scores.shape[:2] and boxes.shape[0] == rows and scores.shape[2] > 0
            and boxes.is_floating_point() and scores.is_floating_point())
    if not good:
        fail("detector", f"{CONTRACT}, with one row per image ({rows})", _shapes(output))
    return boxes, scores


def _hooked(module: nn.Module) -> bool:
    """Whether a forward hook watches the module or a submodule (layer capture must see every row)."""
    return any(m._forward_hooks or m._forward_pre_hooks for m in module.modules())


class DetectorOutputs(nn.Module):
    """A detector following the dense-head contract as a model with ONE output per image:
    ``(slots, 4 + classes)``, columns ``x1, y1, x2, y2`` then the class scores.

    Explain a slot's quantity with any attribution method and the target ``(slot, column)``
    (:func:`veracity.detection.detection_targets` builds them). The detector is not copied:
    its parameters, mode and buffers are the caller's and stay untouched.

    ``deduplicate`` (default True): under ``torch.no_grad`` / inference mode (perturbation methods,
    metrics), identical rows of a model call are evaluated once when the detector is an
    ``nn.Module`` that no forward hook watches (layer capture sees every row). Explaining several
    detections and quantities of one image stacks identical copies that a perturbation method
    perturbs alike, so this saves a factor of up to ``detections x quantities``. It assumes the
    detector treats each image independently of the rest of the batch (eval mode).

    Example:
        >>> from veracity.attr import Saliency
        >>> class Linear(torch.nn.Module):  # 2 slots, 3 classes, on 1x4x4 images
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.head = torch.nn.Linear(16, 2 * 7)
        ...     def forward(self, x):
        ...         out = self.head(x.flatten(1)).view(-1, 2, 7)
        ...         return out[..., :4], out[..., 4:]
        >>> head = DetectorOutputs(Linear())
        >>> tuple(head(torch.zeros(5, 1, 4, 4)).shape)
        (5, 2, 7)
        >>> Saliency(head).attribute(torch.zeros(1, 1, 4, 4), target=(1, 0)).shape  # slot 1, x1
        torch.Size([1, 1, 4, 4])
    """

    detector: Any

    def __init__(self, detector: Any, deduplicate: bool = True) -> None:
        super().__init__()
        if isinstance(detector, DetectorOutputs):
            detector = detector.detector
        if not callable(detector):
            fail("detector", "a callable detector (an nn.Module or a function)", detector, TypeError)
        self.detector = detector
        self.deduplicate = deduplicate
        self.training = bool(getattr(detector, "training", False))  # mirror, without touching the detector

    def boxes_and_scores(self, *inputs: Any) -> tuple[Tensor, Tensor]:
        """The detector's checked ``(boxes, scores)`` on ``inputs``."""
        rows = inputs[0].shape[0] if inputs and isinstance(inputs[0], Tensor) else -1
        return split_output(self.detector(*inputs), rows)

    def forward(self, *inputs: Any) -> Tensor:
        first = inputs[0] if len(inputs) == 1 else None
        if self.deduplicate and isinstance(first, Tensor) and first.shape[0] > 1 and not torch.is_grad_enabled() \
                and isinstance(self.detector, nn.Module) and not _hooked(self):
            # explaining K detections x 5 quantities of one image stacks as many identical copies;
            # a perturbation method then perturbs them alike: the detector sees each distinct row once
            unique, inverse = torch.unique(first.reshape(first.shape[0], -1), dim=0, return_inverse=True)
            if unique.shape[0] < first.shape[0]:
                return self._joined(unique.reshape(-1, *first.shape[1:]))[inverse]
        return self._joined(*inputs)

    def _joined(self, *inputs: Any) -> Tensor:
        boxes, scores = self.boxes_and_scores(*inputs)
        return torch.cat([boxes, scores.to(boxes.dtype)], dim=2)


def dense_predictions(head: DetectorOutputs, images: Tensor, batch_size: int = 256) -> tuple[Tensor, Tensor]:
    """``(boxes, scores)`` of ``head`` on ``images`` without gradients, ``batch_size`` images per call.

    Example:
        >>> head = DetectorOutputs(lambda x: (x.new_zeros(len(x), 3, 4), x.new_ones(len(x), 3, 2)))
        >>> [tuple(t.shape) for t in dense_predictions(head, torch.zeros(5, 1, 4, 4), batch_size=2)]
        [(5, 3, 4), (5, 3, 2)]
    """
    parts_boxes, parts_scores = [], []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            boxes, scores = head.boxes_and_scores(images[start:start + batch_size])
            parts_boxes.append(boxes.detach())
            parts_scores.append(scores.detach())
    if not parts_boxes:
        fail("images", "at least one image", f"a tensor of shape {tuple(images.shape)}")
    return torch.cat(parts_boxes), torch.cat(parts_scores)
