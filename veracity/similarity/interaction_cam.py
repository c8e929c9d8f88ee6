"""Interaction-CAM: a CAM of the similarity of two views, channels weighted by what both share.

Sammani, Joukovsky & Deligiannis (arXiv 2206.09753). With ``F_i`` a layer's values for view
``i`` and ``s`` the similarity of the two embeddings:

1. ``G_i = ds/dF_i`` (the gradient of the pair's similarity at the layer);
2. joint channel weights ``J = pool(F_1) * pool(F_2)`` (``reduction``: mean over positions, max,
   or ``"attention"``: positions weighted by the softmax of their dot product with the mean);
3. invariance weight ``v = 1 - mean|g1 - g2|`` of the min-max normalised embeddings (per pair);
4. ``CAM_i = sum_k F_i,k * J_k * v * ReLU(G_i,k)`` (elementwise, not Grad-CAM's averaged
   gradients, as in the paper's ``weight_activation``).

``reduction=None`` and ``invariance=False`` give the paper's plain similarity Grad-CAM.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.inputs import prepare_additional_args
from veracity._core.similarity import pair_layer_gradients, similarity_function
from veracity._core.validate import check_choice, fail
from veracity.attr import LayerAttribution
from veracity.similarity._views import check_same_batch, check_view

_REDUCTIONS = ("mean", "max", "attention")


class InteractionCAM:
    """A CAM of ``similarity(g(x1), g(x2))`` at ``layer`` for both views of each pair.

    ``forward_func`` is any embedding model (one embedding per example), ``layer`` one of its
    modules whose output is ``(batch, channels, *spatial)`` (the last conv block, usually),
    ``similarity`` ``"cosine"``, ``"dot"`` or a callable ``(z1, z2) -> (rows,)``. Returns
    ``(cam1, cam2)``, each ``(batch, 1, *spatial)`` like Captum's LayerGradCam, or resized to
    the view with ``upsample_to_input``. Pairs go through the engine in chunks of
    ``internal_batch_size`` pairs (two model calls per chunk, one per view).

    Example:
        >>> import torch
        >>> from veracity.data.toy import toy_cnn
        >>> from veracity.similarity import InteractionCAM
        >>> encoder, x = toy_cnn()
        >>> cam1, cam2 = InteractionCAM(encoder, encoder[1]).attribute(x, x)
        >>> cam1.shape, bool(torch.equal(cam1, cam2))
        (torch.Size([2, 1, 8, 8]), True)
    """

    def __init__(self, forward_func: Callable[..., Any], layer: nn.Module, similarity: Any = "cosine") -> None:
        if not isinstance(layer, nn.Module):
            fail("layer", "a torch.nn.Module of the model", layer, TypeError)
        self.forward_func = forward_func
        self.layer = layer
        self.similarity = similarity_function(similarity)

    def attribute(self, view1: Tensor, view2: Tensor, reduction: str | None = "mean", invariance: bool = True,
                  relu_attributions: bool = False, upsample_to_input: bool = False,
                  interpolate_mode: str = "bilinear", additional_forward_args: Any = None,
                  internal_batch_size: int | None = None, show_progress: bool = False) -> tuple[Tensor, Tensor]:
        """``(cam1, cam2)`` for the pairs ``(view1[b], view2[b])``."""
        check_view("view1", view1, 1)
        check_view("view2", view2, 1)
        check_same_batch("view1", view1, "view2", view2)
        if reduction is not None:
            check_choice("reduction", reduction, _REDUCTIONS)
        found = pair_layer_gradients(self.forward_func, self.layer, (view1, view2),
                                     prepare_additional_args(additional_forward_args), self.similarity,
                                     internal_batch_size, show_progress)
        values, gradients = found.values, found.gradients
        for value in values:
            if value.dim() < 3:
                fail("layer", "a layer whose output is (batch, channels, *spatial)",
                     f"an output of shape {tuple(value.shape)}")
        if values[0].shape[1] != values[1].shape[1]:
            fail("view2", f"a view that gives the layer as many channels as view1 ({values[0].shape[1]})",
                 f"{values[1].shape[1]} channels at the layer for a view of shape {tuple(view2.shape)}")
        weight = torch.ones(values[0].shape[:2], dtype=values[0].dtype, device=values[0].device)
        if reduction is not None:
            weight = pooled(values[0], reduction) * pooled(values[1], reduction)
        if invariance:
            weight = weight * invariance_weight(*found.embeddings).to(weight.dtype).unsqueeze(1)
        cams = []
        for value, gradient, view in zip(values, gradients, (view1, view2)):
            scale = weight.reshape(*weight.shape, *([1] * (value.dim() - 2)))
            cam = (value * scale * gradient.clamp_min(0)).sum(1, keepdim=True)
            if relu_attributions:
                cam = cam.clamp_min(0)
            if upsample_to_input:
                cam = LayerAttribution.interpolate(cam, tuple(view.shape[-(cam.dim() - 2):]), interpolate_mode)
            cams.append(cam)
        return cams[0], cams[1]


def pooled(values: Tensor, reduction: str) -> Tensor:
    """``(batch, channels)``: the layer's values reduced over positions.

    Example:
        >>> pooled(torch.tensor([[[1.0, 3.0]]]), "max")
        tensor([[3.]])
    """
    flat = values.flatten(2)
    if reduction == "mean":
        return flat.mean(2)
    if reduction == "max":
        return flat.amax(2)
    positions = flat.transpose(1, 2)  # (batch, positions, channels)
    attention = torch.softmax(positions @ flat.mean(2, keepdim=True), dim=1)  # (batch, positions, 1)
    return (attention * positions).sum(1)


def invariance_weight(first: Tensor, second: Tensor) -> Tensor:
    """``1 - mean|g1 - g2|`` of the min-max normalised embeddings, per pair (1: identical).

    Example:
        >>> invariance_weight(torch.tensor([[0.0, 2.0]]), torch.tensor([[2.0, 0.0]]))
        tensor([0.])
    """
    def normalised(z: Tensor) -> Tensor:
        low, high = z.amin(1, keepdim=True), z.amax(1, keepdim=True)
        return (z - low) / (high - low).clamp_min(torch.finfo(z.dtype).tiny)

    return 1 - (normalised(first) - normalised(second)).abs().mean(1)
