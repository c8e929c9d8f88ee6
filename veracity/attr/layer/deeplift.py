"""LayerDeepLift and LayerDeepLiftShap: DeepLift's Rescale pass, tapped at the layer."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.engine import layer_values
from veracity.attr._base import GradientAttribution
from veracity.attr.gradient.deeplift import apply_custom, rescale_attributions, warn_if_incomplete
from veracity.attr.layer.adapter import (
    LayerAttribution,
    at_layers,
    check_grad_kwargs,
    counts_of,
    tapped,
    unflat,
    zero_taps,
)

Values = tuple[Tensor, ...]


def layer_rescale(method: "LayerDeepLift", call: Call, references: list[Values],
                  custom_attribution_func: Callable[..., Any] | None, chunk_rows: int | None = None,
                  show_progress: bool = False) -> tuple[Any, Tensor]:
    """DeepLift multipliers at the layer times the layer's value differences, per reference.

    The model runs on inputs and references stacked (the Rescale rule needs both); a zero tap
    at the layer collects the multipliers there. Returns the mean over references in Captum's
    shape and the completeness error per (reference, example).
    """
    per_point = layer_values(call, [call.inputs, *references])[0]  # one layer
    counts = counts_of(per_point[:1])
    taps = zero_taps(per_point[:1])
    n_in = len(call.inputs)
    stacked = [(*ref, *taps) for ref in references]

    def attribution(j: int, multipliers: Values) -> Values:
        at_input, at_reference = per_point[0], per_point[1 + j]
        layer_multipliers = multipliers[n_in:]
        if custom_attribution_func is not None:
            result = apply_custom(custom_attribution_func, layer_multipliers, at_input, at_reference)
        elif method.multiplies_by_inputs:
            result = tuple(m * (x - r) for m, x, r in zip(layer_multipliers, at_input, at_reference))
        else:
            result = layer_multipliers
        return (*(torch.zeros_like(x) for x in call.inputs), *result)

    attributions, deltas = rescale_attributions(tapped(call, counts, taps), lambda j: stacked[j], len(references),
                                                method.eps, attribution, chunk_rows, show_progress)
    warn_if_incomplete(deltas, method.multiplies_by_inputs and custom_attribution_func is None)
    return call.finish_layers(unflat(attributions[n_in:], counts)), deltas


class LayerDeepLift(LayerAttribution, GradientAttribution):
    """DeepLift (Rescale rule) attributions of the layer's neurons: the multipliers at the layer
    times the difference of the layer's values at the input and at the baseline.

    Shrikumar et al. 2017, as Captum's ``LayerDeepLift``. Activations are intercepted as
    function calls (``F.relu``, in-place modules and reused activations work). The sum of the
    attributions approximates ``F(x) - F(x')``; the error is the convergence delta.

    Example:
        >>> from veracity.attr import LayerDeepLift
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> attr, delta = LayerDeepLift(model, model[1]).attribute(
        ...     x, target=0, return_convergence_delta=True)
        >>> attr.shape, bool(delta.abs().max() < 1e-5)
        (torch.Size([3, 8]), True)
    """

    _eager_only = True

    def __init__(self, model: nn.Module, layer: nn.Module, multiply_by_inputs: bool = True,
                 eps: float = 1e-10) -> None:
        super().__init__(model, layer)
        self._multiply_by_inputs = multiply_by_inputs
        self.eps = eps

    def attribute(self, inputs: Any, baselines: Any = None, target: Any = None, additional_forward_args: Any = None,
                  return_convergence_delta: bool = False, attribute_to_layer_input: bool = False,
                  custom_attribution_func: Callable[..., Any] | None = None, grad_kwargs: Any = None) -> Any:
        options = check_grad_kwargs(grad_kwargs)
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True).replace(
            grad_kwargs=options)
        return self.attribute_call(call, baselines, return_convergence_delta, attribute_to_layer_input,
                                   custom_attribution_func)

    def attribute_call(self, call: Call, baselines: Any = None, return_convergence_delta: bool = False,
                       attribute_to_layer_input: bool = False,
                       custom_attribution_func: Callable[..., Any] | None = None) -> Any:
        call = at_layers(self, call, attribute_to_layer_input)
        result, deltas = layer_rescale(self, call, [call.baselines(baselines)], custom_attribution_func)
        return (result, deltas[0]) if return_convergence_delta else result

    def has_convergence_delta(self) -> bool:
        return True


class LayerDeepLiftShap(LayerDeepLift):
    """LayerDeepLift averaged over a distribution of baselines (Lundberg & Lee 2017).

    The convergence delta has one entry per (example, baseline), example-major, as in Captum.
    Pairs are evaluated in chunks (``internal_batch_size`` rows per model call, or the budget).

    Example:
        >>> import torch
        >>> from veracity.attr import LayerDeepLiftShap
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> LayerDeepLiftShap(model, model[1]).attribute(x, torch.randn(5, 4),
        ...                                              target=0).shape
        torch.Size([3, 8])
    """

    def attribute(self, inputs: Any, baselines: Any, target: Any = None,  # type: ignore[override]
                  additional_forward_args: Any = None, return_convergence_delta: bool = False,
                  attribute_to_layer_input: bool = False, custom_attribution_func: Callable[..., Any] | None = None,
                  *, internal_batch_size: int | None = None, show_progress: bool = False) -> Any:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.attribute_call(call, baselines, return_convergence_delta, attribute_to_layer_input,
                                   custom_attribution_func, internal_batch_size=internal_batch_size,
                                   show_progress=show_progress)

    def attribute_call(self, call: Call, baselines: Any = None,
                       return_convergence_delta: bool = False, attribute_to_layer_input: bool = False,
                       custom_attribution_func: Callable[..., Any] | None = None, *,
                       internal_batch_size: int | None = None, show_progress: bool = False) -> Any:
        call = at_layers(self, call, attribute_to_layer_input)
        distribution = call.baseline_distribution(baselines)
        references = [tuple(d[j:j + 1].expand_as(x) for d, x in zip(distribution, call.inputs))
                      for j in range(distribution[0].shape[0])]
        result, deltas = layer_rescale(self, call, references, custom_attribution_func, internal_batch_size,
                                       show_progress)
        return (result, deltas.t().reshape(-1)) if return_convergence_delta else result
