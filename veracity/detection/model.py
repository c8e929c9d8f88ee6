"""A small grid detector built in code (no torchvision), following the dense-head contract."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from veracity._core.validate import check_positive_int, fail

__all__ = ["TinyDetector"]


class TinyDetector(nn.Module):
    """A one-stage, anchor-free grid detector for small grey images (FCOS-like, one cell per object).

    conv3x3(1->w) -> ReLU -> maxpool2 -> conv3x3(w->2w) -> ReLU -> maxpool2 -> conv3x3(2w->2w) ->
    ReLU, then per cell of the stride-4 grid (the *slots*, row-major) a 1x1 conv gives
    ``classes + 1`` logits (the last is background) and 4 distances. ``forward`` returns
    ``(boxes, scores)``: boxes ``(batch, cells, 4)`` xyxy pixels, the cell centre minus/plus
    ``stride * softplus(distance)``; scores ``(batch, cells, classes)``, the softmax over
    classes and background with background dropped.

    Example:
        >>> boxes, scores = TinyDetector(canvas=32)(torch.zeros(2, 1, 32, 32))
        >>> tuple(boxes.shape), tuple(scores.shape)
        ((2, 64, 4), (2, 64, 10))
    """

    stride = 4
    centres: Tensor  # (cells, 2): x, y of each cell's centre in pixels

    def __init__(self, classes: int = 10, canvas: int = 32, width: int = 16) -> None:
        super().__init__()
        check_positive_int("classes", classes)
        check_positive_int("width", width)
        if canvas % self.stride:
            fail("canvas", f"a multiple of {self.stride}", str(canvas))
        self.classes, self.canvas = classes, canvas
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.conv3 = nn.Conv2d(2 * width, 2 * width, 3, padding=1)
        self.head = nn.Conv2d(2 * width, classes + 1 + 4, 1)
        grid = canvas // self.stride
        centres = (torch.arange(grid, dtype=torch.float32) + 0.5) * self.stride
        ys, xs = torch.meshgrid(centres, centres, indexing="ij")
        self.register_buffer("centres", torch.stack([xs.flatten(), ys.flatten()], 1), persistent=False)

    @property
    def grid(self) -> int:
        return self.canvas // self.stride

    def raw(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Per cell the class logits ``(batch, cells, classes + 1)`` and the distances
        ``(batch, cells, 4)`` (left, top, right, bottom) in units of the stride."""
        if images.dim() != 4 or tuple(images.shape[1:]) != (1, self.canvas, self.canvas):
            fail("images", f"images shaped (batch, 1, {self.canvas}, {self.canvas})", images)
        x = F.max_pool2d(F.relu(self.conv1(images)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        out = self.head(F.relu(self.conv3(x))).flatten(2).transpose(1, 2)
        return out[..., :self.classes + 1], F.softplus(out[..., self.classes + 1:])

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        logits, distances = self.raw(images)
        centres = self.centres.to(distances.dtype)
        low = centres - self.stride * distances[..., :2]
        high = centres + self.stride * distances[..., 2:]
        return torch.cat([low, high], 2), torch.softmax(logits, dim=2)[..., :self.classes]
