"""The CAM family as weightings of one activation-map combiner.

Every class-activation map is ``sum_c w_c * A_c`` over the channels ``c`` of a conv layer's
activations ``A`` (2-D or 1-D maps), optionally rectified and upsampled to the input. The
members differ only in the weights ``w``: per channel (Grad-CAM, Grad-CAM++, XGrad-CAM,
Eigen-CAM, Score-CAM, Ablation-CAM) or per element (HiResCAM, LayerCAM). This module holds
the combiner, the gradient weightings and the shared ``attribute``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from veracity._core.call import Call
from veracity._core.engine import layer_values
from veracity._core.validate import fail
from veracity.attr._base import GradientAttribution
from veracity.attr.layer.activation import layer_gradients
from veracity.attr.layer.adapter import LayerAttribution, at_layers, check_grad_kwargs

_EPS = 1e-7


def _spatial(t: Tensor) -> tuple[int, ...]:
    return tuple(range(2, t.dim()))


def _per_channel(weights: Tensor, like: Tensor) -> Tensor:
    return weights.view(*weights.shape, *([1] * (like.dim() - weights.dim())))


def combine(activations: Tensor, weights: Tensor, relu: bool, sum_channels: bool = True) -> Tensor:
    """``sum_c weights * activations`` over dim 1 (kept); weights ``(B, C)`` or like ``activations``."""
    weighted = _per_channel(weights, activations) * activations
    cam = weighted.sum(1, keepdim=True) if sum_channels else weighted
    return F.relu(cam) if relu else cam


def upsample(cam: Tensor, size: tuple[int, ...], mode: str | None = None) -> Tensor:
    """Resize a ``(B, C, *spatial)`` map to ``size`` (bilinear in 2-D, linear in 1-D by default)."""
    mode = mode or {1: "linear", 2: "bilinear", 3: "trilinear"}.get(len(size), "nearest")
    corners = {"align_corners": False} if mode in ("linear", "bilinear", "trilinear", "bicubic") else {}
    return F.interpolate(cam, size=size, mode=mode, **corners)


def grad_cam_weights(grads: Tensor, activations: Tensor) -> Tensor:
    """Grad-CAM (Selvaraju et al. 2017): the spatial mean of the gradients, per channel."""
    return grads.mean(_spatial(grads)) if grads.dim() > 2 else grads


def hires_cam_weights(grads: Tensor, activations: Tensor) -> Tensor:
    """HiResCAM (Draelos & Carin 2020): the gradient itself, element by element."""
    return grads


def layer_cam_weights(grads: Tensor, activations: Tensor) -> Tensor:
    """LayerCAM (Jiang et al. 2021): the positive part of the gradient, element by element."""
    return grads.clamp(min=0)


def xgrad_cam_weights(grads: Tensor, activations: Tensor) -> Tensor:
    """XGrad-CAM (Fu et al. 2020): gradients weighted by the channel-normalised activations."""
    dims = _spatial(grads)
    totals = _per_channel(activations.sum(dims), activations)
    return (grads * activations / (totals + _EPS)).sum(dims)


def grad_cam_plus_plus_weights(grads: Tensor, activations: Tensor) -> Tensor:
    """Grad-CAM++ (Chattopadhay et al. 2018), the closed form for an exponential output:
    ``alpha = g^2 / (2 g^2 + sum(A) g^3)``, weights ``sum(alpha * relu(g))`` per channel."""
    dims = _spatial(grads)
    totals = _per_channel(activations.sum(dims), activations)
    squared = grads.pow(2)
    alpha = squared / (2 * squared + totals * grads.pow(3) + _EPS)
    alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
    return (alpha * grads.clamp(min=0)).sum(dims)


class GradientCam(LayerAttribution, GradientAttribution):
    """Base of the gradient-weighted CAMs: one forward and backward, weights from ``_weights``."""

    _weights: Callable[[Tensor, Tensor], Tensor]

    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  attribute_to_layer_input: bool = False, relu_attributions: bool = False,
                  attr_dim_summation: bool = True, grad_kwargs: Any = None, *,
                  upsample_to_input: bool = False, interpolate_mode: str | None = None) -> Tensor:
        options = check_grad_kwargs(grad_kwargs)
        call = Call.of(self.forward_func, inputs, target, additional_forward_args).replace(grad_kwargs=options)
        return self.attribute_call(call, attribute_to_layer_input, relu_attributions, attr_dim_summation,
                                   upsample_to_input=upsample_to_input, interpolate_mode=interpolate_mode)

    def attribute_call(self, call: Call, attribute_to_layer_input: bool = False, relu_attributions: bool = False,
                       attr_dim_summation: bool = True, *, upsample_to_input: bool = False,
                       interpolate_mode: str | None = None) -> Tensor:
        call = at_layers(self, call, attribute_to_layer_input)
        grads, values = layer_gradients(call)
        cams = []
        for activations, grad in zip(values[0], grads[0]):  # a layer with several tensors: a map each, as Captum
            _one_tensor(call, (activations,))
            weights = type(self)._weights(grad, activations)
            cam = combine(activations, weights, relu_attributions, attr_dim_summation)
            cams.append(finish(call, cam, upsample_to_input, interpolate_mode))
        return cams[0] if len(cams) == 1 else tuple(cams)  # type: ignore[return-value]


def _one_tensor(call: Call, values: tuple[Tensor, ...]) -> Tensor:
    if len(values) != 1 or values[0].dim() < 2:
        fail("layer", "a layer with one (batch, channels, ...) tensor for a CAM",
             f"{len(values)} tensors of shapes {[tuple(v.shape) for v in values]}")
    return values[0]


def finish(call: Call, cam: Tensor, upsample_to_input: bool, mode: str | None) -> Tensor:
    if not upsample_to_input:
        return cam
    size = tuple(call.inputs[0].shape[2:])
    if cam.dim() != call.inputs[0].dim():
        fail("upsample_to_input", "an input with as many spatial dimensions as the layer",
             f"input shape {tuple(call.inputs[0].shape)}, layer map {tuple(cam.shape)}")
    return upsample(cam, size, mode)


def activations_of(call: Call) -> Tensor:
    return _one_tensor(call, layer_values(call, [call.inputs])[0][0])
