"""Saliency (Simonyan et al. 2014) and Input x Gradient (Shrikumar et al. 2016)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from veracity._core.call import Call
from veracity._core.engine import gradients_at
from veracity.attr._base import GradientAttribution

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
        return self.attribute_call(Call.of(self.forward_func, inputs, target, additional_forward_args,
                                           need_float=True), abs=abs)

    def attribute_call(self, call: Call, abs: bool = True) -> TensorOrTuple:
        return call.finish([g.abs() if abs else g for g in gradients_at(call)])


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
        return self.attribute_call(Call.of(self.forward_func, inputs, target, additional_forward_args,
                                           need_float=True))

    def attribute_call(self, call: Call) -> TensorOrTuple:
        return call.finish([g * x for g, x in zip(gradients_at(call), call.inputs)])

    @property
    def multiplies_by_inputs(self) -> bool:
        return True
