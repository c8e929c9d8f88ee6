"""Spurious artifacts planted on images, with the exact mask of the pixels they changed.

Three kinds, each a deterministic pixel operation on a rectangular ``box`` ``(top, left,
height, width)`` of every channel:

* ``"patch"``: a visible square tag, the pixels of the box *set* to ``value`` (default a 2x2
  box in the top-left corner, ``value`` 1.0, the brightest digit intensity);
* ``"stripe"``: a thin full-length line, set to ``value`` (default column 0, full height);
* ``"tint"``: on grayscale images a tint is an additive intensity shift: ``shift`` (default
  +0.25) is added to the box, *without clamping* (values may leave [0, 1]), so that every pixel
  of the box changes. Default box: the top half of the image, a diffuse artifact that overlaps
  the strokes (the closest grayscale analogue of the paper's non-visible artifacts).

The returned mask marks exactly the pixels whose value changed (in any channel): the box,
less any pixel that already held ``value`` (patch, stripe). So the planted image differs from
the clean one exactly on the mask; a tint's mask is its whole box.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from veracity._core.validate import check_choice, fail

__all__ = ["ARTIFACTS", "default_box", "plant_artifact"]

ARTIFACTS = ("patch", "stripe", "tint")
Box = tuple[int, int, int, int]


def default_box(kind: str, height: int, width: int) -> Box:
    """The default ``(top, left, height, width)`` box of artifact ``kind`` on an image of
    ``height x width`` pixels.

    Example:
        >>> default_box("patch", 8, 8), default_box("stripe", 8, 8), default_box("tint", 8, 8)
        ((0, 0, 2, 2), (0, 0, 8, 1), (0, 0, 4, 8))
    """
    check_choice("kind", kind, ARTIFACTS)
    if kind == "patch":
        side = max(1, min(height, width) // 4)
        return (0, 0, side, side)
    if kind == "stripe":
        return (0, 0, height, 1)
    return (0, 0, max(1, height // 2), width)


def _check_images(images: Any) -> Tensor:
    if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
        fail("images", "a floating-point tensor shaped (batch, channels, height, width)", images, TypeError)
    return images


def _check_box(box: Any, height: int, width: int) -> Box:
    if not (isinstance(box, (tuple, list)) and len(box) == 4
            and all(isinstance(v, int) and not isinstance(v, bool) for v in box)):
        fail("box", "a tuple of 4 integers (top, left, height, width)", box, TypeError)
    top, left, h, w = box
    if top < 0 or left < 0 or h < 1 or w < 1 or top + h > height or left + w > width:
        fail("box", f"a box (top, left, height, width) of positive size inside the {height}x{width} image",
             repr(tuple(box)))
    return (top, left, h, w)


def _check_number(name: str, value: Any, nonzero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not torch.isfinite(torch.tensor(value)):
        fail(name, "a finite number", value, TypeError)
    if nonzero and value == 0:
        fail(name, "a non-zero number (a zero shift plants nothing)", repr(value))
    return float(value)


def plant_artifact(images: Tensor, kind: str = "patch", *, box: Box | None = None, value: float = 1.0,
                   shift: float = 0.25) -> tuple[Tensor, Tensor]:
    """``(planted, masks)``: ``images`` with artifact ``kind`` planted on every example, and the
    boolean masks ``(batch, 1, height, width)`` of exactly the pixels that changed.

    ``images`` ``(batch, channels, height, width)`` are not modified. ``box`` is
    ``(top, left, height, width)`` (default :func:`default_box`); ``value`` is what a patch or
    a stripe writes, ``shift`` what a tint adds.

    Example:
        >>> import torch
        >>> planted, masks = plant_artifact(torch.zeros(1, 1, 4, 4), "patch")
        >>> planted[0, 0]
        tensor([[1., 0., 0., 0.],
                [0., 0., 0., 0.],
                [0., 0., 0., 0.],
                [0., 0., 0., 0.]])
        >>> bool(torch.equal(masks, planted != 0))
        True
    """
    images = _check_images(images)
    check_choice("kind", kind, ARTIFACTS)
    height, width = images.shape[-2:]
    top, left, h, w = _check_box(default_box(kind, height, width) if box is None else box, height, width)
    planted = images.detach().clone()
    region = planted[..., top:top + h, left:left + w]
    if kind == "tint":
        region += _check_number("shift", shift, nonzero=True)
    else:
        region.fill_(_check_number("value", value))
    masks = (planted != images.detach()).any(1, keepdim=True)
    return planted, masks
