"""Small base classes with Captum 0.9's names and shared behaviour."""

from __future__ import annotations

import copy
import functools
import re
import types
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.engine import outputs_at
from veracity._core.futures import completed_future, waiting_on_futures
from veracity._core.inputs import as_tuple, sum_per_example
from veracity._core.validate import fail


class Attribution:
    """Base of every attribution method: holds the model (``forward_func``) and nothing else.

    No state is kept between calls, so one instance can serve many threads and calls.
    """

    _multiply_by_inputs: bool = False
    _eager_only = False  # rules that intercept activation calls: TorchScript compiles those calls away

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Each ``attribute`` / ``attribute_future`` gets a ``__wrapped__``, as Captum's
        decorated methods have (user code reads their signatures through it)."""
        super().__init_subclass__(**kwargs)
        for name in ("attribute", "attribute_future"):
            method = cls.__dict__.get(name)
            if callable(method) and not hasattr(method, "__wrapped__"):
                setattr(cls, name, _wrapped(method))

    def __init__(self, forward_func: Callable[..., Any]) -> None:
        if not callable(forward_func):
            fail("forward_func", "a callable model or function", forward_func, TypeError)
        if self._eager_only and isinstance(forward_func, (torch.jit.ScriptModule, torch.jit.ScriptFunction)):
            fail("forward_func", f"an eager model for {type(self).__name__}: its rules intercept the activation "
                 "calls, which TorchScript compiles away (the result would silently be plain gradients); pass the "
                 "model before torch.jit.script / trace", f"a TorchScript {type(forward_func).__name__}",
                 TypeError)
        self.forward_func = forward_func

    def attribute(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def attribute_call(self, call: Call, *args: Any, **kwargs: Any) -> Any:
        """``attribute`` on an already normalised :class:`~veracity._core.call.Call`: how
        adapters (layer, neuron, NoiseTunnel, metrics) run this method on a derived call
        without turning it back into the user's form. ``kwargs`` are ``attribute``'s other
        arguments."""
        raise NotImplementedError(f"{type(self).__name__} does not take a normalised call")

    def attribute_future(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not support attribute_future")

    def has_convergence_delta(self) -> bool:
        return False

    @property
    def multiplies_by_inputs(self) -> bool:
        """Whether the attributions are multiplied by ``inputs - baselines`` (global) rather than
        left as multipliers (local); the methods that take ``multiply_by_inputs`` store it in
        ``_multiply_by_inputs``."""
        return self._multiply_by_inputs

    @classmethod
    def get_name(cls) -> str:
        """The class name in words: ``IntegratedGradients`` -> ``Integrated Gradients``."""
        return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", cls.__name__)


class GradientAttribution(Attribution):
    """Base of gradient methods; adds ``compute_convergence_delta``."""

    def compute_convergence_delta(
        self,
        attributions: Tensor | tuple[Tensor, ...],
        start_point: Tensor | tuple[Tensor, ...],
        end_point: Tensor | tuple[Tensor, ...],
        target: Any = None,
        additional_forward_args: Any = None,
    ) -> Tensor:
        """Per example: sum of attributions - (F(end_point) - F(start_point)).

        Example:
            >>> import torch
            >>> from veracity.attr import IntegratedGradients
            >>> model = torch.nn.Linear(3, 1)
            >>> ig = IntegratedGradients(model)
            >>> x = torch.randn(2, 3)
            >>> a = ig.attribute(x)
            >>> bool(ig.compute_convergence_delta(a, torch.zeros(2, 3), x).abs().max() < 1e-5)
            True
        """
        attrs, _ = as_tuple(attributions, "attributions")
        ends, _ = as_tuple(end_point, "end_point")
        starts, _ = as_tuple(start_point, "start_point")
        if len(attrs) != len(ends) or len(starts) != len(ends):
            fail("start_point", f"{len(attrs)} tensors, as many as the attributions", start_point)
        starts = tuple(s.expand_as(e) if s.shape != e.shape else s for s, e in zip(starts, ends))
        call = Call.of(self.forward_func, ends, target, additional_forward_args)
        values = outputs_at(call, [ends, starts])
        return convergence_delta(attrs, values[0] - values[1])


def convergence_delta(attributions: tuple[Tensor, ...], output_difference: Tensor) -> Tensor:
    """Per example: sum of all attributions minus the output difference they should explain."""
    return sum_per_example(attributions).to(output_difference.dtype) - output_difference


def _wrapped(method: Callable[..., Any]) -> Callable[..., Any]:
    def attribute(*args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)

    # the wrapper lives in the method's module (its globals), so doctest still finds its examples
    wrapper = types.FunctionType(attribute.__code__, getattr(method, "__globals__", {}), method.__name__,
                                 None, attribute.__closure__)
    return functools.update_wrapper(wrapper, method)


class PerturbationAttribution(Attribution):
    """Base of perturbation methods (ablation, Shapley, LIME-style).

    ``multiplies_by_inputs`` is True, as in Captum: an ablation's effect is a global
    attribution (the output change when the feature is removed), not a multiplier."""

    _multiply_by_inputs = True

    def _future_of(self, **arguments: Any) -> Any:
        """``attribute(**arguments)`` for a ``forward_func`` that returns
        ``torch.futures.Future``: each model call's future is waited on as the engine needs
        its value, and the result comes back as a completed ``Future``."""
        twin = copy.copy(self)
        twin.forward_func = waiting_on_futures(self.forward_func)
        return completed_future(twin.attribute(**arguments))
