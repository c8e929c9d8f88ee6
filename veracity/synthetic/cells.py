"""Synthetic cells with ground-truth heatmaps (Tjoa & Guan, "Quantifying Explainability of
Saliency Methods in Deep Neural Networks", IEEE TAI; arXiv 2009.02899), drawn on demand.

Each image is one "cell" on a background: a round body (the *localisation* region) with an
inner feature whose shape is the class (the *discriminative* region). The ground-truth heatmap
is the paper's three-level map, computed from the very masks that paint the image: 0.9 on the
feature, 0.4 on the rest of the body, 0 on the background. Body and feature colours are the
same for every class (small per-image jitter), so only the feature's shape tells the classes
apart: an explanation that looks at the right place must mark the feature.

Images are ``(3, size, size)`` in [0, 1]; the backgrounds (plain, noise, stripes: the paper's
three background types, redrawn) stay in [0, 0.35] and every cell colour has a channel above
0.5 where the background has none, so an image differs from its background exactly where the
heatmap is non-zero. Everything is drawn from one ``torch.Generator`` seeded by ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from veracity._core.validate import check_positive_int, fail

__all__ = ["CELL_CLASSES", "BACKGROUNDS", "FEATURE", "LOCALISATION", "Cells", "cell_masks", "make_cells"]

CELL_CLASSES = ("dot", "hbar", "vbar", "ring", "pair")
BACKGROUNDS = ("plain", "noise", "stripes")
FEATURE, LOCALISATION = 0.9, 0.4  # the paper's dark-red and light-red levels

_BODY_RGB = (0.85, 0.45, 0.55)
_FEATURE_RGB = (0.25, 0.15, 0.70)
_JITTER = 0.05
_BACKGROUND_MAX = 0.35


@dataclass(frozen=True)
class Cells:
    """A drawn set: ``images`` ``(N, 3, S, S)``, ``labels`` ``(N,)``, ``heatmaps`` ``(N, S, S)``
    (0 / 0.4 / 0.9), the ``backgrounds`` alone ``(N, 3, S, S)``, ``background_types`` ``(N,)``
    (index into :data:`BACKGROUNDS`), the cells' ``centres`` ``(N, 2)`` (row, column) and
    ``radii`` ``(N,)`` in pixels, and the ``class_names``.

    Example:
        >>> from veracity.synthetic import make_cells
        >>> cells = make_cells(4, size=16, seed=0)
        >>> cells.feature_masks.shape, bool((cells.heatmaps[cells.feature_masks] == 0.9).all())
        (torch.Size([4, 16, 16]), True)
    """

    images: Tensor
    labels: Tensor
    heatmaps: Tensor
    backgrounds: Tensor
    background_types: Tensor
    centres: Tensor
    radii: Tensor
    class_names: tuple[str, ...]

    @property
    def feature_masks(self) -> Tensor:
        """Where the discriminative feature is (heatmap 0.9), ``(N, S, S)`` bool."""
        return self.heatmaps == FEATURE

    @property
    def cell_masks(self) -> Tensor:
        """Where the whole cell is (heatmap > 0), ``(N, S, S)`` bool."""
        return self.heatmaps > 0

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: Tensor | slice) -> Cells:
        """The examples at ``index``, as a :class:`Cells`."""
        return Cells(self.images[index], self.labels[index], self.heatmaps[index], self.backgrounds[index],
                     self.background_types[index], self.centres[index], self.radii[index], self.class_names)


def cell_masks(labels: Tensor, centres: Tensor, radii: Tensor, size: int,
               class_names: tuple[str, ...] = CELL_CLASSES) -> tuple[Tensor, Tensor]:
    """The body and feature masks ``(N, size, size)`` of cells given by their geometry.

    Pixel ``(i, j)`` is tested at its integer coordinates. With ``d`` the distance to the
    centre ``c`` and ``r`` the radius: the body is ``d <= r``; the features (inside the body)
    are ``dot``: ``d <= 0.35 r``; ``hbar`` / ``vbar``: ``|di| <= 1, |dj| <= 0.6 r`` (or
    transposed); ``ring``: ``|d - 0.55 r| <= 0.8``; ``pair``: two discs of radius
    ``max(1.5, 0.25 r)`` at ``c -+ 0.4 r (1, 1)``; ``blank`` (no cell): empty masks.

    Example:
        >>> import torch
        >>> body, feature = cell_masks(torch.tensor([0]), torch.tensor([[4.0, 4.0]]), torch.tensor([3.0]), 9)
        >>> int(body.sum()), int(feature.sum())  # a disc of radius 3, a dot of radius 1.05
        (29, 5)
    """
    grid = torch.arange(size, dtype=torch.float64)
    di = grid.view(1, -1, 1) - centres[:, 0].double().view(-1, 1, 1)
    dj = grid.view(1, 1, -1) - centres[:, 1].double().view(-1, 1, 1)
    r = radii.double().view(-1, 1, 1)
    d = (di.square() + dj.square()).sqrt()
    body = d <= r
    small = torch.clamp(0.25 * r, min=1.5)
    offset = 0.4 * r
    shapes = {
        "dot": d <= 0.35 * r,
        "hbar": (di.abs() <= 1) & (dj.abs() <= 0.6 * r),
        "vbar": (dj.abs() <= 1) & (di.abs() <= 0.6 * r),
        "ring": (d - 0.55 * r).abs() <= 0.8,
        "pair": (((di + offset).square() + (dj + offset).square()).sqrt() <= small)
        | (((di - offset).square() + (dj - offset).square()).sqrt() <= small),
    }
    feature = torch.zeros_like(body)
    blank = torch.zeros_like(body[:, 0, 0])
    for k, name in enumerate(class_names):
        chosen = (labels == k).view(-1, 1, 1)
        if name == "blank":
            blank |= chosen.view(-1)
        else:
            feature |= chosen & shapes[name]
    body &= ~blank.view(-1, 1, 1)
    return body, feature & body


def _backgrounds(kinds: Tensor, size: int, generator: torch.Generator) -> Tensor:
    n = kinds.shape[0]
    level = 0.05 + 0.2 * torch.rand(n, 1, 1, 1, generator=generator)
    noise = _BACKGROUND_MAX * torch.rand(n, 1, size, size, generator=generator)
    angle = torch.pi * torch.rand(n, 1, 1, 1, generator=generator)
    period = 3.0 + 4.0 * torch.rand(n, 1, 1, 1, generator=generator)
    grid = torch.arange(size, dtype=torch.float32)
    along = grid.view(1, 1, -1, 1) * torch.sin(angle) + grid.view(1, 1, 1, -1) * torch.cos(angle)
    stripes = 0.15 + 0.12 * torch.sin(2 * torch.pi * along / period)
    plain = level.expand(n, 1, size, size)
    grey = torch.where(kinds.view(-1, 1, 1, 1) == 0, plain, torch.where(kinds.view(-1, 1, 1, 1) == 1, noise, stripes))
    return grey.expand(n, 3, size, size).clamp(0.0, _BACKGROUND_MAX).contiguous()


def make_cells(n: int, size: int = 32, classes: int = 4, *, blank: bool = False, seed: int = 0,
               backgrounds: tuple[str, ...] = BACKGROUNDS) -> Cells:
    """Draw ``n`` synthetic cells of ``classes`` kinds (the first of :data:`CELL_CLASSES`),
    balanced, in random order, under ``seed``.

    ``blank=True`` adds the paper's blank class (label ``classes``: background only, heatmap
    all zero). Radii are uniform in [0.22, 0.34] x ``size``, centres uniform where the cell
    fits; the background type is drawn uniformly from ``backgrounds``.

    Example:
        >>> from veracity.synthetic import make_cells
        >>> cells = make_cells(8, size=32, classes=3, seed=1)
        >>> cells.images.shape, cells.labels.tolist()[:4], cells.heatmaps.unique()
        (torch.Size([8, 3, 32, 32]), [2, 1, 2, 0], tensor([0.0000, 0.4000, 0.9000]))
    """
    check_positive_int("n", n)
    check_positive_int("size", size, 12)
    if isinstance(classes, bool) or not isinstance(classes, int) or not 1 <= classes <= len(CELL_CLASSES):
        fail("classes", f"an integer from 1 to {len(CELL_CLASSES)}", classes)
    if not backgrounds or any(b not in BACKGROUNDS for b in backgrounds):
        fail("backgrounds", f"a non-empty tuple of names from {BACKGROUNDS}", backgrounds)
    generator = torch.Generator().manual_seed(seed)
    names = CELL_CLASSES[:classes] + (("blank",) if blank else ())
    labels = torch.arange(n) % len(names)
    labels = labels[torch.randperm(n, generator=generator)]
    radii = size * (0.22 + 0.12 * torch.rand(n, generator=generator))
    low = radii + 1
    span = (size - 2 - 2 * radii).clamp(min=0)
    centres = low.unsqueeze(1) + span.unsqueeze(1) * torch.rand(n, 2, generator=generator)
    allowed = torch.tensor([BACKGROUNDS.index(b) for b in backgrounds])
    kinds = allowed[torch.randint(len(allowed), (n,), generator=generator)]
    back = _backgrounds(kinds, size, generator)
    body_rgb = torch.tensor(_BODY_RGB) + _JITTER * (2 * torch.rand(n, 3, generator=generator) - 1)
    feature_rgb = torch.tensor(_FEATURE_RGB) + _JITTER * (2 * torch.rand(n, 3, generator=generator) - 1)
    body, feature = cell_masks(labels, centres, radii, size, names)
    images = torch.where(body.unsqueeze(1), body_rgb.view(n, 3, 1, 1), back)
    images = torch.where(feature.unsqueeze(1), feature_rgb.view(n, 3, 1, 1), images)
    heatmaps = torch.where(feature, FEATURE, torch.where(body, LOCALISATION, 0.0)).float()
    return Cells(images.float(), labels, heatmaps, back, kinds, centres.float(), radii.float(), names)
