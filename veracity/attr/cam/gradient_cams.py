"""The gradient-weighted CAMs and Eigen-CAM: one weighting each over the shared combiner.

All take Captum's ``LayerGradCam`` arguments (``relu_attributions=False``,
``attr_dim_summation=True`` as there) plus ``upsample_to_input`` (resize the map to the
first input's spatial size, bilinear in 2-D / linear in 1-D unless ``interpolate_mode``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

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
from veracity.attr.layer._adapter import LayerAttribution, prepare


class LayerGradCam(GradientCam):
    """Grad-CAM: channel weights are the spatial means of the gradients at the layer.

    Selvaraju et al., "Grad-CAM" (ICCV 2017), as Captum's ``LayerGradCam``.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
        ...                             torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        ...                             torch.nn.Linear(4, 3)).eval()
        >>> x = torch.randn(2, 1, 8, 8)
        >>> from veracity.attr import LayerGradCam
        >>> LayerGradCam(model, model[1]).attribute(x, target=0).shape
        torch.Size([2, 1, 8, 8])
    """

    _weights = staticmethod(grad_cam_weights)


class LayerGradCamPlusPlus(GradientCam):
    """Grad-CAM++ (Chattopadhay et al., WACV 2018): positive gradients weighted by the
    closed-form alphas of an exponential output (as pytorch-grad-cam computes them).

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
        ...                             torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        ...                             torch.nn.Linear(4, 3)).eval()
        >>> x = torch.randn(2, 1, 8, 8)
        >>> from veracity.attr import LayerGradCamPlusPlus
        >>> LayerGradCamPlusPlus(model, model[1]).attribute(x, target=0, upsample_to_input=True).shape
        torch.Size([2, 1, 8, 8])
    """

    _weights = staticmethod(grad_cam_plus_plus_weights)


class LayerXGradCam(GradientCam):
    """XGrad-CAM (Fu et al., BMVC 2020): gradients times channel-normalised activations.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
        ...                             torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        ...                             torch.nn.Linear(4, 3)).eval()
        >>> x = torch.randn(2, 1, 8, 8)
        >>> from veracity.attr import LayerXGradCam
        >>> LayerXGradCam(model, model[1]).attribute(x, target=0).shape
        torch.Size([2, 1, 8, 8])
    """

    _weights = staticmethod(xgrad_cam_weights)


class LayerHiResCam(GradientCam):
    """HiResCAM (Draelos & Carin 2020): gradient times activation element by element, summed
    over channels. Equals Grad-CAM when the head is global average pooling and a linear layer.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
        ...                             torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        ...                             torch.nn.Linear(4, 3)).eval()
        >>> x = torch.randn(2, 1, 8, 8)
        >>> from veracity.attr import LayerHiResCam
        >>> LayerHiResCam(model, model[1]).attribute(x, target=0).shape
        torch.Size([2, 1, 8, 8])
    """

    _weights = staticmethod(hires_cam_weights)


class LayerCam(GradientCam):
    """LayerCAM (Jiang et al., IEEE TIP 2021): activations weighted element by element by the
    positive part of the gradient; useful at early layers.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
        ...                             torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        ...                             torch.nn.Linear(4, 3)).eval()
        >>> x = torch.randn(2, 1, 8, 8)
        >>> from veracity.attr import LayerCam
        >>> LayerCam(model, model[1]).attribute(x, target=0).shape
        torch.Size([2, 1, 8, 8])
    """

    _weights = staticmethod(layer_cam_weights)


class LayerEigenCam(LayerAttribution):
    """Eigen-CAM (Muhammad & Yeasin, IJCNN 2020): the activations projected on their first
    principal component, per example; no target, no gradients.

    The channel weights are the first right singular vector of the ``(positions, channels)``
    matrix of centred activations; its sign (arbitrary in an SVD) is chosen so that the map
    correlates positively with the channel-mean activation.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
        ...                             torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        ...                             torch.nn.Linear(4, 3)).eval()
        >>> x = torch.randn(2, 1, 8, 8)
        >>> from veracity.attr import LayerEigenCam
        >>> LayerEigenCam(model, model[1]).attribute(x).shape
        torch.Size([2, 1, 8, 8])
    """

    def attribute(self, inputs: Any, additional_forward_args: Any = None, attribute_to_layer_input: bool = False,
                  relu_attributions: bool = False, *, upsample_to_input: bool = False,
                  interpolate_mode: str | None = None) -> Tensor:
        call = prepare(self, inputs, None, additional_forward_args, attribute_to_layer_input)
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
