"""The gradient-weighted CAMs and Eigen-CAM: one weighting each over the shared combiner.

All take Captum's ``LayerGradCam`` arguments (``relu_attributions=False``,
``attr_dim_summation=True`` as there) plus ``upsample_to_input`` (resize the map to the
first input's spatial size, bilinear in 2-D / linear in 1-D unless ``interpolate_mode``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity.attr.cam.combiner import (
    GradientCam,
    activations_of,
    combine,
    finish,
    grad_cam_plus_plus_weights,
    grad_cam_weights,
    hires_cam_weights,
    layer_cam_weights,
    xgrad_cam_weights,
)
from veracity.attr.layer.adapter import LayerAttribution, at_layers


class LayerGradCam(GradientCam):
    """Grad-CAM: channel weights are the spatial means of the gradients at the layer.

    Selvaraju et al., "Grad-CAM" (ICCV 2017), as Captum's ``LayerGradCam``.

    Example:
        >>> from veracity.attr import LayerGradCam
        >>> from veracity.data import toy_cnn
        >>> model, x = toy_cnn()
        >>> LayerGradCam(model, model[1]).attribute(x, target=0).shape
        torch.Size([2, 1, 8, 8])
    """

    _weights = staticmethod(grad_cam_weights)


class LayerGradCamPlusPlus(GradientCam):
    """Grad-CAM++ (Chattopadhay et al., WACV 2018): positive gradients weighted by the
    closed-form alphas of an exponential output (as pytorch-grad-cam computes them).

    Example:
        >>> from veracity.attr import LayerGradCamPlusPlus
        >>> from veracity.data import toy_cnn
        >>> model, x = toy_cnn(size=6)
        >>> cam = LayerGradCamPlusPlus(model, model[0]).attribute(x, target=2, relu_attributions=True,
        ...                                                        upsample_to_input=True)
        >>> bool((cam >= 0).all()), cam.shape
        (True, torch.Size([2, 1, 6, 6]))
    """

    _weights = staticmethod(grad_cam_plus_plus_weights)


class LayerXGradCam(GradientCam):
    """XGrad-CAM (Fu et al., BMVC 2020): gradients times channel-normalised activations.

    Example:
        >>> from veracity.attr import LayerXGradCam
        >>> from veracity.data import toy_cnn
        >>> model, x = toy_cnn(batch=1)
        >>> LayerXGradCam(model, model[1]).attribute(x, target=1, relu_attributions=True).min() >= 0
        tensor(True)
    """

    _weights = staticmethod(xgrad_cam_weights)


class LayerHiResCam(GradientCam):
    """HiResCAM (Draelos & Carin 2020): gradient times activation element by element, summed
    over channels. Equals Grad-CAM when the head is global average pooling and a linear layer.

    Example:
        >>> import torch
        >>> from veracity.attr import LayerGradCam, LayerHiResCam
        >>> from veracity.data import toy_cnn
        >>> model, x = toy_cnn()
        >>> hires = LayerHiResCam(model, model[1]).attribute(x, target=0)
        >>> bool(torch.allclose(hires, LayerGradCam(model, model[1]).attribute(x, target=0), atol=1e-6))
        True
    """

    _weights = staticmethod(hires_cam_weights)


class LayerCam(GradientCam):
    """LayerCAM (Jiang et al., IEEE TIP 2021): activations weighted element by element by the
    positive part of the gradient; useful at early layers.

    Example:
        >>> from veracity.attr import LayerCam
        >>> from veracity.data import toy_cnn
        >>> model, x = toy_cnn(channels=6)
        >>> LayerCam(model, model[1]).attribute(x, target=0, attr_dim_summation=False).shape
        torch.Size([2, 6, 8, 8])
    """

    _weights = staticmethod(layer_cam_weights)


class LayerEigenCam(LayerAttribution):
    """Eigen-CAM (Muhammad & Yeasin, IJCNN 2020): the activations projected on their first
    principal component, per example; no target, no gradients.

    The channel weights are the first right singular vector of the ``(positions, channels)``
    matrix of centred activations; its sign (arbitrary in an SVD) is chosen so that the map
    correlates positively with the channel-mean activation.

    Example:
        >>> from veracity.attr import LayerEigenCam
        >>> from veracity.data import toy_cnn
        >>> model, x = toy_cnn(batch=4)
        >>> LayerEigenCam(model, model[1]).attribute(x).shape  # no target: the main component
        torch.Size([4, 1, 8, 8])
    """

    def attribute(self, inputs: Any, additional_forward_args: Any = None, attribute_to_layer_input: bool = False,
                  relu_attributions: bool = False, *, upsample_to_input: bool = False,
                  interpolate_mode: str | None = None) -> Tensor:
        return self.attribute_call(Call.of(self.forward_func, inputs, None, additional_forward_args),
                                   attribute_to_layer_input, relu_attributions, upsample_to_input=upsample_to_input,
                                   interpolate_mode=interpolate_mode)

    def attribute_call(self, call: Call, attribute_to_layer_input: bool = False, relu_attributions: bool = False, *,
                       upsample_to_input: bool = False, interpolate_mode: str | None = None) -> Tensor:
        call = at_layers(self, call, attribute_to_layer_input)
        activations = activations_of(call)
        flat = activations.flatten(2).transpose(1, 2)  # (B, positions, C)
        centred = flat - flat.mean(1, keepdim=True)
        _, _, right = torch.linalg.svd(centred, full_matrices=False)
        weights = right[:, 0, :]
        projection = centred @ weights.unsqueeze(2)
        reference = centred.mean(2, keepdim=True)
        sign = torch.where((projection * reference).sum((1, 2)) < 0, -1.0, 1.0).to(weights.dtype)
        weights = weights * sign.unsqueeze(1)
        centred_maps = activations - activations.mean(tuple(range(2, activations.dim())), keepdim=True)
        return finish(call, combine(centred_maps, weights, relu_attributions), upsample_to_input, interpolate_mode)
