"""LayerFeatureAblation and LayerFeaturePermutation: the input-space perturbation methods run
on the layer's values, with the model's layer output replaced by the perturbed values."""

from __future__ import annotations

from typing import Any

import torch

from veracity._core.call import Call
from veracity._core.engine import layer_values
from veracity._core.validate import fail
from veracity.attr._base import PerturbationAttribution
from veracity.attr.layer.adapter import LayerAttribution, at_layers, counts_of, replaced
from veracity.attr.perturbation.ablation import FeatureAblation
from veracity.attr.perturbation.permutation import FeaturePermutation


def _in_layer_space(call: Call, method_class: type, **kwargs: Any) -> Any:
    """Run ``method_class`` (an input-space method) on the layer's values; Captum's shapes out."""
    values = layer_values(call, [call.inputs])[0][0]
    result = method_class(call.forward_func).attribute_call(replaced(call, counts_of([values]), values), **kwargs)
    return call.finish_layers([result])


class LayerFeatureAblation(LayerAttribution, PerturbationAttribution):
    """Ablation of groups of the layer's neurons: F(x) - F(x with the group set to its baseline).

    As Captum's ``LayerFeatureAblation``: ``layer_mask`` groups the layer's neurons (default:
    each on its own), ``layer_baselines`` gives their ablated values (default 0). The ablated
    layer values replace the layer's output; all groups go through the engine in chunks of
    ``perturbations_per_eval`` copies (``None``: from the memory budget).

    Example:
        >>> from veracity.attr import LayerFeatureAblation
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> LayerFeatureAblation(model, model[1]).attribute(x, target=0).shape
        torch.Size([3, 8])
    """

    def attribute(self, inputs: Any, layer_baselines: Any = None, target: Any = None,
                  additional_forward_args: Any = None, layer_mask: Any = None, attribute_to_layer_input: bool = False,
                  perturbations_per_eval: int | None = None, *, show_progress: bool = False) -> Any:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args)
        return self.attribute_call(call, layer_baselines, layer_mask, attribute_to_layer_input, perturbations_per_eval,
                                   show_progress=show_progress)

    def attribute_call(self, call: Call, layer_baselines: Any = None, layer_mask: Any = None,
                       attribute_to_layer_input: bool = False, perturbations_per_eval: int | None = None, *,
                       show_progress: bool = False) -> Any:
        return _in_layer_space(at_layers(self, call, attribute_to_layer_input), FeatureAblation,
                               baselines=layer_baselines, feature_mask=layer_mask,
                               perturbations_per_eval=perturbations_per_eval, show_progress=show_progress)


class LayerFeaturePermutation(LayerAttribution, PerturbationAttribution):
    """Permutation importance of groups of the layer's neurons, shuffled across the batch.

    As Captum's ``LayerFeaturePermutation``: for each group of ``layer_mask`` the layer's
    values are permuted between the examples and the drop of each example's output is its
    attribution. ``generator`` seeds the shuffle. The batch must hold at least 2 examples.

    Example:
        >>> import torch
        >>> from veracity.attr import LayerFeaturePermutation
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> g = torch.Generator().manual_seed(0)
        >>> LayerFeaturePermutation(model, model[1]).attribute(torch.randn(6, 4), target=0,
        ...                                                    generator=g).shape
        torch.Size([6, 8])
    """

    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None, layer_mask: Any = None,
                  perturbations_per_eval: int | None = None, *, generator: torch.Generator | None = None,
                  show_progress: bool = False) -> Any:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args)
        return self.attribute_call(call, layer_mask, perturbations_per_eval, generator=generator,
                                   show_progress=show_progress)

    def attribute_call(self, call: Call, layer_mask: Any = None, perturbations_per_eval: int | None = None, *,
                       generator: torch.Generator | None = None, show_progress: bool = False) -> Any:
        call = at_layers(self, call, False)
        if call.batch < 2:
            fail("inputs", "a batch of at least 2 examples (values are permuted across the batch)",
                 f"batch size {call.batch}")
        return _in_layer_space(call, FeaturePermutation, feature_mask=layer_mask,
                               perturbations_per_eval=perturbations_per_eval, generator=generator,
                               show_progress=show_progress)
