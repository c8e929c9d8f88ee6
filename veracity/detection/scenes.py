"""Synthetic detection scenes: 1-3 scikit-learn digits on a larger black canvas, with their
ground-truth boxes and labels (nothing is downloaded; needs scikit-learn, the ``demo`` extra).

Each digit is resized (bilinear) to one of ``sizes`` pixels and pasted where its ink box,
grown by ``gap`` pixels, overlaps no other digit's ink box. A digit's box is the tight box of
its ink (its non-zero pixels) in pixel-edge coordinates: ink in columns ``3..7`` gives
``x1 = 3, x2 = 8``. Hence every non-zero pixel of the canvas lies in exactly one box, and the
canvas inside a box is exactly that digit's ink.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from veracity._core.validate import check_positive_int, fail
from veracity.data.digits import load_digits

__all__ = ["Scenes", "make_scenes"]


@dataclass(frozen=True)
class Scenes:
    """``images`` ``(n, 1, canvas, canvas)`` in [0, 1]; per image ``boxes`` ``(k, 4)`` xyxy pixels
    and ``labels`` ``(k,)`` digit classes."""

    images: Tensor
    boxes: list[Tensor]
    labels: list[Tensor]

    def __len__(self) -> int:
        return int(self.images.shape[0])


@lru_cache(maxsize=2)
def _digits(split: str) -> tuple[Tensor, Tensor]:
    data = load_digits(0)
    return (data.train_x, data.train_y) if split == "train" else (data.test_x, data.test_y)


def _ink_box(patch: Tensor) -> tuple[int, int, int, int]:
    rows = patch.sum(1).nonzero().flatten()
    cols = patch.sum(0).nonzero().flatten()
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _overlaps(box: tuple[int, int, int, int], others: list[tuple[int, int, int, int]], gap: int) -> bool:
    return any(box[0] < o[2] + gap and o[0] < box[2] + gap and box[1] < o[3] + gap and o[1] < box[3] + gap
               for o in others)


def make_scenes(n: int, canvas: int = 32, objects: tuple[int, int] = (1, 3), sizes: tuple[int, ...] = (8, 12),
                split: str = "train", gap: int = 1, seed: int = 0) -> Scenes:
    """``n`` scenes of ``objects[0]..objects[1]`` digits from the ``split`` ("train"/"test") of
    :func:`veracity.data.load_digits`, reproducible under ``seed``. A digit that finds no free
    place in 100 tries is left out (so a crowded canvas may hold fewer than asked).

    Example:
        >>> scenes = make_scenes(4, seed=1)
        >>> tuple(scenes.images.shape), [len(b) for b in scenes.boxes]
        ((4, 1, 32, 32), [2, 1, 2, 1])
    """
    check_positive_int("n", n)
    check_positive_int("canvas", canvas)
    if split not in ("train", "test"):
        fail("split", "'train' or 'test'", repr(split))
    if len(objects) != 2 or not 1 <= objects[0] <= objects[1]:
        fail("objects", "(fewest, most) with 1 <= fewest <= most", repr(objects))
    if not sizes or any(not 1 <= s <= canvas for s in sizes):
        fail("sizes", f"digit sizes between 1 and the canvas ({canvas})", repr(sizes))
    digits, classes = _digits(split)
    generator = torch.Generator().manual_seed(seed)
    images = torch.zeros(n, 1, canvas, canvas)
    all_boxes, all_labels = [], []
    for i in range(n):
        count = int(torch.randint(objects[0], objects[1] + 1, (1,), generator=generator))
        boxes: list[tuple[int, int, int, int]] = []
        labels: list[int] = []
        for _ in range(count):
            pick = int(torch.randint(len(digits), (1,), generator=generator))
            size = sizes[int(torch.randint(len(sizes), (1,), generator=generator))]
            patch = F.interpolate(digits[pick][None], size=(size, size), mode="bilinear",
                                  align_corners=False)[0, 0].clamp(0, 1)
            ink = _ink_box(patch)
            for _ in range(100):
                left, top = (int(v) for v in torch.randint(canvas - size + 1, (2,), generator=generator))
                box = (left + ink[0], top + ink[1], left + ink[2], top + ink[3])
                if not _overlaps(box, boxes, gap):
                    region = images[i, 0, box[1]:box[3], box[0]:box[2]]
                    region.copy_(patch[ink[1]:ink[3], ink[0]:ink[2]])
                    boxes.append(box)
                    labels.append(int(classes[pick]))
                    break
        all_boxes.append(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
        all_labels.append(torch.tensor(labels, dtype=torch.long))
    return Scenes(images, all_boxes, all_labels)
