"""mabCAM (Tjoa & Guan, "Quantifying Explainability of Saliency Methods in Deep Neural
Networks", IEEE TAI; arXiv 2009.02899): the heatmap a model was trained to draw.

A magnitude-banded model has a heatmap head whose channels are logits of heatmap *levels*
(the paper's 0 / 0.4 / 0.9: non-feature, localisation, discriminative feature), trained
against banded ground truth beside the classifier. mabCAM reads that head at a layer: the map
is ``v[argmax_k z_k]`` per position, ``z`` the layer's ``K`` channels and ``v`` the
``band_values`` (``soft=True``: the expectation ``sum_k softmax(z)_k v_k`` instead). It is a
supervised, class-agnostic map: no target and no gradients, one forward pass.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from veracity._core.call import Call
from veracity._core.validate import fail
from veracity.attr.cam.combiner import activations_of, upsample
from veracity.attr.layer.adapter import LayerAttribution, at_layers

BAND_VALUES = (0.0, 0.4, 0.9)


def _values(band_values: Sequence[float]) -> Tensor:
    if isinstance(band_values, (str, bytes)) or not isinstance(band_values, (tuple, list)) or len(band_values) < 2 \
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in band_values):
        fail("band_values", "a tuple of at least two numbers, one per channel of the layer", band_values)
    return torch.tensor([float(v) for v in band_values])


class LayerMabCam(LayerAttribution):
    """mabCAM: the magnitude-banded heatmap a model's heatmap head predicts at ``layer``.

    ``layer`` outputs ``(batch, K, *spatial)`` level logits, ``K = len(band_values)``; the map
    is the value of the most likely level at each position (``soft=True``: the softmax-weighted
    mean of the values). With ``upsample_to_input`` the logits are resized to the first
    input's spatial size (bilinear in 2-D unless ``interpolate_mode``) before the levels are
    read, so the map keeps the band values. Returns ``(batch, 1, *spatial)``.

    Example:
        >>> import torch
        >>> from veracity.attr import LayerMabCam
        >>> head = torch.nn.Conv2d(1, 3, 1)
        >>> with torch.no_grad():
        ...     _ = head.weight.copy_(torch.tensor([0.0, 1.0, 2.0]).view(3, 1, 1, 1))
        ...     _ = head.bias.copy_(torch.tensor([0.5, 0.0, -1.0]))
        >>> x = torch.tensor([[[[0.0, 0.8, 3.0]]]])  # logits (0.5, x, 2x - 1): levels 0, 1, 2
        >>> LayerMabCam(head, head).attribute(x)
        tensor([[[[0.0000, 0.4000, 0.9000]]]])
    """

    def attribute(self, inputs: Any, additional_forward_args: Any = None, attribute_to_layer_input: bool = False,
                  *, band_values: Sequence[float] = BAND_VALUES, soft: bool = False,
                  upsample_to_input: bool = False, interpolate_mode: str | None = None) -> Tensor:
        return self.attribute_call(Call.of(self.forward_func, inputs, None, additional_forward_args),
                                   attribute_to_layer_input, band_values=band_values, soft=soft,
                                   upsample_to_input=upsample_to_input, interpolate_mode=interpolate_mode)

    def attribute_call(self, call: Call, attribute_to_layer_input: bool = False, *,
                       band_values: Sequence[float] = BAND_VALUES, soft: bool = False,
                       upsample_to_input: bool = False, interpolate_mode: str | None = None) -> Tensor:
        values = _values(band_values)
        call = at_layers(self, call, attribute_to_layer_input)
        logits = activations_of(call).detach()
        if logits.shape[1] != values.numel():
            fail("band_values", f"one value per channel of the layer ({logits.shape[1]})",
                 f"{values.numel()} values {tuple(band_values)}")
        if upsample_to_input:
            size = tuple(call.inputs[0].shape[2:])
            if logits.dim() < 3 or logits.dim() != call.inputs[0].dim():
                fail("upsample_to_input", "an input with as many spatial dimensions as the layer",
                     f"input shape {tuple(call.inputs[0].shape)}, layer map {tuple(logits.shape)}")
            logits = upsample(logits, size, interpolate_mode)
        values = values.to(device=logits.device, dtype=logits.dtype if logits.is_floating_point() else torch.float32)
        shape = (1, -1, *([1] * (logits.dim() - 2)))
        if soft:
            return (F.softmax(logits.to(values.dtype), dim=1) * values.view(shape)).sum(1, keepdim=True)
        return values[logits.argmax(1, keepdim=True)]
