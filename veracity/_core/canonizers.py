"""Canonizers: rewrite a model, for the duration of a ``with`` block, into an equivalent form
whose backward rules are well defined, and always restore it.

LRP rules are defined for affine layers followed by activations; a BatchNorm after a
convolution, or the addition inside a residual block, breaks that pattern. A canonizer makes
the pattern hold without changing the function the model computes:

* :class:`MergeBatchNorm` folds eval-mode BatchNorms into the Linear/Conv layer that feeds them;
  the layer's parameters are *swapped* for folded ones and the BatchNorm becomes the identity.
  On exit the original Parameter objects are put back (not copies: optimizers holding them
  stay valid), and the originals are never written to.
* :class:`ResidualSum` turns the tensor additions inside chosen blocks into calls of a
  :class:`Sum` module added to each block, so that :class:`~veracity._core.rules.ModuleRules`
  can give the addition a rule.
* :class:`Compose` enters several canonizers in order and leaves them in reverse.

Every change is recorded as an undo step as it is made, so a failure half-way, or an error in
the model inside the block, still restores everything.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence, TypeGuard, cast

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.overrides import TorchFunctionMode

from veracity._core.hooks import HookSet
from veracity._core.rules import Selector, select_modules
from veracity._core.validate import describe, fail


class Canonizer:
    """Base: ``apply(undo)`` makes the changes, registering one undo step per change."""

    def apply(self, undo: Callable[[Callable[[], None]], None]) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Canonizer":
        self._undo: list[Callable[[], None]] = []
        try:
            self.apply(self._undo.append)
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _restore(self) -> None:
        while self._undo:
            self._undo.pop()()


def _identity(x: Tensor, *_: Any, **__: Any) -> Tensor:
    return x


def _foldable(layer: nn.Module) -> TypeGuard[nn.Linear | _ConvNd]:
    return isinstance(layer, nn.Linear) or (isinstance(layer, _ConvNd) and not layer.transposed)


def batchnorm_pairs(model: nn.Module, probe: Tensor | tuple[Tensor, ...]) -> list[tuple[nn.Module, _BatchNorm]]:
    """``(layer, batchnorm)`` pairs found by one probe forward pass: a BatchNorm pairs with the
    Linear/Conv whose output tensor is *the very tensor* it receives, both called once.

    The probe cannot see other uses of that tensor (e.g. ``bn(conv(x)) + conv_out``); for such
    models pass the pairs explicitly. The probe runs under ``torch.no_grad()``.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)).eval()
        >>> batchnorm_pairs(model, torch.randn(1, 1, 5, 5)) == [(model[0], model[1])]
        True
    """
    if any(isinstance(m, _BatchNorm) and m.training for m in model.modules()):
        fail("probe", "a model whose BatchNorms are in eval mode (a probe pass would update their "
             "running statistics)", "a BatchNorm in training mode; call model.eval()")
    made: dict[int, tuple[Tensor, nn.Module]] = {}
    calls: dict[int, int] = {}
    found: list[tuple[nn.Module, _BatchNorm]] = []

    def count(module: nn.Module, *_: Any) -> None:
        calls[id(module)] = calls.get(id(module), 0) + 1

    def produced(module: nn.Module, _: tuple, output: Any) -> None:
        if isinstance(output, Tensor):
            made[id(output)] = (output, module)  # the tensor is kept: its id stays unique

    def consumed(module: _BatchNorm, args: tuple) -> None:
        source = made.get(id(args[0])) if args and isinstance(args[0], Tensor) else None
        if source is not None and source[0] is args[0]:
            found.append((source[1], module))

    with HookSet() as hooks, torch.no_grad():
        for module in model.modules():
            if _foldable(module):
                hooks.add(module.register_forward_pre_hook(count))
                hooks.add(module.register_forward_hook(produced))
            elif isinstance(module, _BatchNorm):
                hooks.add(module.register_forward_pre_hook(count))
                hooks.add(module.register_forward_pre_hook(consumed))
        model(*(probe if isinstance(probe, tuple) else (probe,)))
    return [(layer, bn) for layer, bn in found if calls[id(layer)] == 1 and calls[id(bn)] == 1]


class MergeBatchNorm(Canonizer):
    """Fold each eval-mode BatchNorm into the Linear/Conv layer before it, for the session.

    Pairs come from ``pairs`` (a list of ``(layer, batchnorm)``) or from one ``probe`` forward
    pass (:func:`batchnorm_pairs`). With ``s = gamma / sqrt(var + eps)``: ``W' = s * W`` (per
    output channel) and ``b' = s * (b - mean) + beta``; the BatchNorm's forward is the identity.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)).eval()
        >>> x = torch.randn(4, 3)
        >>> with MergeBatchNorm(model, probe=x) as merged:
        ...     inside = model(x)
        >>> len(merged.pairs), torch.allclose(inside, model(x), atol=1e-6)
        (1, True)
    """

    def __init__(self, model: nn.Module, probe: Tensor | tuple[Tensor, ...] | None = None,
                 pairs: Sequence[tuple[nn.Module, nn.Module]] | None = None) -> None:
        if (probe is None) == (pairs is None):
            fail("probe", "exactly one of probe (model inputs) and pairs", "both" if probe is not None else "neither")
        self.model, self.probe = model, probe
        self.pairs: Sequence[tuple[nn.Module, nn.Module]] = list(pairs) if pairs is not None else []

    def apply(self, undo: Callable[[Callable[[], None]], None]) -> None:
        if self.probe is not None:
            self.pairs = batchnorm_pairs(self.model, self.probe)
        for pair in self.pairs:
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                fail("pairs", "(layer, batchnorm) pairs", pair, TypeError)
            layer, bn = pair
            if not _foldable(layer):
                fail("pairs", "a Linear or (non-transposed) Conv layer first", describe(layer), TypeError)
            if not isinstance(bn, _BatchNorm) or bn.training or bn.running_mean is None:
                fail("pairs", "an eval-mode BatchNorm with running statistics second", describe(bn))
            if bn.num_features != layer.weight.shape[0]:
                fail("pairs", f"a BatchNorm over the layer's {layer.weight.shape[0]} outputs",
                     f"num_features={bn.num_features}")
            self._fold(layer, bn, undo)

    @staticmethod
    def _fold(layer: nn.Module, bn: _BatchNorm, undo: Callable[[Callable[[], None]], None]) -> None:
        weight, bias = layer._parameters["weight"], layer._parameters.get("bias")
        assert weight is not None and bn.running_mean is not None and bn.running_var is not None  # checked by apply
        with torch.no_grad():
            scale = torch.rsqrt(bn.running_var + bn.eps)
            if bn.weight is not None:
                scale = scale * bn.weight
            shift = -bn.running_mean * scale + (bn.bias if bn.bias is not None else 0)
            if bias is not None:
                shift = shift + bias * scale
            folded = weight * scale.reshape(-1, *([1] * (weight.dim() - 1)))

        def restore(layer: nn.Module = layer, weight: nn.Parameter = weight, bias: nn.Parameter | None = bias) -> None:
            layer._parameters["weight"], layer._parameters["bias"] = weight, bias

        undo(restore)
        layer._parameters["weight"] = nn.Parameter(folded.to(weight.dtype), weight.requires_grad)
        bias_flag = (bias if bias is not None else weight).requires_grad
        layer._parameters["bias"] = nn.Parameter(shift.to(weight.dtype), bias_flag)
        previous = vars(bn).get("forward")
        undo(lambda: vars(bn).pop("forward") if previous is None else setattr(bn, "forward", previous))
        bn.forward = _identity  # type: ignore[method-assign,assignment]  # instance-level patch, undone above


class Sum(nn.Module):
    """``a + b`` as a module, so that a backward rule can be attached to a residual addition.

    Example:
        >>> Sum()(torch.ones(2), torch.ones(2))
        tensor([2., 2.])
    """

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return torch.add(a, b)


# ``a + b`` reaches a TorchFunctionMode as ``Tensor.add``, ``a += b`` as ``Tensor.add_``
_ADDITIONS = {Tensor.__add__, Tensor.__radd__, torch.add, Tensor.add}
_IN_PLACE_ADDITIONS = {Tensor.__iadd__, Tensor.add_}


class _RouteAdditions(TorchFunctionMode):
    """Sends same-shape tensor additions made directly inside a chosen block to its Sum."""

    def __init__(self, sums: dict[int, Sum], scope: list[nn.Module]) -> None:
        super().__init__()
        self.sums, self.scope = sums, scope

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        inner = self.scope[-1] if self.scope else None
        if (inner is None or id(inner) not in self.sums or kwargs or len(args) != 2
                or not all(isinstance(a, Tensor) for a in args) or args[0].shape != args[1].shape):
            return func(*args, **kwargs)
        # the mode is off in here, so Sum's own addition runs plainly
        if func in _ADDITIONS:
            return self.sums[id(inner)](*args)
        if func in _IN_PLACE_ADDITIONS:
            # stays in place; the Sum sees a copy, so its saved input is not overwritten
            return args[0].copy_(self.sums[id(inner)](args[0].clone(), args[1]))
        return func(*args, **kwargs)


class ResidualSum(Canonizer):
    """Within the session, additions of two same-shape tensors made directly in the forward of
    each chosen block (``blocks``: a type, a name pattern, a predicate, or a list of modules)
    are calls of a :class:`Sum` module added to the block as ``name``.

    Additions inside the block's submodules, and those with ``alpha``/``out``, are not touched.
    ``x += y`` and ``x.add_(y)`` stay in place: the Sum adds a copy of ``x`` and ``y``, and the
    result is copied into ``x``.

    Example:
        >>> class Block(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = torch.nn.Linear(2, 2)
        ...     def forward(self, x):
        ...         return self.fc(x) + x
        >>> block = Block()
        >>> with ResidualSum(block, Block):
        ...     names = [n for n, _ in block.named_modules()]
        >>> names, [n for n, _ in block.named_modules()]
        (['', 'fc', 'residual_sum'], ['', 'fc'])
    """

    def __init__(self, model: nn.Module, blocks: Selector | Sequence[nn.Module], name: str = "residual_sum") -> None:
        self.model, self.blocks, self.name = model, blocks, name

    def apply(self, undo: Callable[[Callable[[], None]], None]) -> None:
        if isinstance(self.blocks, (list, tuple)) and all(isinstance(b, nn.Module) for b in self.blocks):
            chosen = list(self.blocks)
        else:
            chosen = [m for _, m in select_modules(self.model, cast(Selector, self.blocks), "blocks")]
        if not chosen:
            fail("blocks", "a selection matching at least one module of the model", self.blocks)
        sums: dict[int, Sum] = {}
        for block in chosen:
            if hasattr(block, self.name):
                fail("name", f"an attribute name free in {type(block).__name__}", repr(self.name))
            block.add_module(self.name, Sum())
            undo(lambda block=block: block._modules.pop(self.name))  # type: ignore[misc]  # default-arg lambda
            sums[id(block)] = getattr(block, self.name)
        scope: list[nn.Module] = []
        hooks = HookSet()
        undo(hooks.__exit__)

        def enter(module: nn.Module, _: tuple) -> None:
            if module is self.model:
                scope.clear()  # a fresh top-level call: drop what an earlier failed call left
            scope.append(module)

        def leave(module: nn.Module, _: tuple, output: Any) -> None:
            if scope:
                scope.pop()

        for module in self.model.modules():
            hooks.add(module.register_forward_pre_hook(enter))
            hooks.add(module.register_forward_hook(leave))
        mode = _RouteAdditions(sums, scope)
        mode.__enter__()
        undo(lambda: mode.__exit__(None, None, None))


class Compose(Canonizer):
    """Several canonizers as one: entered in order, left in reverse (also on error).

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)).eval()
        >>> with Compose(MergeBatchNorm(model, probe=torch.randn(3, 2)), ResidualSum(model, "0")):
        ...     _ = model(torch.randn(3, 2))
    """

    def __init__(self, *canonizers: contextlib.AbstractContextManager) -> None:
        self.canonizers = canonizers

    def apply(self, undo: Callable[[Callable[[], None]], None]) -> None:
        stack = contextlib.ExitStack()
        undo(stack.close)
        for canonizer in self.canonizers:
            stack.enter_context(canonizer)
