"""The layer adapter: input-space algorithms explained at a layer's input or output.

A layer method normalises its call once (:func:`prepare`), then either

* runs an input-space algorithm on the layer's values with the model *replacing* them
  (:func:`replaced`: LayerIntegratedGradients, layer ablation and permutation), or
* runs it on input-space points with a zero *tap* added to the layer's values, whose
  gradient is the gradient at the layer (:func:`tapped`: conductance, internal influence,
  Grad-CAM, gradient x activation, DeepLift).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from veracity._core.engine import warn_if_training
from veracity._core.inputs import prepare_additional_args, prepare_inputs
from veracity._core.layers import (
    Site,
    as_layers,
    layer_values,
    make_sites,
    replacing,
    tapping,
    user_format,
)
from veracity._core.targets import TargetIndex, prepare_target
from veracity._core.validate import fail
from veracity.attr._base import Attribution

Values = tuple[Tensor, ...]


class LayerAttribution(Attribution):
    """Base of layer methods: ``forward_func`` and the ``layer`` (a module, or a list where
    Captum accepts one). ``device_ids`` is accepted for Captum compatibility and unused:
    hooks are registered on the module the model runs."""

    accepts_layer_list = False

    def __init__(self, forward_func: Callable[..., Any], layer: nn.Module | list[nn.Module],
                 device_ids: list[int] | None = None) -> None:
        super().__init__(forward_func)
        as_layers(layer, type(self).accepts_layer_list)
        self.layer = layer
        self.device_ids = device_ids

    @staticmethod
    def interpolate(layer_attribution: Tensor, interpolate_dims: int | tuple[int, ...],
                    interpolate_mode: str = "nearest") -> Tensor:
        """Resize a ``(batch, channels, *spatial)`` layer attribution to ``interpolate_dims``.

        Example:
            >>> import torch
            >>> LayerAttribution.interpolate(torch.ones(1, 1, 2, 2), (4, 4)).shape
            torch.Size([1, 1, 4, 4])
        """
        if not isinstance(layer_attribution, Tensor) or layer_attribution.dim() < 3:
            fail("layer_attribution", "a tensor (batch, channels, *spatial)", layer_attribution)
        return F.interpolate(layer_attribution, size=interpolate_dims, mode=interpolate_mode)


@dataclass
class LayerCall:
    """One call's normalised arguments and the hooked sites."""

    inputs: Values
    batch: int
    target: TargetIndex
    args: tuple[Any, ...]
    sites: list[Site]
    was_list: bool
    target_arg: Any = None  # the user's form, for methods that hand it on


def check_grad_kwargs(grad_kwargs: Any) -> None:
    if grad_kwargs:
        fail("grad_kwargs", "None (gradients are taken by the engine, one call per chunk)", grad_kwargs)


def prepare(method: LayerAttribution, inputs: Any, target: Any, additional_forward_args: Any,
            to_input: bool, need_float: bool = False) -> LayerCall:
    tup, _, batch = prepare_inputs(inputs, need_float=need_float)
    warn_if_training(method.forward_func)
    layers, was_list = as_layers(method.layer, type(method).accepts_layer_list)
    sites = make_sites(method.forward_func, layers, to_input)
    return LayerCall(tup, batch, prepare_target(target, batch), prepare_additional_args(additional_forward_args),
                     sites, was_list, target)


def values_at(call: LayerCall, point_list: list[Values]) -> list[list[Values]]:
    """``result[site][point]``: each layer's values at a few whole batches."""
    return layer_values(_forward(call), call.sites, point_list, call.args)


def _forward(call: LayerCall) -> Any:
    return call.sites[0].forward_func


def flat(per_site: Sequence[Values]) -> Values:
    return tuple(t for values in per_site for t in values)


def unflat(call: LayerCall, tensors: Sequence[Tensor], counts: list[int]) -> list[Values]:
    result, start = [], 0
    for count in counts:
        result.append(tuple(tensors[start:start + count]))
        start += count
    return result


def counts_of(per_site: Sequence[Values]) -> list[int]:
    return [len(values) for values in per_site]


def replaced(call: LayerCall, counts: list[int]) -> Callable[..., Any]:
    """``f(*layer_values, *model_inputs, *args)``; pass ``(*call.inputs, *call.args)`` as args."""
    return replacing(_forward(call), call.sites, counts)


def tapped(call: LayerCall, counts: list[int], keep: bool = False) -> Callable[..., Any]:
    """``f(*model_inputs, *taps, *args)``: gradients at the taps are gradients at the layers."""
    return tapping(_forward(call), call.sites, len(call.inputs), counts, keep)


def zero_taps(per_site: Sequence[Values]) -> Values:
    return tuple(torch.zeros_like(t) for values in per_site for t in values)


def output(call: LayerCall, per_site: Sequence[Values]) -> Any:
    """Results in Captum's shape: per layer a tensor (or tuple); a list for a list of layers."""
    results = [user_format(values, site) for values, site in zip(per_site, call.sites)]
    return results if call.was_list else results[0]
