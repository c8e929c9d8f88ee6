"""Finding what the LRP canonizers rewrite: BatchNorm pairs and residual additions.

* :func:`sequential_pairs`: a Linear/Conv followed by a BatchNorm as neighbours in an
  ``nn.Sequential`` (Zennit's ``SequentialMergeBatchNorm``), found from the structure alone.
* :func:`probe_structure`: one forward pass on one example finds (a) each BatchNorm whose input
  is *the very tensor* a Linear/Conv produced, both called once, and (b) the modules whose own
  forward adds two same-shape tensors that both depend on the input (residual blocks).

:func:`resnet_canonizer` merges (a) and routes (b) through a ``Sum`` module, so a rule (Norm)
can split the relevance between the two branches.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.overrides import TorchFunctionMode

from veracity._core.canonizers import _ADDITIONS, _IN_PLACE_ADDITIONS, Compose, MergeBatchNorm, ResidualSum, _foldable
from veracity._core.hooks import HookSet
from veracity._core.validate import fail

Pairs = list[tuple[nn.Module, nn.Module]]


def sequential_pairs(model: nn.Module) -> Pairs:
    """``(layer, batchnorm)`` for each Linear/Conv directly followed by a BatchNorm in an
    ``nn.Sequential`` of the model.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU())
        >>> sequential_pairs(model) == [(model[0], model[1])]
        True
    """
    pairs: Pairs = []
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            children = list(module.children())
            for first, second in zip(children, children[1:]):
                if _foldable(first) and isinstance(second, _BatchNorm):
                    pairs.append((first, second))
    return pairs


class _FindAdditions(TorchFunctionMode):
    def __init__(self, scope: list[nn.Module], found: list[nn.Module]) -> None:
        super().__init__()
        self.scope, self.found = scope, found

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        if ((func in _ADDITIONS or func in _IN_PLACE_ADDITIONS) and not kwargs and len(args) == 2
                and all(isinstance(a, Tensor) and a.requires_grad for a in args)
                and args[0].shape == args[1].shape and self.scope
                and not any(m is self.scope[-1] for m in self.found)):
            self.found.append(self.scope[-1])
        return func(*args, **kwargs)


def probe_structure(model: nn.Module, probe: Callable[[], Any]) -> tuple[Pairs, list[nn.Module]]:
    """BatchNorm pairs and residual blocks, from one probe forward pass (``probe()`` runs the
    model on one example whose inputs record gradients).

    Example:
        >>> class Block(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.conv, self.bn = torch.nn.Conv2d(2, 2, 3, padding=1), torch.nn.BatchNorm2d(2)
        ...     def forward(self, x):
        ...         return self.bn(self.conv(x)) + x
        >>> block = Block().eval()
        >>> pairs, blocks = probe_structure(block, lambda: block(torch.rand(1, 2, 4, 4, requires_grad=True)))
        >>> pairs == [(block.conv, block.bn)], blocks == [block]
        (True, True)
    """
    made: dict[int, tuple[Tensor, nn.Module]] = {}
    calls: dict[int, int] = {}
    pairs: Pairs = []
    blocks: list[nn.Module] = []
    scope: list[nn.Module] = []

    def enter(module: nn.Module, args: tuple) -> None:
        calls[id(module)] = calls.get(id(module), 0) + 1
        scope.append(module)
        if isinstance(module, _BatchNorm) and args and isinstance(args[0], Tensor):
            source = made.get(id(args[0]))
            if source is not None and source[0] is args[0]:
                pairs.append((source[1], module))

    def leave(module: nn.Module, _: tuple, output: Any) -> None:
        if scope:
            scope.pop()
        if _foldable(module) and isinstance(output, Tensor):
            made[id(output)] = (output, module)  # the tensor is kept: its id stays unique

    with HookSet() as hooks, torch.enable_grad(), _FindAdditions(scope, blocks):
        for module in model.modules():
            hooks.add(module.register_forward_pre_hook(enter))
            hooks.add(module.register_forward_hook(leave))
        probe()
    once = [(layer, bn) for layer, bn in pairs if calls[id(layer)] == 1 and calls[id(bn)] == 1]
    return once, blocks


def resnet_canonizer(model: nn.Module, probe: Callable[[], Any]) -> contextlib.AbstractContextManager:
    """BatchNorms merged into the layer producing their input, and residual additions as
    ``Sum`` modules, for the session (restored on exit, also on error)."""
    if any(isinstance(m, _BatchNorm) and m.training for m in model.modules()):
        fail("model", "a model whose BatchNorms are in eval mode (merging uses the running statistics, "
             "and a probe pass would update them)", "a BatchNorm in training mode; call model.eval()")
    pairs, blocks = probe_structure(model, probe)
    merge = MergeBatchNorm(model, pairs=pairs)
    return Compose(merge, ResidualSum(model, blocks)) if blocks else merge


def merge_sequential(model: nn.Module, probe: Callable[[], Any] | None = None) -> contextlib.AbstractContextManager:
    """BatchNorms merged into the Linear/Conv before them in an ``nn.Sequential``."""
    return MergeBatchNorm(model, pairs=sequential_pairs(model))


def example_probe(model: nn.Module, example: Tensor | tuple[Tensor, ...] | None, who: str) -> Callable[[], Any]:
    """A probe running ``model`` on the first row of ``example`` (inputs recording gradients)."""

    def probe() -> Any:
        if example is None:
            fail("example", f"example inputs for {who} (it runs one probe forward pass)", None)
        given = example if isinstance(example, tuple) else (example,)
        return model(*(t[:1].detach().requires_grad_(t.is_floating_point()) for t in given))

    return probe
