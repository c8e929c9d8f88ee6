"""Every hook and gradient override, in one place, always removed.

Two mechanisms:

* :class:`HookSet` registers module hooks (layer capture, output replacement) and removes
  them on exit, also when the model raises.
* :class:`BackwardRules` overrides the backward pass of activation functions (DeepLift's
  Rescale rule, Guided Backprop, Deconvolution). Instead of module backward hooks (which
  Captum uses, and which miss ``F.relu``, break on ``inplace=True`` and on a module called
  twice) it intercepts the *function calls* during the forward pass with a
  ``TorchFunctionMode``: ``nn.ReLU``, ``F.relu``, ``torch.relu`` and ``x.relu()`` are all the
  same call there, every call is handled on its own (so reuse is correct), and in-place
  variants are computed out of place so the pre-activation values survive.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode
from torch.utils.hooks import RemovableHandle


class HookSet:
    """A context manager owning module hooks; all are removed on exit, error or not.

    Example:
        >>> import torch
        >>> layer = torch.nn.Linear(2, 2)
        >>> seen = []
        >>> with HookSet() as hooks:
        ...     _ = hooks.add(layer.register_forward_hook(lambda m, i, o: seen.append(o.shape)))
        ...     _ = layer(torch.zeros(1, 2))
        >>> len(layer._forward_hooks)
        0
    """

    def __init__(self) -> None:
        self._handles: list[RemovableHandle] = []

    def add(self, handle: RemovableHandle) -> RemovableHandle:
        self._handles.append(handle)
        return handle

    def __enter__(self) -> "HookSet":
        return self

    def __exit__(self, *exc: object) -> None:
        while self._handles:
            self._handles.pop().remove()


# Backward rules -------------------------------------------------------------------------

ELEMENTWISE = frozenset({
    "relu", "relu_", "relu6", "elu", "elu_", "leaky_relu", "leaky_relu_", "selu", "selu_",
    "celu", "celu_", "gelu", "silu", "mish", "softplus", "sigmoid", "sigmoid_", "tanh", "tanh_",
    "hardtanh", "hardtanh_", "softsign", "logsigmoid", "hardswish", "hardsigmoid",
})
RELU = frozenset({"relu", "relu_"})
MAX_POOL = frozenset({"max_pool1d", "max_pool2d", "max_pool3d", "_max_pool1d", "_max_pool2d",
                      "_max_pool3d"})
SOFTMAX = frozenset({"softmax", "_softmax", "log_softmax", "_log_softmax"})

_OUT_OF_PLACE = {"relu_": torch.relu, "sigmoid_": torch.sigmoid, "tanh_": torch.tanh,
                 "elu_": F.elu, "leaky_relu_": F.leaky_relu, "selu_": F.selu, "celu_": F.celu,
                 "hardtanh_": F.hardtanh}


class _Override(torch.autograd.Function):
    """Pass ``value`` forward; send ``backward(grad)`` to ``source`` in the backward pass."""

    @staticmethod
    def forward(ctx: Any, source: Tensor, value: Tensor, backward: Callable[[Tensor], Tensor]) -> Tensor:
        ctx.backward_fn = backward
        return value.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return ctx.backward_fn(grad), None, None


@dataclass
class ActivationCall:
    """One intercepted call: its family, the out-of-place function of its first argument,
    that argument and the output; max pooling adds the argmax ``indices``, softmax its ``dim``."""

    name: str
    family: str
    fn: Callable[[Tensor], Tensor]
    input: Tensor
    output: Tensor
    indices: Tensor | None = None
    dim: int | None = None


def _family(name: str) -> str | None:
    if name in RELU:
        return "relu"
    if name in ELEMENTWISE:
        return "elementwise"
    if name in MAX_POOL:
        return "max_pool"
    if name in SOFTMAX:
        return "softmax"
    return None


def _out_of_place(func: Callable, name: str, args: tuple, kwargs: dict) -> Callable[[Tensor], Tensor]:
    """The function of its first argument with every other argument fixed, never in place."""
    base = _OUT_OF_PLACE.get(name, func)
    rest, extra = tuple(args[1:]), dict(kwargs)
    try:
        bound = inspect.signature(base).bind(args[0], *rest, **extra)
    except (TypeError, ValueError):  # builtins without a signature take no inplace flag
        bound = None
    if bound is not None and "inplace" in bound.arguments:
        bound.arguments["inplace"] = False
        rest, extra = tuple(bound.args[1:]), dict(bound.kwargs)
    return lambda t: base(t, *rest, **extra)


_POOL_PARAMS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")


def _max_pool_call(name: str, args: tuple, kwargs: dict) -> tuple[ActivationCall, bool]:
    dims = int(name.rstrip("d")[-1])
    params = dict(zip(_POOL_PARAMS, args[1:]))
    params.update(kwargs)
    wants_indices = bool(params.pop("return_indices", False))
    pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[dims]

    def fn(t: Tensor) -> Tensor:
        return pool(t, **params)

    output, indices = pool(args[0], **params, return_indices=True)
    return ActivationCall(name, "max_pool", fn, args[0], output, indices=indices), wants_indices


class BackwardRules(TorchFunctionMode):
    """Within this context, activation calls run forward as usual but backward by rule.

    ``rule(call: ActivationCall) -> backward | None`` is asked for every call of a family
    listed in ``families`` ({"relu", "elementwise", "max_pool", "softmax"}; "elementwise"
    includes ReLU). ``None`` keeps the ordinary gradient. Calls under ``torch.no_grad()``
    and all other functions pass through untouched.
    """

    def __init__(self, rule: Callable[[ActivationCall], Callable[[Tensor], Tensor] | None],
                 families: frozenset[str]) -> None:
        super().__init__()
        self.rule = rule
        self.families = families | ({"relu"} if "elementwise" in families else set())

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        family = _family(name)
        if (family not in self.families or not args or not isinstance(args[0], Tensor)
                or not torch.is_grad_enabled()):
            return func(*args, **kwargs)
        wants_indices = False
        if family == "max_pool":
            call, wants_indices = _max_pool_call(name, args, kwargs)
        else:
            fn = _out_of_place(func, name, args, kwargs)
            call = ActivationCall(name, family, fn, args[0], fn(args[0]))
            if family == "softmax":
                call.dim = args[1] if len(args) > 1 else kwargs.get("dim")
                if call.dim is None:
                    return call.output
        backward = self.rule(call)
        output = call.output
        if backward is not None:
            output = _Override.apply(call.input, call.output.detach(), backward)
        return (output, call.indices) if wants_indices else output
