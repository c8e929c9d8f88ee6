"""The LRP pass: canonizers, rules, one forward and one backward per chunk.

:func:`relevance_pass` runs a :class:`~veracity._core.call.Call` with a rule for chosen modules
(:class:`~veracity._core.rules.ModuleRules`) inside canonizers, and backpropagates the explained
output's *value* (the relevance starts at ``f(x)`` for the target, as in Captum), so that under
conservation the input relevances sum to ``f(x)``. It can record the relevance at the output or
input of layers (``taps``) and, for Concept Relevance Propagation, mask the relevance at one
layer's output: ``condition = (layer, masks)`` evaluates ``len(masks)`` stacked copies of the
batch (points), copy ``p`` keeping only the relevance ``masks[p]`` lets through, all in one
forward and one backward per chunk of points.

Rules and canonizers are chosen by the caller: ``assign(model) -> {module: rule}`` is called
once the canonizers are in place (they may add modules, e.g. a residual ``Sum``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.chunking import Points, points_per_chunk, run_chunks
from veracity._core.hooks import HookSet
from veracity._core.inputs import call_forward, repeat_args
from veracity._core.lrp_checks import FunctionalReport
from veracity._core.rules import ModuleRules, Rule
from veracity._core.validate import fail

Values = tuple[Tensor, ...]
Assign = Callable[[nn.Module], Mapping[nn.Module, Rule]]
# a canonizer factory: (model, probe) -> context manager; probe() runs the model on one example
CanonizerFactory = Callable[[nn.Module, Callable[[], Any]], contextlib.AbstractContextManager]


@dataclass
class LRPResult:
    """Input relevances (one tensor per input, rows point-major), each tap's relevances, the
    explained outputs ``(rows,)`` and the rules given, by module name."""

    inputs: Values
    taps: list[Values]
    outputs: Tensor
    assigned: dict[str, Rule] = field(default_factory=dict)
    values: list[Values] = field(default_factory=list)  # each tap's forward values (activations)


class _Tap(torch.autograd.Function):
    """Identity forward; the backward records the relevance passing through (and may mask it)."""

    @staticmethod
    def forward(ctx: Any, value: Tensor, record: Callable[[Tensor], Tensor]) -> Tensor:
        ctx.record = record
        return value.clone()  # a later in-place operation (an in-place ReLU) may change it

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return ctx.record(grad), None


def _module_name(model: nn.Module, module: nn.Module) -> str:
    for name, m in model.named_modules():
        if m is module:
            return f"'{name or '<model>'}' ({type(module).__name__})"
    return f"a {type(module).__name__} outside the model"


def _hook_taps(hooks: HookSet, model: nn.Module, taps: Sequence[tuple[nn.Module, bool]],
               records: list[list[Tensor | None]], calls: list[int], active: list[bool],
               seen: list[Values]) -> None:
    for index, (layer, to_input) in enumerate(taps):
        def keep(slot: int, index: int = index) -> Callable[[Tensor], Tensor]:
            def record(grad: Tensor) -> Tensor:
                records[index][slot] = grad.detach()
                return grad
            return record

        def wrap(values: Values, index: int = index, keep: Callable = keep) -> Values:
            if not active[0]:
                return values  # a rule evaluating the module in the backward pass
            calls[index] += 1
            if calls[index] > 1:
                fail("layer", "a module called once per forward pass",
                     f"{_module_name(model, taps[index][0])}, called more than once (a reused module)")
            records[index][:] = [None] * len(values)
            seen[index] = tuple(v.detach() for v in values if isinstance(v, Tensor))
            return tuple(_Tap.apply(v, keep(i)) if isinstance(v, Tensor) and v.requires_grad else v
                         for i, v in enumerate(values))

        if to_input:
            hooks.add(layer.register_forward_pre_hook(lambda m, args, wrap=wrap: wrap(tuple(args)), prepend=True))
        else:
            def post(m: nn.Module, args: tuple, out: Any, wrap: Callable = wrap) -> Any:
                if isinstance(out, Tensor):
                    return wrap((out,))[0]
                if isinstance(out, tuple) and all(isinstance(v, Tensor) for v in out):
                    return wrap(out)
                fail("layer", "a module whose output is a tensor or a tuple of tensors",
                     f"{_module_name(model, m)} returning {type(out).__name__}", TypeError)
            hooks.add(layer.register_forward_hook(post))


class _Collapse(torch.autograd.Function):
    """Forward: the first of ``copies`` identical stacked copies. Backward: the relevance copied
    back to every copy and masked. Above a conditioned layer all copies compute the same, so
    that part of the model runs once (the copies differ only in their backward below it)."""

    @staticmethod
    def forward(ctx: Any, value: Tensor, copies: int, mask: Tensor) -> Tensor:
        ctx.copies, ctx.mask = copies, mask
        return value[: value.shape[0] // copies].clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return grad.repeat(ctx.copies, *([1] * (grad.dim() - 1))) * ctx.mask.to(grad.dtype), None, None


def _hook_condition(hooks: HookSet, model: nn.Module, layer: nn.Module, current: list[Tensor | None],
                    collapse: list[int]) -> None:
    def post(m: nn.Module, args: tuple, out: Any) -> Any:
        mask = current[0]
        if mask is None:
            return None
        if not isinstance(out, Tensor):
            fail("layer", "a module with one output tensor for a condition",
                 f"{_module_name(model, m)} returning {type(out).__name__}", TypeError)
        if mask.dim() > out.dim() or any(a not in (1, b) for a, b in zip(mask.shape[::-1], out.shape[::-1])):
            fail("channels", f"masks broadcastable to the layer's output of shape {tuple(out.shape)}",
                 f"shape {tuple(mask.shape)}")
        current[0] = None
        copies, collapse[0] = collapse[0], 0
        if copies > 1 and out.shape[0] == mask.shape[0] and out.shape[0] % copies == 0:
            collapse[1] = copies
            return _Collapse.apply(out, copies, mask)
        return _Tap.apply(out, lambda grad: grad * mask.to(grad.dtype))
    hooks.add(layer.register_forward_hook(post))


def _keeps_zeros(module: nn.Module, rule: Rule) -> bool:
    """The rule gives zero relevance to inputs that are zero (it multiplies by the input)."""
    if getattr(rule, "passes_relevance", False):
        return True
    groups = getattr(rule, "groups", None)
    if not callable(groups):
        return False
    return all(isinstance(b.input, str) and b.input in ("x", "positive", "negative")
               for g in groups(module) for b in g.branches)


def _is_plain_pass(module: nn.Module, rule: Rule) -> bool:
    """Pass on a ReLU (or an identity) equals its gradient when every rule keeps zeros (the
    relevance at a dead unit is then 0 anyway): such modules keep their plain backward, no
    hooks, no copy of their output. Flat, w-square and z-box do not keep zeros."""
    passes = getattr(rule, "passes_relevance", False)
    return bool(passes) and (type(module) in (nn.ReLU, nn.Identity) or (
        isinstance(module, nn.modules.dropout._DropoutNd) and not module.training))


def relevance_pass(call: Call, model: nn.Module, assign: Assign, canonizers: Sequence[CanonizerFactory] = (),
                   taps: Sequence[tuple[nn.Module, bool]] = (), masks: tuple[nn.Module, Tensor] | None = None,
                   *, chunk_rows: int | None = None, report: bool = True, show_progress: bool = False,
                   desc: str = "LRP", consume: Callable[[int, int, LRPResult], None] | None = None) -> LRPResult:
    """Relevance at the inputs (and taps) of ``call`` under the rules ``assign`` gives.

    Without ``masks`` the batch is one point; with ``masks = (layer, m)`` there are ``len(m)``
    points and ``m[p]`` (broadcastable to the layer's output without its batch dimension)
    multiplies the relevance at ``layer``'s output for point ``p``. ``consume(start, stop,
    result)`` receives each chunk's result (rows ``[point][example]``); without it the chunks
    are concatenated. ``report`` warns about operations outside ruled modules.
    """
    if not isinstance(model, nn.Module):
        fail("model", "a torch.nn.Module (LRP assigns rules to its modules)", model, TypeError)
    n_points = 1 if masks is None else int(masks[1].shape[0])
    batch = call.batch
    pieces: list[LRPResult] = []
    assigned: dict[str, Rule] = {}

    def probe() -> Any:
        first = tuple(t[:1].detach().requires_grad_(t.is_floating_point()) for t in call.inputs)
        args = tuple(a[:1] if isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == batch else a
                     for a in call.args)
        return call_forward(call.forward_func, first, args)

    def build(start: int, stop: int) -> Values:
        k = stop - start
        return tuple(t.repeat(k, *([1] * (t.dim() - 1))) if k > 1 else t for t in call.inputs)

    points = Points.of(n_points, call.inputs, build)
    # the memory ceiling, not a tuned smaller size: every chunk runs the part above the layer once
    size = n_points if masks is None else int(points_per_chunk(points, chunk_rows, "batch_size"))
    with contextlib.ExitStack() as stack:
        for factory in canonizers:
            stack.enter_context(factory(model, probe))
        chosen = dict(assign(model))
        names = {id(m): n for n, m in model.named_modules()}
        for module in chosen:
            if id(module) not in names:
                fail("rules", "modules of the model", f"a {type(module).__name__} that is not in it")
        elide = all(_keeps_zeros(m, r) for m, r in chosen.items())
        given: dict[nn.Module | str, Rule] = {m: r for m, r in chosen.items()
                                              if not (elide and _is_plain_pass(m, r))}
        stack.enter_context(ModuleRules(model, modules=given))
        assigned.update({names[id(m)]: r for m, r in chosen.items()})
        hooks = stack.enter_context(HookSet())
        records: list[list[Tensor | None]] = [[] for _ in taps]
        calls = [0] * len(taps)
        active = [False]
        seen: list[Values] = [() for _ in taps]
        _hook_taps(hooks, model, taps, records, calls, active, seen)
        current: list[Tensor | None] = [None]
        # [copies to collapse at the layer (0: none), copies collapsed in this pass]; shared[0]
        # turns collapsing off when the part above the layer sees the copies another way
        collapse, shared = [0, 0], [masks is not None and not call.args]
        if masks is not None:
            _hook_condition(hooks, model, masks[0], current, collapse)
        ruled = {id(m) for m in chosen}

        def step(start: int, stop: int) -> None:
            k = stop - start
            for i in range(len(calls)):
                calls[i] = 0
            if masks is not None:
                current[0] = masks[1][start:stop].repeat_interleave(batch, dim=0)
            collapse[:] = [k if shared[0] and k > 1 else 0, 0]
            with torch.enable_grad():
                chunk = tuple(t.detach().requires_grad_(t.is_floating_point()) for t in build(start, stop))
                active[0] = True
                checker = FunctionalReport(model, ruled)
                try:
                    with checker:
                        output = call_forward(call.forward_func, chunk, repeat_args(call.args, batch, k))
                except RuntimeError:
                    if not collapse[1]:
                        raise
                    output = None  # a skip connection around the layer met the collapsed copies
                finally:
                    active[0] = False
                rows = batch if collapse[1] else k * batch
                if collapse[1] and (output is None or output.dim() == 0 or output.shape[0] != rows):
                    shared[0] = False  # run this chunk again with every copy through the whole model
                    step(start, stop)
                    return
                assert output is not None
                if report:
                    checker.warn_found(stacklevel=6)
                if masks is not None and current[0] is not None:
                    fail("layer", "a module the model calls", f"{_module_name(model, masks[0])}, never called")
                if output.dim() == 0 or output.shape[0] != rows:
                    fail("forward_func", f"an output with one row per input row ({rows} rows)",
                         f"output shape {tuple(output.shape)}")
                scalars = call.target.repeat(rows // batch).scalars(output)
                if not scalars.requires_grad:
                    fail("forward_func", "an output that depends on the inputs through autograd",
                         "an output with no gradient (is the model run under torch.no_grad()?)")
                wanted = [t for t in chunk if t.requires_grad]
                grads = iter(torch.autograd.grad(scalars, wanted, scalars.detach(), allow_unused=True))
                if collapse[1]:
                    scalars = scalars.repeat(k)
            found = [next(grads) if t.requires_grad else None for t in chunk]
            for i, (layer, _) in enumerate(taps):
                if calls[i] == 0:
                    fail("layer", "a module the model calls", f"{_module_name(model, layer)}, never called")
            result = LRPResult(tuple(torch.zeros_like(t) if g is None else g for g, t in zip(found, chunk)),
                               [tuple(torch.zeros(0) if r is None else r for r in rec) for rec in records],
                               scalars.detach(), assigned, list(seen))
            if consume is not None:
                consume(start, stop, result)
            else:
                pieces.append(result)

        run_chunks(points, size, show_progress, desc, step, model=model)
    if consume is not None:
        return LRPResult((), [], torch.zeros(0), assigned)
    if len(pieces) == 1:
        return pieces[0]
    return LRPResult(tuple(torch.cat(p) for p in zip(*(r.inputs for r in pieces))),
                     [tuple(torch.cat(v) for v in zip(*vals)) for vals in zip(*(r.taps for r in pieces))],
                     torch.cat([r.outputs for r in pieces]), assigned,
                     [tuple(torch.cat(v) for v in zip(*vals)) for vals in zip(*(r.values for r in pieces))])


def layer_output_shape(call: Call, layer: nn.Module) -> tuple[int, ...]:
    """The shape of ``layer``'s output for one example (one forward pass without gradients)."""
    shapes: list[tuple[int, ...]] = []

    def record(m: nn.Module, args: tuple, out: Any) -> None:
        if isinstance(out, Tensor) and not shapes:
            shapes.append(tuple(out.shape))

    first = tuple(t[:1] for t in call.inputs)
    args = tuple(a[:1] if isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == call.batch else a for a in call.args)
    with HookSet() as hooks, torch.no_grad():
        hooks.add(layer.register_forward_hook(record))
        call_forward(call.forward_func, first, args)
    if not shapes:
        fail("layer", "a module the model calls, returning a tensor", f"a {type(layer).__name__} that was not")
    return shapes[0]


def predicted_classes(call: Call) -> Tensor:
    """``argmax`` over dimension 1 of the model's output, per example (one forward pass)."""
    with torch.inference_mode():
        output = call_forward(call.forward_func, call.inputs, call.args)
    if output.dim() < 2 or output.shape[0] != call.batch:
        fail("forward_func", "an output of shape (batch, classes) to predict from", f"shape {tuple(output.shape)}")
    return output.argmax(1).clone()
