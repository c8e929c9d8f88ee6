"""Guided Backpropagation and Deconvolution: one ReLU backward override each."""

from __future__ import annotations

from typing import Any, Callable

from torch import Tensor

from veracity._core.activation_rules import deconvolution_rule, guided_backprop_rule
from veracity._core.call import Call
from veracity._core.engine import gradients_at
from veracity._core.hooks import ActivationCall, BackwardRules
from veracity.attr._base import GradientAttribution

TensorOrTuple = Tensor | tuple[Tensor, ...]


class _ReluOverride(GradientAttribution):
    """The gradient with every ReLU's backward pass replaced by ``_rule``."""

    _eager_only = True

    _rule: Callable[[ActivationCall], Callable[[Tensor], Tensor]]

    def __init__(self, model: Callable[..., Any]) -> None:
        super().__init__(model)

    def attribute(self, inputs: TensorOrTuple, target: Any = None,
                  additional_forward_args: Any = None) -> TensorOrTuple:
        return self.attribute_call(Call.of(self.forward_func, inputs, target, additional_forward_args,
                                           need_float=True))

    def attribute_call(self, call: Call) -> TensorOrTuple:
        with BackwardRules(type(self)._rule, frozenset({"relu"})):
            return call.finish(gradients_at(call))


class GuidedBackprop(_ReluOverride):
    """Guided Backpropagation: at every ReLU only positive gradients pass, where the input was positive.

    Springenberg et al., "Striving for Simplicity: The All Convolutional Net" (2015). ReLUs are
    caught as function calls, so ``F.relu`` and ``inplace=True`` work too.

    Example:
        >>> from veracity.attr import GuidedBackprop
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> GuidedBackprop(model).attribute(x, target=0).shape
        torch.Size([3, 4])
    """

    _rule = staticmethod(guided_backprop_rule)


class Deconvolution(_ReluOverride):
    """Deconvolution (deconvnet): at every ReLU the positive part of the gradient passes.

    Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks" (ECCV 2014).

    Example:
        >>> import torch
        >>> from veracity.attr import Deconvolution
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
        >>> with torch.no_grad():  # one hidden unit feeds the output with weight -1: deconvnet blocks it
        ...     _ = model[0].weight.copy_(torch.eye(2)), model[2].weight.copy_(torch.tensor([[1.0, -1.0]]))
        >>> Deconvolution(model.eval()).attribute(torch.ones(1, 2))
        tensor([[1., 0.]])
    """

    _rule = staticmethod(deconvolution_rule)
