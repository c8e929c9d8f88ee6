"""Saliency (Simonyan et al. 2014) and Input x Gradient (Shrikumar et al. 2016)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from veracity._core.inputs import format_like
from veracity.attr._base import GradientAttribution
from veracity.attr.gradient._common import gradients_at, prepare_call

TensorOrTuple = Tensor | tuple[Tensor, ...]


class Saliency(GradientAttribution):
    """The gradient of the explained output with respect to each input feature.

    Simonyan, Vedaldi, Zisserman, "Deep Inside Convolutional Networks" (2014). With
    ``abs=True`` (the default, as in Captum) the absolute value is returned.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3)).eval()
        >>> x = torch.randn(2, 4)
        >>> Saliency(model).attribute(x, target=1).shape
        torch.Size([2, 4])
    """

    def attribute(self, inputs: TensorOrTuple, target: Any = None, abs: bool = True,
                  additional_forward_args: Any = None) -> TensorOrTuple:
        tup, was_tuple, _, target_index, args = prepare_call(self.forward_func, inputs, target,
                                                             additional_forward_args)
        grads = gradients_at(self.forward_func, tup, target_index, args)
        return format_like(was_tuple, [g.abs() if abs else g for g in grads])


class InputXGradient(GradientAttribution):
    """The input times the gradient of the explained output.

    Shrikumar et al., "Not Just a Black Box" (2016). Equals DeepLift and IG with a zero
    baseline on linear models.

    Example:
        >>> import torch
        >>> from veracity.attr import InputXGradient
        >>> model = torch.nn.Linear(4, 1)
        >>> InputXGradient(model).attribute(torch.randn(3, 4)).shape
        torch.Size([3, 4])
    """

    def attribute(self, inputs: TensorOrTuple, target: Any = None,
                  additional_forward_args: Any = None) -> TensorOrTuple:
        tup, was_tuple, _, target_index, args = prepare_call(self.forward_func, inputs, target,
                                                             additional_forward_args)
        grads = gradients_at(self.forward_func, tup, target_index, args)
        return format_like(was_tuple, [g * x for g, x in zip(grads, tup)])

    @property
    def multiplies_by_inputs(self) -> bool:
        return True
