"""The layer adapter: input-space algorithms explained at a layer's input or output.

A layer method hooks its layer(s) on the call (:func:`at_layers`), then either

* runs an input-space algorithm on the layer's values with the model *replacing* them
  (:func:`replaced`: LayerIntegratedGradients, layer ablation and permutation), or
* runs it on input-space points with a zero *tap* added to the layer's values, whose
  gradient is the gradient at the layer (:func:`tapped`: conductance, internal influence,
  Grad-CAM, gradient x activation, DeepLift).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.layers import as_layers, replacing, tapping
from veracity._core.validate import check_grad_kwargs, fail
from veracity.attr._base import Attribution

Values = tuple[Tensor, ...]
__all__ = ["LayerAttribution", "at_layers", "check_grad_kwargs", "counts_of", "flat", "replaced",
           "tapped", "unflat", "zero_taps"]


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


def at_layers(method: LayerAttribution, call: Call, to_input: bool) -> Call:
    return call.at_layers(method.layer, type(method).accepts_layer_list, to_input)


def flat(per_site: Sequence[Values]) -> Values:
    return tuple(t for values in per_site for t in values)


def unflat(tensors: Sequence[Tensor], counts: list[int]) -> list[Values]:
    result, start = [], 0
    for count in counts:
        result.append(tuple(tensors[start:start + count]))
        start += count
    return result


def counts_of(per_site: Sequence[Values]) -> list[int]:
    return [len(values) for values in per_site]


def replaced(call: Call, counts: list[int], layer_inputs: Values) -> Call:
    """The call on the layers' values: the model runs with those values replacing the layers'
    outputs; its own inputs ride along as extra arguments before ``call.args``."""
    forward = replacing(call.forward_func, list(call.sites), counts)
    return call.with_forward(forward, layer_inputs, (*call.inputs, *call.args)).replace(was_tuple=True)


def tapped(call: Call, counts: list[int], taps: Values, keep: bool = False) -> Call:
    """The call on ``(*inputs, *taps)``: gradients at the taps are gradients at the layers."""
    forward = tapping(call.forward_func, list(call.sites), len(call.inputs), counts, keep)
    return call.with_forward(forward, (*call.inputs, *taps)).replace(was_tuple=True)


def zero_taps(per_site: Sequence[Values]) -> Values:
    return tuple(torch.zeros_like(t) for values in per_site for t in values)
