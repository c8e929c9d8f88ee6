"""The neuron adapter: a selector over a layer's values becomes the explained quantity.

:func:`neuron_forward` wraps the model so that its "output" is the selected neuron (one scalar
per row); any input-space method then explains that neuron. :func:`conductance_forward`
keeps the model's output but lets gradients through the layer only via the selected neuron
(times the output's gradient there), which turns Integrated Gradients into neuron conductance.
"""

from __future__ import annotations

from typing import Any, Callable

from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.layers import (
    Site,
    as_layers,
    layer_name,
    run_hooked,
    through_selection,
    through_selection_of_tuple,
)
from veracity._core.targets import TargetIndex
from veracity._core.validate import fail
from veracity.attr._base import Attribution

Values = tuple[Tensor, ...]
Selector = tuple[int | slice, ...] | Callable[..., Tensor]  # as checked: an int becomes a 1-tuple


class NeuronAttribution(Attribution):
    """Base of neuron methods: ``forward_func`` and the ``layer`` holding the neuron.
    ``device_ids`` is accepted for Captum compatibility and unused."""

    def __init__(self, forward_func: Callable[..., Any], layer: nn.Module, device_ids: list[int] | None = None) -> None:
        super().__init__(forward_func)
        as_layers(layer, False)
        self.layer = layer
        self.device_ids = device_ids

    def _call(self, inputs: Any, additional_forward_args: Any, target: Any = None, need_float: bool = True) -> Call:
        return Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=need_float)


def check_selector(selector: Any) -> Selector:
    if callable(selector):
        return selector
    if isinstance(selector, int) and not isinstance(selector, bool):
        return (selector,)
    if (isinstance(selector, tuple) and selector
            and all((isinstance(s, int) and not isinstance(s, bool)) or isinstance(s, slice) for s in selector)):
        return selector
    fail("neuron_selector", "an int, a tuple of ints and slices, or a callable over the layer's values",
         selector, TypeError)


def select(values: Values, selector: Selector, site: Site) -> Tensor:
    """The selected neuron's value per row (a slice selects several neurons: their sum)."""
    rows = values[0].shape[0]
    if callable(selector):
        picked = selector(values[0] if len(values) == 1 else values)
        if not isinstance(picked, Tensor) or picked.numel() != rows:
            fail("neuron_selector", f"a callable returning one value per example ({rows})",
                 picked if isinstance(picked, Tensor) else type(picked).__name__, TypeError)
        return picked.reshape(rows)
    if len(values) > 1:
        fail("neuron_selector", "a callable for a layer with several tensors",
             f"indices for {layer_name(site.forward_func, site.layer)} with {len(values)} tensors")
    shape = tuple(values[0].shape[1:])
    if len(selector) > len(shape):
        fail("neuron_selector", f"at most {len(shape)} indices for layer values of shape {shape}", selector)
    for index, size in zip(selector, shape):
        if isinstance(index, int) and not -size <= index < size:
            fail("neuron_selector", f"indices within the layer's shape {shape}", selector, IndexError)
    return values[0][(slice(None),) + selector].reshape(rows, -1).sum(1)


def _site(method: NeuronAttribution, selector: Any, to_input: bool) -> tuple[Site, Selector]:
    checked = check_selector(selector)
    return Site(method.forward_func, method.layer, to_input), checked


def neuron_call(method: NeuronAttribution, call: Call, selector: Any, to_input: bool) -> Call:
    """``call`` with the selected neuron as the explained output (no target)."""
    return call.with_forward(neuron_forward(method, selector, to_input)).replace(target=TargetIndex())


def conductance_call(method: NeuronAttribution, call: Call, selector: Any, to_input: bool) -> Call:
    """``call`` (its target kept) with gradients crossing the layer only through the neuron."""
    return call.with_forward(conductance_forward(method, selector, to_input))


def neuron_forward(method: NeuronAttribution, selector: Any, to_input: bool) -> Callable[..., Tensor]:
    """The model with the selected neuron as its output (the rest of the forward pass runs)."""
    site, checked = _site(method, selector, to_input)

    def run(*args: Any) -> Tensor:
        picked: list[Tensor] = []

        def change(values: Values) -> None:
            picked.append(select(values, checked, site).clone())

        run_hooked(method.forward_func, [site], [change], args)
        return picked[0]

    return run


def conductance_forward(method: NeuronAttribution, selector: Any, to_input: bool) -> Callable[..., Tensor]:
    """The model, with gradients crossing the layer only through the selected neuron:
    d output / d input = (d output / d neuron) * (d neuron / d input), per row."""
    site, checked = _site(method, selector, to_input)

    def run(*args: Any) -> Tensor:
        def change(values: Values) -> Values:
            if len(values) > 1:
                return through_selection_of_tuple(values, lambda vs: select(vs, checked, site))
            return (through_selection(values[0], lambda v: select((v,), checked, site)),)

        return run_hooked(method.forward_func, [site], [change], args)

    return run
