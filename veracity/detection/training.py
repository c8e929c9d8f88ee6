"""Training :class:`~veracity.detection.TinyDetector` on synthetic scenes (seconds on a CPU).

Each ground-truth object is assigned to the grid cell holding its box centre; that cell learns
the object's class (cross-entropy against all other cells' background) and its distances to
the box edges (L1, in units of the stride).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from veracity._core.progress import progress_bar
from veracity._core.validate import check_positive_int
from veracity.detection.model import TinyDetector
from veracity.detection.scenes import Scenes

__all__ = ["training_targets", "train_tiny_detector"]


def training_targets(model: TinyDetector, scenes: Scenes) -> tuple[Tensor, Tensor]:
    """Per image and cell the class to learn ``(n, cells)`` (``classes`` = background) and the
    distances ``(n, cells, 4)`` to the assigned box's edges in strides (zero where background).

    Example:
        >>> from veracity.detection import make_scenes
        >>> classes, distances = training_targets(TinyDetector(), make_scenes(2, seed=1))
        >>> tuple(classes.shape), int((classes < 10).sum())
        ((2, 64), 3)
    """
    cells = model.grid * model.grid
    classes = torch.full((len(scenes), cells), model.classes, dtype=torch.long)
    distances = torch.zeros(len(scenes), cells, 4)
    for i, (boxes, labels) in enumerate(zip(scenes.boxes, scenes.labels)):
        if len(boxes) == 0:
            continue
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        column, row = (centres / model.stride).floor().long().clamp(0, model.grid - 1).unbind(1)
        cell = row * model.grid + column
        classes[i, cell] = labels
        anchor = model.centres[cell]
        distances[i, cell] = torch.cat([anchor - boxes[:, :2], boxes[:, 2:] - anchor], 1) / model.stride
    return classes, distances


def train_tiny_detector(scenes: Scenes, epochs: int = 15, seed: int = 0, width: int = 16,
                        batch_size: int = 64, lr: float = 1e-2, show_progress: bool = False) -> TinyDetector:
    """A :class:`TinyDetector` trained with Adam on ``scenes``; reproducible under ``seed`` (the
    global torch RNG is left as it was). Returns it in eval mode.

    Example:
        >>> from veracity.detection import make_scenes
        >>> model = train_tiny_detector(make_scenes(64, seed=0), epochs=1)
        >>> model.training
        False
    """
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TinyDetector(classes=10, canvas=scenes.images.shape[-1], width=width)
    classes, distances = training_targets(model, scenes)
    weights = torch.ones(model.classes + 1)
    weights[-1] = 0.1  # background cells outnumber objects about 30 to 1
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    with progress_bar(epochs, show_progress, "training the detector") as bar:
        for _ in range(epochs):
            _epoch(model, scenes.images, classes, distances, weights, optimizer,
                   torch.randperm(len(scenes), generator=generator), batch_size)
            bar.update()
    return model.eval()


def _epoch(model: TinyDetector, images: Tensor, classes: Tensor, distances: Tensor, weights: Tensor,
           optimizer: torch.optim.Optimizer, order: Tensor, batch_size: int) -> None:
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        logits, predicted = model.raw(images[idx])
        target = classes[idx]
        loss = F.cross_entropy(logits.reshape(-1, model.classes + 1), target.reshape(-1), weight=weights)
        positive = target < model.classes
        if bool(positive.any()):
            loss = loss + F.l1_loss(predicted[positive], distances[idx][positive])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
