"""Small CNNs for the synthetic cells: a classifier, and the same classifier with a mabCAM head.

:class:`CellsCNN` is three 3x3 conv layers with batch norm (two 2x2 max-pools), global average
pooling and a linear layer: Grad-CAM at ``relu3`` is then the classic CAM. (Batch norm, as in
the paper's networks, is what lets the joint loss below train: without it the heatmap loss
killed the classifier's units in our runs, test accuracy at chance.) :class:`MabCellsNet` adds the
paper's magnitude-banded decoder (Tjoa & Guan's mabSPA idea on a small network): from
``relu3`` it upsamples back to the input, joins ``relu1`` (a skip connection) and ends in
``bands``, a conv layer whose three channels are logits of the heatmap levels 0 / 0.4 / 0.9.
The forward computes both heads, as mabSPA's "label+heatmap" mode, and returns the class
logits; :class:`veracity.attr.LayerMabCam` reads the heatmap at ``model.bands``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["CellsCNN", "MabCellsNet"]


class CellsCNN(nn.Module):
    """Classifier of ``(B, 3, S, S)`` cell images (S divisible by 4) into ``classes`` logits.

    Example:
        >>> import torch
        >>> from veracity.synthetic import CellsCNN
        >>> CellsCNN(classes=4).eval()(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 4])
    """

    def __init__(self, classes: int = 4, width: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(2 * width)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(2 * width, 2 * width, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(2 * width)
        self.relu3 = nn.ReLU()
        self.fc = nn.Linear(2 * width, classes)

    def features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``relu1``'s and ``relu3``'s outputs."""
        early = self.relu1(self.bn1(self.conv1(x)))
        middle = self.relu2(self.bn2(self.conv2(self.pool1(early))))
        late = self.relu3(self.bn3(self.conv3(self.pool2(middle))))
        return early, late

    def classify(self, late: Tensor) -> Tensor:
        return self.fc(late.mean((2, 3)))

    def forward(self, x: Tensor) -> Tensor:
        return self.classify(self.features(x)[1])


class MabCellsNet(CellsCNN):
    """:class:`CellsCNN` plus a decoder to three heatmap-level logits at ``bands`` (input size).

    Example:
        >>> import torch
        >>> from veracity.attr import LayerMabCam
        >>> from veracity.synthetic import MabCellsNet
        >>> model = MabCellsNet(classes=4).eval()
        >>> LayerMabCam(model, model.bands).attribute(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 1, 32, 32])
    """

    def __init__(self, classes: int = 4, width: int = 16) -> None:
        super().__init__(classes, width)
        self.up = nn.Upsample(scale_factor=4, mode="bilinear", align_corners=False)
        self.decode = nn.Conv2d(2 * width, width, 3, padding=1)
        self.relu_decode = nn.ReLU()
        self.bands = nn.Conv2d(2 * width, 3, 3, padding=1)

    def band_logits(self, early: Tensor, late: Tensor) -> Tensor:
        decoded = self.relu_decode(self.decode(self.up(late)))
        return self.bands(torch.cat([decoded, early], 1))

    def forward(self, x: Tensor) -> Tensor:
        early, late = self.features(x)
        self.band_logits(early, late)  # the heatmap head runs in every forward, read at `bands`
        return self.classify(late)
