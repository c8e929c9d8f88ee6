"""Module-level backward rules: chosen modules run forward as usual and backward by a rule.

LRP and its relatives (epsilon, gamma, z+, alpha-beta, flat, w-square, z-box) replace the
backward pass of whole layers, not of single functions. :class:`ModuleRules` does this for the
duration of a ``with`` block: a forward pre-hook hands the module *detached* inputs (so the
module records no graph and may even work in place) and keeps the graph-connected originals
for this call; a forward hook then passes the output on through an autograd Function whose
backward asks the rule for the input gradient. Every call has its own entry (a module called
twice keeps both inputs), and every hook lives in a :class:`HookSet`, removed on exit, also
when the model raises. Nothing is written to the model: a rule that needs modified weights
computes them functionally (:func:`forward_with`).

Ruled modules give their parameters no gradient; a graph built in the block may be used after it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

from veracity._core.hooks import HookSet
from veracity._core.validate import fail

Grads = tuple[Tensor | None, ...]
Selector = type | tuple[type, ...] | str | Callable[[str, nn.Module], bool]


class Rule(Protocol):
    """``backward(module, inputs, output, grad_output)``: the gradient for each tensor input
    (a tensor when there is one input, else a tuple; ``None`` for no gradient)."""

    def backward(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor,
                 grad_output: Tensor) -> Tensor | Grads: ...


def matches(selector: Selector, name: str, module: nn.Module) -> bool:
    """Types match by ``isinstance``, strings by exact name or glob pattern, callables by
    ``selector(name, module)``.

    Example:
        >>> matches("features.*", "features.3", torch.nn.ReLU()), matches(torch.nn.Linear, "fc", torch.nn.ReLU())
        (True, False)
    """
    if isinstance(selector, str):
        return name == selector or fnmatch.fnmatchcase(name, selector)
    if isinstance(selector, type) or (isinstance(selector, tuple) and all(isinstance(t, type) for t in selector)):
        return isinstance(module, selector)
    if callable(selector):
        return bool(selector(name, module))
    fail("assignments", "selectors that are types, name patterns or predicates (name, module) -> bool",
         selector, TypeError)


def select_modules(model: nn.Module, selector: Selector, name: str = "assignments") -> list[tuple[str, nn.Module]]:
    """``(name, module)`` for every module of ``model`` the selector matches.

    An exact name (no ``*?[``) that names no module is an error: it is most likely a typo.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
        >>> [n for n, _ in select_modules(model, torch.nn.Linear)]
        ['0']
    """
    found = [(n, m) for n, m in model.named_modules() if matches(selector, n, m)]
    if isinstance(selector, str) and not found and not any(c in selector for c in "*?["):
        fail(name, "names from model.named_modules()", repr(selector))
    return found


def forward_with(module: nn.Module, inputs: tuple[Any, ...], **parameters: Tensor) -> Tensor:
    """The module's forward with some of its own parameters replaced by ``parameters``
    (e.g. ``weight=w + gamma * w.clamp(min=0)``), without writing to them. A module that
    works in place (``inplace=True``) gets copies of its inputs.

    Example:
        >>> layer = torch.nn.Linear(2, 1)
        >>> forward_with(layer, (torch.ones(1, 2),), weight=torch.zeros(1, 2), bias=torch.ones(1))
        tensor([[1.]])
    """
    if getattr(module, "inplace", False):  # leaves that require grad cannot be changed in place
        inputs = tuple(t.clone() if isinstance(t, Tensor) else t for t in inputs)
    return functional_call(module, parameters, inputs)


def stabilize(z: Tensor, epsilon: float) -> Tensor:
    """``z + epsilon * sign(z)`` with sign(0) = 1: a denominator that is never zero."""
    one = torch.ones((), dtype=z.dtype, device=z.device)
    return z + epsilon * torch.where(z >= 0, one, -one)  # in z's dtype: epsilon is not rounded to float32


@dataclass(frozen=True)
class Gradient:
    """The ordinary gradient, recomputed from the saved input (a reference rule).

    Example:
        >>> Gradient().backward(torch.nn.Tanh(), (torch.zeros(1),), torch.zeros(1), torch.ones(1))
        (tensor([1.]),)
    """

    def backward(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor,
                 grad_output: Tensor) -> Tensor | Grads:
        leaves = tuple(t.detach().requires_grad_(t.is_floating_point()) for t in inputs)
        with torch.enable_grad():
            z = forward_with(module, leaves)
        wanted = [t for t in leaves if t.requires_grad]
        found = iter(torch.autograd.grad(z, wanted, grad_output, allow_unused=True))
        return tuple(next(found) if t.requires_grad else None for t in leaves)


@dataclass(frozen=True)
class Passthrough:
    """The incoming gradient goes to the input unchanged (for shape-preserving modules).

    Example:
        >>> Passthrough().backward(torch.nn.ReLU(), (torch.zeros(2),), torch.zeros(2), torch.ones(2))
        tensor([1., 1.])
    """

    def backward(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor,
                 grad_output: Tensor) -> Tensor | Grads:
        return grad_output


class _RuleCall(torch.autograd.Function):
    """Forward: the module's (detached) output. Backward: the rule's gradient for the inputs."""

    @staticmethod
    def forward(ctx: Any, backward: Callable[[tuple[Tensor, ...], Tensor, Tensor], Grads], output: Tensor,
                *inputs: Tensor) -> Tensor:
        ctx.backward_fn = backward
        # saved through autograd: a later in-place change of an input is reported, not silently used
        ctx.save_for_backward(output, *inputs)
        return output.clone()

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        output, *inputs = ctx.saved_tensors
        return (None, None, *ctx.backward_fn(tuple(inputs), output, grad_output))


def _describe(name: str, module: nn.Module) -> str:
    return f"'{name or '<model>'}' ({type(module).__name__})"


class ModuleRules:
    """Within this context, the modules chosen by ``assignments`` run backward by their rule.

    ``assignments`` is a sequence of ``(selector, rule)``; for each module of ``model`` the
    first matching selector wins (types, exact names or glob patterns on ``named_modules()``,
    predicates ``(name, module) -> bool``). ``modules`` maps modules (or exact names) to rules
    and takes precedence. Modules are chosen on ``__enter__``, so a canonizer entered before
    may add modules. Rules apply only while gradients are recorded.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
        >>> x = torch.ones(1, 2, requires_grad=True)
        >>> with ModuleRules(model, [(torch.nn.Linear, Gradient()), ("1", Passthrough())]) as rules:
        ...     out = model(x)
        >>> sorted(rules.assigned)
        ['0', '1', '2']
        >>> torch.autograd.grad(out, x, out)[0].shape
        torch.Size([1, 2])
        >>> len(model[0]._forward_hooks)
        0
    """

    def __init__(self, model: nn.Module, assignments: Sequence[tuple[Selector, Rule]] = (),
                 modules: Mapping[nn.Module | str, Rule] | None = None) -> None:
        if not isinstance(model, nn.Module):
            fail("model", "a torch.nn.Module", model, TypeError)
        self.model = model
        self.assignments = list(assignments)
        self.modules = dict(modules or {})
        self.assigned: dict[str, Rule] = {}
        self._hooks: HookSet | None = None
        self._calls: dict[int, list[Any]] = {}
        self._suspended = 0

    def _resolve(self) -> dict[str, tuple[nn.Module, Rule]]:
        for pair in self.assignments:
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and hasattr(pair[1], "backward")):
                fail("assignments", "(selector, rule) pairs, rules having a backward method", pair, TypeError)
        named = dict(self.model.named_modules())
        name_of = {id(m): n for n, m in named.items()}
        chosen: dict[str, tuple[nn.Module, Rule]] = {}
        rule: Rule | None
        for key, rule in self.modules.items():
            name = name_of.get(id(key)) if isinstance(key, nn.Module) else key if key in named else None
            if name is None or not hasattr(rule, "backward"):
                fail("modules", "a mapping from modules of the model (or exact names) to rules", (key, rule))
            chosen[name] = (named[name], rule)
        for name, module in named.items():
            rule = next((r for sel, r in self.assignments if matches(sel, name, module)), None)
            if name not in chosen and rule is not None:
                chosen[name] = (module, rule)
        for selector, _ in self.assignments:
            select_modules(self.model, selector)  # an exact name that matches nothing is a typo
        return chosen

    def __enter__(self) -> "ModuleRules":
        if self._hooks is not None:
            fail("self", "a ModuleRules session entered once at a time", "a nested re-entry", RuntimeError)
        chosen = self._resolve()
        self.assigned = {name: rule for name, (_, rule) in chosen.items()}
        self._hooks = HookSet().__enter__()
        try:
            for name, (module, rule) in chosen.items():
                self._hooks.add(module.register_forward_pre_hook(self._make_pre_hook(rule)))
                self._hooks.add(module.register_forward_hook(self._make_post_hook(name, rule)))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        hooks, self._hooks = self._hooks, None
        self._calls.clear()
        if hooks is not None:
            hooks.__exit__(*exc)

    def _make_pre_hook(self, rule: Rule) -> Callable[[nn.Module, tuple[Any, ...]], tuple[Any, ...] | None]:
        # A rule with ``uses_forward_graph`` gets the module's own forward graph, recorded from
        # fresh leaves, so that its backward needs no second forward of the module.
        own_graph = bool(getattr(rule, "uses_forward_graph", False))

        def pre_hook(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
            stack = self._calls.setdefault(id(module), [])
            if self._suspended or not torch.is_grad_enabled():
                stack.append(None)
                return None
            versions = [a._version for a in args if isinstance(a, Tensor)]
            # detached: the module records no graph of its own; a copy if it works in place
            copy = bool(getattr(module, "inplace", False))
            if own_graph:
                leaves = tuple(a.detach().requires_grad_(a.is_floating_point()) for a in args if isinstance(a, Tensor))
                stack.append((args, versions, leaves))
                given = iter(leaves)
                return tuple((next(given).clone() if copy else next(given)) if isinstance(a, Tensor) else a
                             for a in args)
            stack.append((args, versions, None))
            return tuple((a.detach().clone() if copy else a.detach()) if isinstance(a, Tensor) else a for a in args)

        return pre_hook

    def _make_post_hook(self, name: str, rule: Rule) -> Callable[[nn.Module, tuple, Any], Any]:
        def post_hook(module: nn.Module, _: tuple, output: Any) -> Any:
            entry = self._calls[id(module)].pop()
            if entry is None:
                return None
            args, versions, leaves = entry
            tensors = tuple(a for a in args if isinstance(a, Tensor))
            if [t._version for t in tensors] != versions:
                fail("assignments", "ruled modules that do not modify their inputs in place",
                     f"{_describe(name, module)}, which did (set inplace=False)", RuntimeError)
            if not isinstance(output, Tensor):
                fail("assignments", "ruled modules returning one tensor",
                     f"{_describe(name, module)} returning {type(output).__name__}", TypeError)
            graph = None if leaves is None else (leaves, output)
            return _RuleCall.apply(self._make_backward(name, module, rule, graph), output.detach(), *tensors)

        return post_hook

    def _make_backward(self, name: str, module: nn.Module, rule: Rule,
                       graph: tuple[tuple[Tensor, ...], Tensor] | None = None) -> Callable[..., Grads]:
        def backward(inputs: tuple[Tensor, ...], output: Tensor, grad_output: Tensor) -> Grads:
            self._suspended += 1  # a rule may call the module: no rule inside a rule
            try:
                if graph is None:
                    result = rule.backward(module, inputs, output, grad_output)
                else:  # leaves and the module's output recorded from them
                    result = rule.backward(module, inputs, output, grad_output, graph)  # type: ignore[call-arg]
            finally:
                self._suspended -= 1
            grads = (result,) if isinstance(result, Tensor) or result is None else tuple(result)
            if len(grads) != len(inputs):
                fail("assignments", f"a rule returning {len(inputs)} gradient(s) for {_describe(name, module)}",
                     f"{len(grads)}")
            for g, t in zip(grads, inputs):
                if g is not None and g.shape != t.shape:
                    fail("assignments", f"gradients of the input shape {tuple(t.shape)} for "
                         f"{_describe(name, module)}", f"shape {tuple(g.shape)}")
            return tuple(g if t.is_floating_point() or t.is_complex() else None for g, t in zip(grads, inputs))

        return backward
