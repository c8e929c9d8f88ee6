"""Reports the operations an LRP pass would silently get wrong, with the module's name.

Modules with a rule run on detached inputs, so every operation that sees a tensor recording a
graph during an LRP forward pass lies *outside* the rules and will be backpropagated by its
plain gradient. For reshapes, concatenation, indexing, max pooling and ReLU (``F.relu`` too)
the gradient moves relevance exactly. For these it does not: non-linear functions other than
ReLU (the gradient scales the relevance by the derivative instead of passing it), sums and
means (an average pool written as ``x.mean((2, 3))``), and additions or products of two tensors
that both carry relevance (a residual connection without a canonizer doubles it). Each such
call is reported once per pass, naming the innermost module that made it.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch  # noqa: F401  (the examples use it)
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from veracity._core.hooks import ELEMENTWISE, RELU, SOFTMAX, HookSet

_NONLINEAR = (ELEMENTWISE - RELU - {"relu6"}) | SOFTMAX | {"exp", "log", "sqrt", "pow", "__pow__", "erf"}
_REDUCTIONS = {"sum", "mean", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
               "adaptive_avg_pool2d", "adaptive_avg_pool3d", "linear", "conv1d", "conv2d", "conv3d",
               "matmul", "mm", "bmm", "einsum", "batch_norm", "layer_norm", "group_norm"}
_BINARY = {"add", "__add__", "__radd__", "__iadd__", "add_", "sub", "__sub__", "__rsub__", "__isub__", "sub_",
           "mul", "__mul__", "__rmul__", "__imul__", "mul_", "div", "__truediv__", "__rtruediv__"}


def _carries(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad


class FunctionalReport(TorchFunctionMode):
    """Within this context, calls outside ruled modules that LRP's gradient would get wrong are
    collected in ``found`` (``(module name, function name)``) and warned about on exit.

    Example:
        >>> class Net(torch.nn.Module):
        ...     def forward(self, x):
        ...         return torch.tanh(x)
        >>> net = Net()
        >>> with FunctionalReport(net, ruled=set()) as report:
        ...     _ = net(torch.ones(1, requires_grad=True))
        >>> report.found
        [("'<model>' (Net)", 'tanh')]
    """

    def __init__(self, model: nn.Module, ruled: set[int], warn: bool = False) -> None:
        super().__init__()
        self.model, self.ruled, self.warn = model, ruled, warn
        self.found: list[tuple[str, str]] = []
        self._names = {id(m): n for n, m in model.named_modules()}
        self._scope: list[nn.Module] = []
        self._ruled_calls = 0
        self._hooks = HookSet()

    def __enter__(self) -> "FunctionalReport":
        def enter(module: nn.Module, _: tuple) -> None:
            if module is self.model:
                self._scope.clear()
            if id(module) in self.ruled:
                self._ruled_calls += 1
            self._scope.append(module)

        def leave(module: nn.Module, _: tuple, __: Any) -> None:
            if self._scope:
                self._scope.pop()

        for module in self.model.modules():
            self._hooks.add(module.register_forward_pre_hook(enter))
            self._hooks.add(module.register_forward_hook(leave))
        try:
            super().__enter__()
        except BaseException:
            self._hooks.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            super().__exit__(*exc)
        finally:
            self._hooks.__exit__()
        if self.warn and exc[0] is None:
            self.warn_found(stacklevel=5)

    def warn_found(self, stacklevel: int = 4) -> None:
        """Warn about what was found (nothing when nothing was)."""
        if self.found:
            listed = "; ".join(f"{fn} in {where}" for where, fn in self.found)
            warnings.warn(f"LRP: operations outside modules with a rule are backpropagated by their plain "
                          f"gradient, which does not conserve relevance: {listed}. Use modules (nn.Tanh, "
                          f"nn.AdaptiveAvgPool2d, ...) for them, a canonizer for residual additions "
                          f"(veracity.lrp.ResNetCanonizer), or give the enclosing module a rule.",
                          UserWarning, stacklevel=stacklevel)

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        watched = name in _NONLINEAR or name in _REDUCTIONS or name in _BINARY
        before = self._ruled_calls
        result = func(*args, **kwargs)
        # a call that reached a ruled module (a canonizer's Sum) is handled by that rule
        if watched and before == self._ruled_calls and not any(id(m) in self.ruled for m in self._scope) \
                and self._suspicious(name, args):
            module = self._scope[-1] if self._scope else self.model
            where = f"'{self._names.get(id(module), '?') or '<model>'}' ({type(module).__name__})"
            if (where, name) not in self.found:
                self.found.append((where, name))
        return result

    @staticmethod
    def _suspicious(name: str, args: tuple) -> bool:
        if name in _BINARY:
            return sum(_carries(a) for a in args[:2]) >= 2
        if name in ("sum", "mean") and len(args) == 1:
            return False  # a full reduction to a scalar (a loss, the explained score), not a layer
        return bool(args) and _carries(args[0])
