"""Guided Grad-CAM: Guided Backprop times the upsampled Grad-CAM map."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity.attr._base import GradientAttribution
from veracity.attr.cam.gradient_cams import LayerGradCam
from veracity.attr.gradient.guided import GuidedBackprop
from veracity.attr.layer.adapter import LayerAttribution


class GuidedGradCam(LayerAttribution, GradientAttribution):
    """Guided Backprop attributions times the rectified Grad-CAM map resized to each input.

    Selvaraju et al., "Grad-CAM" (ICCV 2017), as Captum's ``GuidedGradCam``: the map is
    resized with ``interpolate_mode`` (``'nearest'`` by default). An input whose number of
    dimensions differs from the layer's gets an empty tensor and a warning, as in Captum.

    Example:
        >>> from veracity.attr import GuidedGradCam
        >>> from veracity.data import toy_cnn
        >>> model, x = toy_cnn(size=10)
        >>> GuidedGradCam(model, model[0]).attribute(x, target=1).shape  # the map resized to the input
        torch.Size([2, 1, 10, 10])
    """

    _eager_only = True

    def __init__(self, model: nn.Module, layer: nn.Module, device_ids: list[int] | None = None) -> None:
        super().__init__(model, layer, device_ids)

    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  interpolate_mode: str = "nearest", attribute_to_layer_input: bool = False) -> Any:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.attribute_call(call, interpolate_mode, attribute_to_layer_input)

    def attribute_call(self, call: Call, interpolate_mode: str = "nearest", attribute_to_layer_input: bool = False
                       ) -> Any:
        cam = LayerGradCam(self.forward_func, self.layer).attribute_call(call, attribute_to_layer_input,
                                                                         relu_attributions=True)
        guided = GuidedBackprop(self.forward_func).attribute_call(call.replace(was_tuple=True))
        result: list[Tensor] = []
        for x, g in zip(call.inputs, guided):
            if x.dim() != cam.dim():
                warnings.warn(f"GuidedGradCam: cannot resize the {cam.dim() - 2}-d Grad-CAM map to an input of "
                              f"shape {tuple(x.shape)}; returning an empty tensor for it.", UserWarning,
                              stacklevel=2)
                result.append(torch.empty(0))
                continue
            result.append(g * LayerAttribution.interpolate(cam, tuple(x.shape[2:]), interpolate_mode))
        return call.finish(result)
