"""The base of the attacks (Captum's ``Perturbation``) and the checks they share."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.inputs import as_tuple, check_inputs
from veracity._core.targets import prepare_target
from veracity._core.validate import describe, fail


class Perturbation:
    """An input perturbation: ``perturb(inputs, ...)`` returns perturbed copies of the inputs,
    shaped like them; calling the object is the same as ``perturb``.

    Example:
        >>> class AddOne(Perturbation):
        ...     def perturb(self, inputs):
        ...         return inputs + 1
        >>> AddOne()(torch.zeros(2)).tolist()
        [1.0, 1.0]
    """

    def perturb(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        return self.perturb(inputs, *args, **kwargs)


class _BoundedAttack(Perturbation):
    """A gradient attack on ``forward_func`` with ``loss_func`` whose results stay inside
    ``[lower_bound, upper_bound]`` (FGSM's and PGD's shared constructor, as Captum's)."""

    def __init__(self, forward_func: Callable, loss_func: Callable | None = None,
                 lower_bound: float = float("-inf"), upper_bound: float = float("inf")) -> None:
        self.forward_func = forward_func
        self.loss_func = loss_func
        self.lower_bound, self.upper_bound = check_bounds(lower_bound, upper_bound)

    def bound(self, x: Tensor) -> Tensor:
        """Clamp to ``[lower_bound, upper_bound]``."""
        return torch.clamp(x, self.lower_bound, self.upper_bound)


def check_number(name: str, value: Any, minimum: float | None = 0.0) -> float:
    """A finite number (``>= minimum`` when given), else an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        fail(name, "a number", value, TypeError)
    if minimum is not None and value < minimum:
        fail(name, f"a number >= {minimum:g}", str(value))
    return float(value)


def check_bounds(lower_bound: Any, upper_bound: Any) -> tuple[float, float]:
    lower = float(check_number("lower_bound", lower_bound, None))
    upper = float(check_number("upper_bound", upper_bound, None))
    if lower > upper:
        fail("upper_bound", f"a value >= lower_bound ({lower:g})", str(upper))
    return lower, upper


def prepare_attack_inputs(inputs: Any, lower: float, upper: float) -> tuple[tuple[Tensor, ...], bool, int]:
    """The inputs as a tuple of floating-point tensors inside ``[lower, upper]``."""
    tup, was_tuple = as_tuple(inputs)
    batch = check_inputs(tup, need_float=True)
    for i, t in enumerate(tup):
        low, high = float(t.min()), float(t.max())
        if low < lower or high > upper:
            where = "inputs" if len(tup) == 1 else f"inputs[{i}]"
            fail(where, f"values inside the attack's bounds [lower_bound={lower:g}, upper_bound={upper:g}]",
                 f"values in [{low:g}, {high:g}]")
    return tup, was_tuple, batch


def prepare_mask(mask: Any, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """Captum's ``mask``: None (all ones) or one mask per input, broadcastable to it."""
    if mask is None:
        return tuple(torch.ones((), dtype=t.dtype, device=t.device) for t in inputs)
    masks, _ = as_tuple(mask, "mask")
    if len(masks) != len(inputs):
        fail("mask", f"one mask per input ({len(inputs)})", masks)
    for m, t in zip(masks, inputs):
        try:
            torch.broadcast_shapes(m.shape, t.shape)
        except RuntimeError:
            fail("mask", f"masks broadcastable to the inputs' shapes {[tuple(x.shape) for x in inputs]}",
                 describe(masks))
    return tuple(m.to(t.dtype) for m, t in zip(masks, inputs))


def loss_of(loss_func: Callable[..., Tensor] | None, target: Any, batch: int) -> Callable[[Tensor], Tensor]:
    """``loss_func(outputs, target)``, or by default ``-log(outputs[target])`` (Captum's default:
    the outputs are read as probabilities)."""
    if loss_func is not None:
        if not callable(loss_func):
            fail("loss_func", "a callable loss_func(outputs, target)", loss_func, TypeError)
        return lambda outputs: loss_func(outputs, target)
    index = prepare_target(target, batch)
    return lambda outputs: -torch.log(index.scalars(outputs))
