"""LayerGradientShap: GradientShap's sampling, with the layer's values riding along as taps."""

from __future__ import annotations

from typing import Any, Callable, cast

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.engine import layer_values
from veracity.attr._base import GradientAttribution
from veracity.attr.gradient.gradient_shap import GradientShap
from veracity.attr.layer.adapter import LayerAttribution, at_layers, counts_of, tapped, unflat


class LayerGradientShap(LayerAttribution, GradientAttribution):
    """GradientShap (Lundberg & Lee 2017) at a layer: the layer gradient at a random point
    between the input and a random baseline, times the difference of the layer's values.

    The same draws as :class:`~veracity.attr.GradientShap` (``generator`` seeds them). The
    layer's values at the inputs and at the baseline rows travel as value-neutral taps, so
    GradientShap's own "gradient times difference" is taken at the layer. Unlike Captum,
    with ``stdevs > 0`` the difference uses the layer's values at the noise-free input
    (the gradient is still taken at the noisy point). The baselines must not need per-example
    extra arguments (they are run as their own batch to get their layer values).

    Example:
        >>> import torch
        >>> from veracity.attr import LayerGradientShap
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp()
        >>> LayerGradientShap(model, model[1]).attribute(x, torch.randn(6, 4),
        ...                                              target=0).shape
        torch.Size([3, 8])
    """

    def __init__(self, forward_func: Callable[..., Any], layer: nn.Module, device_ids: list[int] | None = None,
                 multiply_by_inputs: bool = True) -> None:
        super().__init__(forward_func, layer, device_ids)
        self._multiply_by_inputs = multiply_by_inputs

    def attribute(self, inputs: Any, baselines: Any, n_samples: int = 5, stdevs: float | tuple[float, ...] = 0.0,
                  target: Any = None, additional_forward_args: Any = None, return_convergence_delta: bool = False,
                  attribute_to_layer_input: bool = False, *, generator: torch.Generator | None = None,
                  internal_batch_size: int | None = None) -> Any:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.attribute_call(call, baselines, n_samples, stdevs, return_convergence_delta,
                                   attribute_to_layer_input, generator=generator,
                                   internal_batch_size=internal_batch_size)

    def attribute_call(self, call: Call, baselines: Any, n_samples: int = 5, stdevs: float | tuple[float, ...] = 0.0,
                       return_convergence_delta: bool = False, attribute_to_layer_input: bool = False, *,
                       generator: torch.Generator | None = None, internal_batch_size: int | None = None) -> Any:
        call = at_layers(self, call, attribute_to_layer_input)
        distribution = call.baseline_distribution(baselines)
        at_inputs = layer_values(call, [call.inputs])[0][0]
        at_baselines = layer_values(call, [distribution])[0][0]
        counts = counts_of([at_inputs])
        n_in = len(call.inputs)
        noise = stdevs if isinstance(stdevs, tuple) else (stdevs,) * n_in
        result = GradientShap(call.forward_func, self._multiply_by_inputs).attribute_call(
            tapped(call, counts, at_inputs), (*distribution, *at_baselines), n_samples,
            (*noise, *(0.0,) * len(at_inputs)), return_convergence_delta, internal_batch_size=internal_batch_size,
            generator=generator)
        attributions, delta = result if return_convergence_delta else (result, None)
        formatted = call.finish_layers(unflat(cast(tuple[Tensor, ...], attributions)[n_in:], counts))  # several inputs
        return (formatted, delta) if return_convergence_delta else formatted

    def has_convergence_delta(self) -> bool:
        return True
