"""Capture, replace or differentiate a layer's input or output, through :class:`HookSet`.

Layer and neuron methods reuse the input-space algorithms by handing the engine a wrapped
forward function; this module builds those wrappers. Three ways to touch a layer:

* **capture**: record the layer's values (activations) as they pass;
* **replace**: the layer's values are the first tensors the wrapper is called with, so the
  engine's points (interpolations, ablations in layer space) *are* the layer's values and
  their gradients are the gradients at the layer; the model's inputs follow as ordinary
  (tiled) extra arguments;
* **tap**: the model runs on input-space points and the layer's values ``v`` become
  ``v.detach() + (tap - tap.detach())`` (the same values), so the gradient with respect to the
  tap is the gradient at the layer (and backward stops there).

Every hook is registered in a :class:`HookSet` and removed on exit, also when the model raises.
A layer that is never called, or called more than once in one forward pass (a reused module),
is reported with its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.hooks import HookSet
from veracity._core.validate import fail

Values = tuple[Tensor, ...]


def _model_of(forward_func: Any) -> nn.Module | None:
    if isinstance(forward_func, nn.Module):
        return forward_func
    owner = getattr(forward_func, "__self__", None)
    return owner if isinstance(owner, nn.Module) else None


def layer_name(forward_func: Any, layer: nn.Module) -> str:
    """``'block1.conv1' (Conv2d)`` when the layer is found in the model, else its class name."""
    model = _model_of(forward_func)
    if model is not None:
        for name, module in model.named_modules():
            if module is layer:
                return f"'{name or '<model>'}' ({type(layer).__name__})"
    return f"a {type(layer).__name__}"


def as_layers(layer: Any, allow_list: bool, name: str = "layer") -> tuple[list[nn.Module], bool]:
    """``(layers, was_list)``; a list is accepted only where Captum accepts one."""
    if isinstance(layer, nn.Module):
        return [layer], False
    if allow_list and isinstance(layer, (list, tuple)) and layer and all(isinstance(m, nn.Module) for m in layer):
        return list(layer), True
    fail(name, "a torch.nn.Module" + (" or a list of them" if allow_list else ""), layer, TypeError)


@dataclass
class Site:
    """One layer, seen at its input or its output. ``record`` keeps values from every call."""

    forward_func: Any
    layer: nn.Module
    to_input: bool
    calls: int = 0
    record: list[Values] = field(default_factory=list)
    was_tuple: bool = False

    def check_calls(self) -> None:
        if self.calls == 0:
            fail("layer", "a module that forward_func calls", f"{layer_name(self.forward_func, self.layer)}, "
                 "which was never called in the forward pass (pass the module the model runs, "
                 "not a copy; functional ops cannot be hooked)")
        if self.calls > 1:
            fail("layer", "a module called once per forward pass",
                 f"{layer_name(self.forward_func, self.layer)}, called {self.calls} times (a reused "
                 "module); give each use its own module instance")


def _split(value: Any, site: Site) -> Values:
    if isinstance(value, Tensor):
        site.was_tuple = False
        return (value,)
    if isinstance(value, tuple) and value and all(isinstance(v, Tensor) for v in value):
        site.was_tuple = not site.to_input
        return value
    where = "input" if site.to_input else "output"
    fail("layer", f"a module whose {where} is a tensor or a tuple of tensors",
         f"{layer_name(site.forward_func, site.layer)} with {where} {type(value).__name__}", TypeError)


def _join(values: Values, site: Site) -> Any:
    return tuple(values) if site.was_tuple or site.to_input else values[0]


def user_format(values: Values, site: Site) -> Any:
    """A site's values as Captum returns them: a tuple for tuple outputs or several inputs."""
    if site.to_input:
        return tuple(values) if len(values) > 1 else values[0]
    return tuple(values) if site.was_tuple else values[0]


def _hook(hooks: HookSet, site: Site, change: Callable[[Values], Values | None], grad_on: bool) -> None:
    """Hook ``site``; ``change(values)`` may return replacement values (same shapes).

    ``grad_on``: switch gradient recording on from here (the prefix ran without it).
    """

    def apply(value: Any) -> Any:
        if grad_on:
            torch.set_grad_enabled(True)
        site.calls += 1
        if site.calls > 1:
            site.check_calls()
        values = _split(value, site)
        new = change(values)
        if new is None:
            return None
        for old, replacement in zip(values, new):
            if replacement.shape != old.shape:
                fail("layer", f"values of shape {tuple(old.shape)} at {layer_name(site.forward_func, site.layer)}",
                     f"shape {tuple(replacement.shape)}")
        return _join(tuple(new), site)

    if site.to_input:
        hooks.add(site.layer.register_forward_pre_hook(lambda m, args: apply(args)))
    else:
        hooks.add(site.layer.register_forward_hook(lambda m, args, out: apply(out)))


def run_hooked(forward_func: Any, sites: list[Site], changes: list[Callable], args: tuple,
               grad_from_layer: bool = False) -> Any:
    """Call the model with every site hooked; check each site was called exactly once.

    ``grad_from_layer``: when gradients are needed only at the layers (replaced or tapped
    values), the part of the forward pass before the first hooked layer records no graph.
    """
    for site in sites:
        site.calls = 0
    grad_on = grad_from_layer and torch.is_grad_enabled()
    with HookSet() as hooks, torch.set_grad_enabled(not grad_on and torch.is_grad_enabled()):
        for site, change in zip(sites, changes):
            _hook(hooks, site, change, grad_on)
        output = forward_func(*args)
    for site in sites:
        site.check_calls()
    return output


def make_sites(forward_func: Any, layers: list[nn.Module], to_input: bool) -> list[Site]:
    return [Site(forward_func, layer, to_input) for layer in layers]


def capturing(forward_func: Any, sites: list[Site]) -> Callable[..., Any]:
    """The model, recording every site's values (cloned: later in-place ops cannot change them)."""

    def change_for(site: Site) -> Callable[[Values], None]:
        return lambda values: site.record.append(tuple(v.detach().clone() for v in values))

    return lambda *args: run_hooked(forward_func, sites, [change_for(s) for s in sites], args)


def replacing(forward_func: Any, sites: list[Site], counts: list[int]) -> Callable[..., Any]:
    """``f(*layer_values, *model_inputs, *args)``: the model with each site's values replaced.

    ``counts[i]`` is the number of tensors of site ``i`` at the front of the arguments.
    """
    total = sum(counts)

    def run(*flat: Any) -> Any:
        values, rest = flat[:total], flat[total:]
        changes, start = [], 0
        for count in counts:
            changes.append(lambda _, given=tuple(values[start:start + count]): given)
            start += count
        return run_hooked(forward_func, sites, changes, rest, grad_from_layer=True)

    return run


def tapping(forward_func: Any, sites: list[Site], n_inputs: int, counts: list[int],
            keep: bool = False) -> Callable[..., Any]:
    """``f(*model_inputs, *taps, *args)``: each site's values ``v`` become
    ``v.detach() + (tap - tap.detach())``: the same values, whatever the taps hold.

    The gradient with respect to a tap is the gradient at the layer. With ``keep`` the
    detached values are recorded in ``site.record`` (one entry per call).
    """
    total = sum(counts)

    def run(*flat: Any) -> Any:
        inputs, taps, rest = flat[:n_inputs], flat[n_inputs:n_inputs + total], flat[n_inputs + total:]
        changes, start = [], 0
        for site, count in zip(sites, counts):
            site_taps = taps[start:start + count]
            start += count

            def change(values: Values, site: Site = site, site_taps: tuple = site_taps) -> Values:
                detached = tuple(v.detach() for v in values)
                if keep:
                    site.record.append(detached)
                # value-neutral: the layer keeps its value, the tap carries the gradient
                return tuple(d + (t - t.detach()) for d, t in zip(detached, site_taps))

            changes.append(change)
        return run_hooked(forward_func, sites, changes, (*inputs, *rest), grad_from_layer=True)

    return run


class _ThroughSelection(torch.autograd.Function):
    """Identity forward; backward sends ``select(grad) * d neuron / d values`` to the values."""

    @staticmethod
    def forward(ctx: Any, value: Tensor, pick: Callable[[Tensor], Tensor]) -> Tensor:
        ctx.save_for_backward(value.detach())
        ctx.pick = pick
        return value.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (value,) = ctx.saved_tensors
        with torch.enable_grad():
            point = value.detach().requires_grad_()
            (neuron_grad,) = torch.autograd.grad(ctx.pick(point).sum(), point)
        output_grad = ctx.pick(grad)
        return output_grad.view(-1, *([1] * (value.dim() - 1))) * neuron_grad, None

    @staticmethod
    def jvp(ctx: Any, tangent: Tensor, _: Any) -> Tensor:
        """Forward mode (exact path integration): the identity's tangent."""
        return tangent.clone()


class _ThroughSelectionOfTuple(torch.autograd.Function):
    """:class:`_ThroughSelection` for a layer with several tensors: ``pick`` takes the tuple."""

    @staticmethod
    def forward(ctx: Any, pick: Callable[[tuple[Tensor, ...]], Tensor], *values: Tensor) -> tuple[Tensor, ...]:
        ctx.save_for_backward(*(v.detach() for v in values))
        ctx.pick = pick
        return tuple(v.clone() for v in values)

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[Tensor | None, ...]:
        values = ctx.saved_tensors
        with torch.enable_grad():
            points = tuple(v.detach().requires_grad_(v.is_floating_point()) for v in values)
            wanted = [p for p in points if p.requires_grad]
            found = iter(torch.autograd.grad(ctx.pick(points).sum(), wanted, allow_unused=True))
        neuron_grads = [next(found) if p.requires_grad else None for p in points]
        output_grad = ctx.pick(tuple(torch.zeros_like(v) if g is None else g for g, v in zip(grads, values)))
        return (None, *(None if g is None else output_grad.view(-1, *([1] * (g.dim() - 1))) * g
                        for g in neuron_grads))

    @staticmethod
    def jvp(ctx: Any, _: Any, *tangents: Tensor) -> tuple[Tensor, ...]:
        """Forward mode (exact path integration): the identity's tangents."""
        return tuple(t.clone() for t in tangents)


def through_selection_of_tuple(values: tuple[Tensor, ...], pick: Callable[[tuple[Tensor, ...]], Tensor]
                               ) -> tuple[Tensor, ...]:
    """:func:`through_selection` for a layer whose input or output is several tensors."""
    return _ThroughSelectionOfTuple.apply(pick, *values)


def through_selection(value: Tensor, pick: Callable[[Tensor], Tensor]) -> Tensor:
    """``value`` unchanged forward; backward, the gradient reaches ``value`` only through the
    selected quantity ``pick(value)`` (one value per row): ``pick(grad) * d pick / d value``.
    Neuron conductance routes the output's gradient through one neuron this way."""
    return _ThroughSelection.apply(value, pick)
