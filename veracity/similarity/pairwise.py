"""Pairwise occlusion: random boxes erased in both views at once.

Sammani, Joukovsky & Deligiannis (arXiv 2206.09753). Each of ``n_erasures`` draws erases one
random box in each view (torchvision's ``RandomErasing(p=1, scale, ratio)``: a box of
``scale`` times the image's area and aspect ratio in ``ratio``, drawn log-uniformly; up to 10
tries to fit it, else nothing is erased). The similarity drop of the pair,
``drop_n = s(x1, x2) - s(x1_n, x2_n)``, becomes a weight ``w = softmax_n(drop_n)`` (per example,
over the draws), added to the erased pixels of the view whose erased embedding has the smaller
norm (the paper's rule; ``credit="both"`` credits both views). Each map is divided by its
maximum. The paper's code credits every pixel that is 0 after erasing (also the background
that was 0 before); here only the erased box is credited, as the method describes.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.similarity import check_widths, embed, embed_points, scored, similarity_function
from veracity._core.validate import check_choice, check_positive_int, fail
from veracity.similarity._views import check_same_batch, check_view

_TRIES = 10


class PairwiseOcclusion:
    """Random erasing of both views, each erasure weighted by the softmax of its similarity drop.

    ``forward_func`` is any embedding model (one embedding per example; trailing dimensions
    flattened), ``similarity`` ``"cosine"``, ``"dot"`` or a callable ``(z1, z2) -> (rows,)``.
    Views are batch-first images ``(batch, ..., height, width)``; a box covers every channel.
    Returns ``(map1, map2)`` shaped like the views, each example's map in ``[0, 1]`` when
    ``normalize`` (the paper's). Reproducible under ``generator``; the draws are made for the
    whole batch at once, so an example gets other boxes in another batch (no batch invariance).

    Example:
        >>> import torch
        >>> from veracity.data.toy import toy_cnn
        >>> from veracity.similarity import PairwiseOcclusion
        >>> encoder, x = toy_cnn()
        >>> map1, map2 = PairwiseOcclusion(encoder).attribute(x, x.flip(-1), n_erasures=20,
        ...                                                   generator=torch.Generator().manual_seed(0))
        >>> map1.shape, float(torch.maximum(map1, map2).amax())
        (torch.Size([2, 1, 8, 8]), 1.0)
    """

    def __init__(self, forward_func: Callable[..., Any], similarity: Any = "cosine") -> None:
        self.forward_func = forward_func
        self.similarity = similarity_function(similarity)

    def attribute(self, view1: Tensor, view2: Tensor, n_erasures: int = 100,
                  scale: tuple[float, float] = (0.1, 0.33), ratio: tuple[float, float] = (1.0, 1.5),
                  baselines: Any = None, credit: str = "smaller_norm", normalize: bool = True,
                  generator: torch.Generator | None = None, additional_forward_args: Any = None,
                  perturbations_per_eval: int | None = None, show_progress: bool = False) -> tuple[Tensor, Tensor]:
        """``(map1, map2)``: per pixel, the summed softmax weights of the erasures that covered it
        in the view credited for them."""
        views = (check_view("view1", view1, 3), check_view("view2", view2, 3))
        check_same_batch("view1", view1, "view2", view2)
        check_positive_int("n_erasures", n_erasures)
        check_choice("credit", credit, ("smaller_norm", "both"))
        _check_range("scale", scale, upper=1.0)
        _check_range("ratio", ratio)
        calls = [Call.of(self.forward_func, v, None, additional_forward_args) for v in views]
        fills = [call.baselines(baselines)[0] for call in calls]
        boxes = [_boxes(n_erasures, v.shape[0], v.shape[-2], v.shape[-1], scale, ratio, generator, v.device)
                 for v in views]
        shapes = (tuple(view1.shape), tuple(view2.shape))
        first, second = embed(calls[0]), embed(calls[1])
        check_widths(first, second, shapes)
        base = scored(self.similarity, first, second)
        erased = [embed_points(call, n_erasures, _erasing(view, fill, box), perturbations_per_eval,
                               show_progress=show_progress, desc=f"PairwiseOcclusion view {index + 1}")
                  for index, (call, view, fill, box) in enumerate(zip(calls, views, fills, boxes))]
        batch, width = view1.shape[0], first.shape[1]
        pair_scores = scored(self.similarity, erased[0].reshape(-1, width), erased[1].reshape(-1, width))
        weights = torch.softmax((base.unsqueeze(0) - pair_scores.reshape(n_erasures, batch)).double(), dim=0)
        norms = [e.double().norm(dim=2) for e in erased]
        smaller_first = norms[0] < norms[1]
        credited = (smaller_first, ~smaller_first) if credit == "smaller_norm" else (smaller_first | True,) * 2
        maps = tuple(_credit(weights * c, box, view, normalize) for c, box, view in zip(credited, boxes, views))
        return maps[0], maps[1]


def _check_range(name: str, value: Any, upper: float = math.inf) -> None:
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            or not 0 < value[0] <= value[1] <= upper):
        bound = "" if upper == math.inf else f" <= {upper:g}"
        fail(name, f"a pair (low, high) with 0 < low <= high{bound}", value)


def _boxes(n: int, batch: int, height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float],
           generator: torch.Generator | None, device: torch.device) -> Tensor:
    """``(n, batch, 4)`` integer boxes ``(top, left, box height, box width)``, RandomErasing's
    draw: the first of 10 tries that fits; a box of height 0 when none does."""
    def uniform(low: float, high: float) -> Tensor:
        return low + (high - low) * torch.rand(n, batch, _TRIES, generator=generator, dtype=torch.float64)

    area = uniform(scale[0], scale[1]) * height * width
    aspect = torch.exp(uniform(math.log(ratio[0]), math.log(ratio[1])))
    box_height = torch.round(torch.sqrt(area * aspect)).long()
    box_width = torch.round(torch.sqrt(area / aspect)).long()
    fits = (box_height < height) & (box_width < width)
    first = fits.long().argmax(dim=2, keepdim=True)
    any_fit = fits.any(dim=2)
    box_height = box_height.gather(2, first).squeeze(2) * any_fit
    box_width = box_width.gather(2, first).squeeze(2) * any_fit
    top = (torch.rand(n, batch, generator=generator, dtype=torch.float64) * (height - box_height + 1)).long()
    left = (torch.rand(n, batch, generator=generator, dtype=torch.float64) * (width - box_width + 1)).long()
    return torch.stack([top, left, box_height, box_width], dim=2).to(device)


def _erasing(view: Tensor, fill: Tensor, boxes: Tensor) -> Callable[[int, int], tuple[Tensor, ...]]:
    """The points' builder: draws ``start..stop-1`` of ``view``, their boxes set to ``fill``."""
    def build(start: int, stop: int) -> tuple[Tensor, ...]:
        keep = ~_masks(boxes[start:stop], view)
        return (torch.where(keep, view.unsqueeze(0), fill.unsqueeze(0)).reshape(-1, *view.shape[1:]),)
    return build


def _covered(boxes: Tensor, height: int, width: int) -> Tensor:
    """Boolean ``(k, batch, height, width)``: the pixels each box covers."""
    rows = torch.arange(height, device=boxes.device)
    cols = torch.arange(width, device=boxes.device)
    top, left, box_height, box_width = (boxes[..., i, None] for i in range(4))
    in_rows = (rows >= top) & (rows < top + box_height)
    in_cols = (cols >= left) & (cols < left + box_width)
    return in_rows.unsqueeze(-1) & in_cols.unsqueeze(-2)


def _masks(boxes: Tensor, view: Tensor) -> Tensor:
    """Boolean ``(k, batch, 1.., height, width)``: the covered pixels, broadcastable to the view."""
    covered = _covered(boxes, view.shape[-2], view.shape[-1])
    return covered.reshape(*covered.shape[:2], *([1] * (view.dim() - 3)), *covered.shape[2:])


def _credit(weights: Tensor, boxes: Tensor, view: Tensor, normalize: bool) -> Tensor:
    """Per example, the sum of ``weights[n]`` over the boxes covering each pixel (chunks of draws)."""
    total = torch.zeros(view.shape[0], view.shape[-2], view.shape[-1], dtype=torch.float64, device=view.device)
    for start in range(0, weights.shape[0], 32):
        covered = _covered(boxes[start:start + 32], view.shape[-2], view.shape[-1])
        total += torch.einsum("nb,nbhw->bhw", weights[start:start + 32], covered.double())
    if normalize:
        peak = total.flatten(1).amax(1).clamp_min(torch.finfo(torch.float64).tiny)
        total = total / peak.view(-1, 1, 1)
    shape = (view.shape[0], *([1] * (view.dim() - 3)), *view.shape[-2:])
    dtype = view.dtype if view.is_floating_point() else torch.float32
    return total.to(dtype).reshape(shape).expand(view.shape).contiguous()
