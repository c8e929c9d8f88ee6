"""Captum's ``LRP`` and ``LayerLRP`` on veracity's rule engine.

Same signatures and numbers as Captum 0.9 (epsilon rule by default, a module's ``rule``
attribute respected, relevance starting at the target's output value), without Captum's
defects: nothing is written to the model (Captum sets and deletes ``module.rule`` and rewrites
weights through ``load_state_dict``), no class-level lists shared between instances, reused
modules and in-place activations work, and ``F.relu`` is exact (relevance flows, so the
gradient of ReLU passes it unchanged). Operations the rules cannot see and would get wrong
(functional non-linearities, residual additions) are reported by module name.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.canonizers import Sum
from veracity._core.inputs import sum_per_example
from veracity._core.layers import as_layers
from veracity._core.lrp_engine import LRPResult, relevance_pass
from veracity._core.validate import fail
from veracity.attr._base import GradientAttribution
from veracity.attr.layer.adapter import LayerAttribution
from veracity.attr.lrp.rules import EpsilonRule, IdentityRule

__all__ = ["LRP", "LayerLRP"]

# Captum's defaults (``lrp.py``), widened to the 1-d and 3-d forms of the same layers
_EPSILON_LAYERS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.Conv1d, nn.Conv2d, nn.Conv3d,
                   nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
                   nn.AdaptiveAvgPool3d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, Sum)
_PASS_LAYERS = (nn.ReLU, nn.Dropout, nn.Tanh)
# modules that only move values: their gradient moves relevance exactly, no rule needed
_SHAPE_LAYERS = (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)


def _check_rule(name: str, module: nn.Module) -> None:
    rule = getattr(module, "rule", None)
    if rule is not None and not callable(getattr(rule, "backward", None)):
        fail("model", f"rules with a backward method on module '{name}' (e.g. EpsilonRule())",
             f"rule {type(rule).__name__}", TypeError)


def default_rules(model: nn.Module) -> dict[nn.Module, Any]:
    """Captum's assignment: a module's ``rule`` attribute, else epsilon (1e-9) for linear,
    convolution, pooling and BatchNorm layers and pass-through for ReLU, Dropout and Tanh.
    Another module type without a rule is an error naming it, as in Captum.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
        >>> sorted(type(r).__name__ for r in default_rules(model).values())
        ['EpsilonRule', 'IdentityRule']
    """
    chosen: dict[nn.Module, Any] = {}
    for name, module in model.named_modules():
        _check_rule(name, module)
        if module is model:
            continue  # as in Captum, the model itself is not a layer
        if getattr(module, "rule", None) is not None:
            chosen[module] = module.rule
        elif any(True for _ in module.children()):
            continue
        elif isinstance(module, _EPSILON_LAYERS):
            chosen[module] = EpsilonRule()
        elif isinstance(module, _PASS_LAYERS):
            chosen[module] = IdentityRule()
        elif not isinstance(module, _SHAPE_LAYERS):
            fail("model", f"modules with a default LRP rule or a `rule` attribute; module '{name}'",
                 f"{type(module).__name__}, which has neither (set module.rule = EpsilonRule(), "
                 "IdentityRule(), ... or pass a composite)", TypeError)
    return chosen


class LRP(GradientAttribution):
    """Layer-wise Relevance Propagation (Bach et al. 2015), Captum's class: relevance starts
    at the target's output and is propagated back layer by layer by each module's rule.

    ``composite`` (an addition): a :mod:`veracity.lrp` composite (e.g. ``EpsilonPlus()``)
    assigns the rules and brings its canonizers, instead of Captum's defaults.

    Example:
        >>> from veracity.data.toy import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> relevance, delta = LRP(model).attribute(x, target=0, return_convergence_delta=True)
        >>> relevance.shape, delta.shape
        (torch.Size([3, 4]), torch.Size([3]))
    """

    def __init__(self, model: nn.Module, composite: Any = None) -> None:
        if not isinstance(model, nn.Module):
            fail("model", "a torch.nn.Module", model, TypeError)
        super().__init__(model)
        self.model = model
        for name, module in model.named_modules():
            _check_rule(name, module)
        if composite is not None and not callable(getattr(composite, "assign", None)):
            fail("composite", "a veracity.lrp composite (e.g. EpsilonPlus())", composite, TypeError)
        self.composite = composite

    @property
    def multiplies_by_inputs(self) -> bool:
        return True

    def has_convergence_delta(self) -> bool:
        return True

    def _assign(self) -> tuple[Callable[[nn.Module], dict[nn.Module, Any]], list]:
        if self.composite is None:
            return default_rules, []
        return self.composite.assign, list(self.composite.canonizer_factories())

    def _run(self, call: Call, taps: Sequence[tuple[nn.Module, bool]] = (), verbose: bool = False) -> LRPResult:
        assign, canonizers = self._assign()
        result = relevance_pass(call, self.model, assign, canonizers, taps)
        if verbose:
            for name, rule in result.assigned.items():
                print(f"Applied {rule!r} on layer '{name}'")
        return result

    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  return_convergence_delta: bool = False, verbose: bool = False) -> Any:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.attribute_call(call, return_convergence_delta=return_convergence_delta, verbose=verbose)

    def attribute_call(self, call: Call, return_convergence_delta: bool = False, verbose: bool = False) -> Any:
        result = self._run(call, verbose=verbose)
        attributions = call.finish(result.inputs)
        if return_convergence_delta:
            return attributions, self.compute_convergence_delta(attributions, result.outputs)
        return attributions

    def compute_convergence_delta(self, attributions: Tensor | tuple[Tensor, ...],  # type: ignore[override]
                                  output: Tensor) -> Tensor:
        """``output - sum(attributions)`` per example: zero when relevance is conserved."""
        values = attributions if isinstance(attributions, tuple) else (attributions,)
        return output.flatten() - sum_per_example(values).flatten()


class LayerLRP(LRP):
    """LRP relevance at a layer's output (or input with ``attribute_to_layer_input``), one
    layer or a list of them, Captum's class. Any module the model calls once can be the layer
    (Captum needs one with a rule).

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> model, x = toy_cnn()
        >>> LayerLRP(model, model[1]).attribute(x, target=1).shape
        torch.Size([2, 4, 8, 8])
    """

    interpolate = staticmethod(LayerAttribution.interpolate)

    def __init__(self, model: nn.Module, layer: Any, device_ids: Any = None, composite: Any = None) -> None:
        super().__init__(model, composite)
        self.layers, self.was_list = as_layers(layer, allow_list=True)
        self.layer = layer
        self.device_ids = device_ids

    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,  # type: ignore[override]
                  return_convergence_delta: bool = False, attribute_to_layer_input: bool = False,
                  verbose: bool = False) -> Any:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.attribute_call(call, return_convergence_delta=return_convergence_delta,
                                   attribute_to_layer_input=attribute_to_layer_input, verbose=verbose)

    def attribute_call(self, call: Call, return_convergence_delta: bool = False,  # type: ignore[override]
                       attribute_to_layer_input: bool = False, verbose: bool = False) -> Any:
        result = self._run(call, [(layer, attribute_to_layer_input) for layer in self.layers], verbose)
        per_layer = [values[0] if len(values) == 1 else tuple(values) for values in result.taps]
        found = per_layer if self.was_list else per_layer[0]
        if not return_convergence_delta:
            return found
        deltas = [self.compute_convergence_delta(values, result.outputs) for values in per_layer]
        return found, (deltas if self.was_list else deltas[0])



_ = torch  # the examples use it
