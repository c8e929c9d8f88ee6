"""What the metrics accept as an explanation method, normalised to one calling convention.

A method is given as a veracity (or Captum-style) ``Attribution`` instance, an ``Attribution``
class, or a function ``explain(model, inputs, target) -> attributions``. Every metric calls
it as ``explain(model, inputs, target)``, where ``model`` may be a randomised copy: an
instance is then deep-copied with every reference to the original model and its submodules
replaced by the copy's (so layer methods and wrappers such as NoiseTunnel follow the copy).
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.inputs import as_tuple, prepare_inputs
from veracity._core.targets import prepare_target
from veracity._core.validate import fail

ExplainFunc = Callable[[Any, Tensor, Any], Tensor]


def _is_attribution_class(method: Any) -> bool:
    return isinstance(method, type) and hasattr(method, "attribute")


def rebind(instance: Any, model: Any, original: Any) -> Any:
    """A copy of ``instance`` in which ``original`` (and its submodules) are ``model``'s."""
    if model is original:
        return instance
    memo: dict[int, Any] = {id(original): model}
    if isinstance(original, nn.Module) and isinstance(model, nn.Module):
        copies = dict(model.named_modules())
        for name, module in original.named_modules():
            if name in copies:
                memo[id(module)] = copies[name]
        copies_params = dict(model.named_parameters())
        for name, param in original.named_parameters():
            if name in copies_params:
                memo[id(param)] = copies_params[name]
    return copy.deepcopy(instance, memo)


def as_explain_func(method: Any, name: str = "explain_func", **attribute_kwargs: Any) -> ExplainFunc:
    """Normalise ``method`` to ``explain(model, inputs, target) -> attributions``.

    Extra keyword arguments are passed to ``attribute`` (for instances and classes).

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> model = torch.nn.Linear(3, 2)
        >>> explain = as_explain_func(Saliency, abs=False)
        >>> torch.equal(explain(model, torch.ones(1, 3), 0), model.weight[:1].detach())
        True
    """
    if _is_attribution_class(method):
        def explain_with_class(model: Any, inputs: Tensor, target: Any) -> Tensor:
            return method(model).attribute(inputs, target=target, **attribute_kwargs)
        return explain_with_class
    if hasattr(method, "attribute") and hasattr(method, "forward_func"):
        original = method.forward_func
        original = getattr(original, "__self__", original)

        def explain_with_instance(model: Any, inputs: Tensor, target: Any) -> Tensor:
            if model is not original and not isinstance(original, nn.Module):
                fail(name, "an Attribution built on an nn.Module (to follow a randomised copy), "
                     "or a function explain(model, inputs, target)",
                     f"{type(method).__name__} on {type(original).__name__}", TypeError)
            bound = rebind(method, model, original)
            return bound.attribute(inputs, target=target, **attribute_kwargs)
        return explain_with_instance
    if callable(method):
        if attribute_kwargs:
            return lambda model, inputs, target: method(model, inputs, target, **attribute_kwargs)
        return method
    fail(name, "an Attribution instance or class, or a function explain(model, inputs, target)",
         method, TypeError)


def explain_checked(explain: ExplainFunc, model: Any, inputs: Tensor, target: Any) -> Tensor:
    """Call ``explain`` and check that it returned one attribution per input feature."""
    with torch.enable_grad():
        result = explain(model, inputs, target)
    if not isinstance(result, Tensor) or result.shape != inputs.shape:
        fail("explain_func", f"attributions shaped like the inputs {tuple(inputs.shape)}",
             result if isinstance(result, Tensor) else type(result).__name__)
    return result.detach()


def repeat_target(target: Any, batch: int, copies: int) -> Any:
    """The target for ``copies`` stacked copies of the batch (point-major), in a form
    ``attribute`` accepts: None, a callable (unchanged), or an index tensor / list of tuples."""
    index = prepare_target(target, batch)
    if index.index is None:
        return target
    rows = index.index.repeat(copies, 1)
    if rows.shape[1] == 1:
        return rows[:, 0]
    return [tuple(r) for r in rows.tolist()]


def check_attributions(attributions: Any, inputs: Tensor, name: str = "attributions") -> Tensor:
    if not isinstance(attributions, Tensor):
        fail(name, "a tensor", attributions, TypeError)
    if attributions.shape != inputs.shape:
        fail(name, f"a tensor shaped like the inputs {tuple(inputs.shape)}", attributions)
    return attributions.detach()


def inputs_with_attributions(inputs: Any,
                             attributions: Any) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], int]:
    """The inputs (a tensor or a tuple) as a tuple, one attribution tensor per input shaped like
    it, and the batch size."""
    tup, _, batch = prepare_inputs(inputs)
    attrs, _ = as_tuple(attributions, "attributions")
    if len(attrs) != len(tup) or any(a.shape != x.shape for a, x in zip(attrs, tup)):
        fail("attributions", f"one tensor per input with the inputs' shapes "
             f"{[tuple(x.shape) for x in tup]}", attributions)
    return tup, attrs, batch


def check_input_tensor(inputs: Any, name: str = "inputs") -> Tensor:
    if not isinstance(inputs, Tensor) or inputs.dim() < 2 or not inputs.is_floating_point():
        fail(name, "a floating-point tensor shaped (batch, ...)", inputs, TypeError)
    if not bool(torch.isfinite(inputs).all()):
        fail(name, "finite values only", "a tensor containing NaN or inf")
    return inputs
