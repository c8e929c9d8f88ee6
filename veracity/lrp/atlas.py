"""The concept atlas (Achtibat et al. 2023, Fig. 1): for one prediction, the most relevant
concepts (channels) of a layer, where each is in the input (its conditional heatmap), and what
each *is*: the examples of a data set that maximise its relevance, cropped to the receptive
field of the concept's most relevant unit, with their own conditional heatmaps.

The receptive field is measured, not computed from kernel sizes: the relevance of the single
most relevant unit (channel, position) of the concept is propagated to the input, and the crop
is the bounding box of where it lands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.lrp_engine import layer_output_shape, predicted_classes, relevance_pass
from veracity._core.validate import check_positive_int, fail
from veracity.lrp.composites import Composite
from veracity.lrp.crp import _check, concept_relevance, conditional_relevance, resolve_layer
from veracity.lrp.maximization import Maximization, relevance_maximization

__all__ = ["ConceptAtlas", "concept_atlas", "receptive_field", "plot_concept_atlas"]


@dataclass
class ConceptAtlas:
    """The atlas of one prediction: per concept (most relevant first) its share of the layer's
    relevance, its conditional heatmap on the input, and its reference examples (data-set
    indices, crops of the inputs and of their conditional heatmaps, boxes ``(top, bottom,
    left, right)``)."""

    layer: str
    target: int
    concepts: list[int]
    shares: Tensor
    heatmaps: Tensor
    image: Tensor
    references: list[list[int]] = field(default_factory=list)
    crops: list[list[Tensor]] = field(default_factory=list)
    crop_heatmaps: list[list[Tensor]] = field(default_factory=list)
    boxes: list[list[tuple[int, int, int, int]]] = field(default_factory=list)


def receptive_field(model: nn.Module, composite: Composite, x: Tensor, target: int, layer: nn.Module | str,
                    channel: int, threshold: float = 1e-6) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` (bottom/right exclusive) of the input region that the most
    relevant position (largest ``|R|``) of ``channel`` in ``layer`` draws its relevance from, for
    one example; the whole input when the channel has no relevance.

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> from veracity.lrp import EpsilonPlusFlat
        >>> model, x = toy_cnn()
        >>> top, bottom, left, right = receptive_field(model, EpsilonPlusFlat(), x[:1], 0, model[0], 1)
        >>> bottom - top <= 3 and right - left <= 3  # a 3x3 convolution
        True
    """
    _check(model, composite)
    module = resolve_layer(model, layer)
    if x.dim() < 3 or x.shape[0] != 1:
        fail("x", "one example shaped (1, channels, height, width)", x)
    call = Call.of(model, x, target, need_float=True)
    shape = layer_output_shape(call, module)
    factories = composite.canonizer_factories()
    taps = relevance_pass(call, model, composite.assign, factories, taps=[(module, False)]).taps[0][0]
    position = int(taps[0, channel].flatten().abs().argmax()) if taps.dim() > 2 else 0
    mask = torch.zeros(1, *shape[1:], dtype=x.dtype, device=x.device)
    mask[0, channel].view(-1)[position] = 1.0
    heat = relevance_pass(call, model, composite.assign, factories, masks=(module, mask), report=False).inputs[0]
    weight = heat[0].abs().sum(0)
    rows = torch.nonzero(weight.amax(1) > threshold * weight.max().clamp(min=1e-30)).flatten()
    cols = torch.nonzero(weight.amax(0) > threshold * weight.max().clamp(min=1e-30)).flatten()
    if rows.numel() == 0:
        return 0, x.shape[-2], 0, x.shape[-1]
    return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


def _item(data: Any, index: int) -> tuple[Tensor, Any]:
    dataset = data.dataset if isinstance(data, torch.utils.data.DataLoader) else data
    item = dataset[index]
    if isinstance(item, (tuple, list)):
        return item[0], (int(item[1]) if len(item) > 1 else None)
    return item, None


def concept_atlas(model: nn.Module, composite: Composite, x: Tensor, target: int, layer: nn.Module | str,
                  data: Any, n_concepts: int = 3, k: int = 4, *, maximization: Maximization | None = None,
                  show_progress: bool = False) -> ConceptAtlas:
    """The atlas of ``model``'s output ``target`` on one example ``x`` (shape ``(1, ...)``):
    the ``n_concepts`` channels of ``layer`` with the largest relevance, each with its ``k``
    relevance-maximising examples of ``data``. Pass ``maximization`` (from
    :func:`relevance_maximization` over the same layer's channels) to reuse a scan of the data.

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> from veracity.lrp import EpsilonPlusFlat
        >>> model, x = toy_cnn()
        >>> data = torch.utils.data.TensorDataset(torch.randn(6, 1, 8, 8), torch.arange(6) % 3)
        >>> atlas = concept_atlas(model, EpsilonPlusFlat(), x[:1], 0, model[0], data, n_concepts=2, k=2)
        >>> len(atlas.concepts), len(atlas.crops[0]), atlas.heatmaps.shape
        (2, 2, torch.Size([2, 1, 8, 8]))
    """
    _check(model, composite)
    n_concepts, k = check_positive_int("n_concepts", n_concepts), check_positive_int("k", k)
    if not isinstance(x, Tensor) or x.shape[0] != 1:
        fail("x", "one example shaped (1, ...)", x)
    module = resolve_layer(model, layer)
    name = next(n for n, m in model.named_modules() if m is module)
    shares = concept_relevance(model, composite, x, target, module, abs_norm=True)[0]
    top = torch.argsort(shares, descending=True, stable=True)[:n_concepts].tolist()
    heatmaps = conditional_relevance(model, composite, x, target, module, top)
    assert isinstance(heatmaps, Tensor)
    if maximization is None:
        labelled = _item(data, 0)[1] is not None
        maximization = relevance_maximization(model, composite, data, module, top, k,
                                              target="label" if labelled else "prediction",
                                              show_progress=show_progress)
    atlas = ConceptAtlas(name, int(target), top, shares[top], heatmaps[0], x[0])
    for concept in top:
        if concept not in maximization.channels:
            fail("maximization", f"a scan that includes channel {concept}", f"channels {maximization.channels}")
        row = maximization.channels.index(concept)
        indices = maximization.relevance_indices[row, :k].tolist()
        atlas.references.append(indices)
        crops, maps, boxes = [], [], []
        for index in indices:
            image, label = _item(data, index)
            example = image.unsqueeze(0).to(x.dtype)
            own = label if label is not None else int(predicted_classes(Call.of(model, example))[0])
            box = receptive_field(model, composite, example, own, module, concept)
            heat = conditional_relevance(model, composite, example, own, module, [concept])
            assert isinstance(heat, Tensor)
            top_, bottom, left, right = box
            crops.append(image[..., top_:bottom, left:right])
            maps.append(heat[0, 0][..., top_:bottom, left:right])
            boxes.append(box)
        atlas.crops.append(crops)
        atlas.crop_heatmaps.append(maps)
        atlas.boxes.append(boxes)
    return atlas


def _show_image(ax: Any, image: Tensor) -> None:
    img = image.detach().float().cpu()
    img = (img - img.min()) / (img.max() - img.min()).clamp(min=1e-12)
    if img.shape[0] == 1:
        ax.imshow(img[0].numpy(), cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(img[:3].permute(1, 2, 0).numpy())
    ax.set_xticks([])
    ax.set_yticks([])


def _show_heatmap(ax: Any, heat: Tensor) -> None:
    h = heat.detach().float().cpu().sum(0)
    bound = float(h.abs().max().clamp(min=1e-12))
    ax.imshow(h.numpy(), cmap="bwr", vmin=-bound, vmax=bound)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_concept_atlas(atlas: ConceptAtlas, path: str | None = None) -> Any:
    """A matplotlib figure: one row per concept; the input with the concept's heatmap, then each
    reference crop beside its heatmap. Saved to ``path`` when given. Needs the ``plot`` extra."""
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover
        raise ImportError("plot_concept_atlas needs matplotlib: pip install veracity[plot]") from error
    k = max((len(c) for c in atlas.crops), default=0)
    rows, cols = len(atlas.concepts), 2 + 2 * k
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.7 * rows), squeeze=False)
    for r, concept in enumerate(atlas.concepts):
        _show_image(axes[r][0], atlas.image)
        axes[r][0].set_ylabel(f"ch {concept}\n{100 * float(atlas.shares[r]):.0f}%", fontsize=8)
        _show_heatmap(axes[r][1], atlas.heatmaps[r])
        for j in range(k):
            for c in (2 + 2 * j, 3 + 2 * j):
                axes[r][c].axis("off")
            if j < len(atlas.crops[r]):
                axes[r][2 + 2 * j].axis("on")
                axes[r][3 + 2 * j].axis("on")
                _show_image(axes[r][2 + 2 * j], atlas.crops[r][j])
                _show_heatmap(axes[r][3 + 2 * j], atlas.crop_heatmaps[r][j])
                axes[r][2 + 2 * j].set_title(f"#{atlas.references[r][j]}", fontsize=7)
    axes[0][0].set_title("input", fontsize=8)
    axes[0][1].set_title("concept heatmap", fontsize=8)
    fig.suptitle(f"Concept atlas: layer '{atlas.layer}', output {atlas.target}", fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
