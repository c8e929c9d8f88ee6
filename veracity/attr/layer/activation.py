"""LayerActivation and LayerGradientXActivation, and the layer gradient they share with Grad-CAM."""

from __future__ import annotations

from typing import Any, Callable

from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.engine import layer_values, site_gradients
from veracity.attr._base import GradientAttribution
from veracity.attr.layer.adapter import (
    LayerAttribution,
    at_layers,
    check_grad_kwargs,
)

Values = tuple[Tensor, ...]


def layer_gradients(call: Call) -> tuple[list[Values], list[Values]]:
    """Per layer: the gradient of the explained output at the layer's values, and the values
    (one forward and one backward that stops at the layer)."""
    return site_gradients(call)


class LayerActivation(LayerAttribution):
    """The layer's output (or input) for each example; no target, no gradients.

    Captum's ``LayerActivation``; ``layer`` may be a list (a list of results comes back).
    Values are copied when captured, so in-place operations after the layer do not change them.

    Example:
        >>> import torch
        >>> from veracity.attr import LayerActivation
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(inplace=True),
        ...                             torch.nn.Linear(8, 2)).eval()
        >>> LayerActivation(model, model[0]).attribute(torch.randn(3, 4)).shape
        torch.Size([3, 8])
    """

    accepts_layer_list = True
    _multiply_by_inputs = True  # Captum's value: activations are global, not multipliers

    def attribute(self, inputs: Any, additional_forward_args: Any = None,
                  attribute_to_layer_input: bool = False) -> Any:
        return self.attribute_call(Call.of(self.forward_func, inputs, None, additional_forward_args),
                                   attribute_to_layer_input)

    def attribute_call(self, call: Call, attribute_to_layer_input: bool = False) -> Any:
        call = at_layers(self, call, attribute_to_layer_input)
        return call.finish_layers([per_point[0] for per_point in layer_values(call, [call.inputs])])


class LayerGradientXActivation(LayerAttribution, GradientAttribution):
    """The gradient of the explained output at the layer times the layer's activation.

    With ``multiply_by_inputs=False`` the plain layer gradient. ``memory_efficient`` is
    accepted for Captum compatibility (nothing is kept beyond one batch anyway).

    Example:
        >>> from veracity.attr import LayerGradientXActivation
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp()
        >>> LayerGradientXActivation(model, model[1]).attribute(x, target=1).shape
        torch.Size([3, 8])
    """

    accepts_layer_list = True

    def __init__(self, forward_func: Callable[..., Any], layer: nn.Module | list[nn.Module],
                 device_ids: list[int] | None = None, multiply_by_inputs: bool = True,
                 memory_efficient: bool = False) -> None:
        super().__init__(forward_func, layer, device_ids)
        self._multiply_by_inputs = multiply_by_inputs

    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  attribute_to_layer_input: bool = False, grad_kwargs: Any = None) -> Any:
        options = check_grad_kwargs(grad_kwargs)
        call = Call.of(self.forward_func, inputs, target, additional_forward_args).replace(grad_kwargs=options)
        return self.attribute_call(call, attribute_to_layer_input)

    def multiply_gradient_acts(self, gradients: tuple[Tensor, ...], evals: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """Gradient times activation per tensor (Captum's helper of the same name)."""
        return tuple(g * e for g, e in zip(gradients, evals))

    def attribute_call(self, call: Call, attribute_to_layer_input: bool = False) -> Any:
        call = at_layers(self, call, attribute_to_layer_input)
        grads, values = layer_gradients(call)
        if self._multiply_by_inputs:
            grads = [tuple(g * v for g, v in zip(gs, vs)) for gs, vs in zip(grads, values)]
        return call.finish_layers(grads)
