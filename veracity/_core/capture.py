"""Activations (and their gradients) at many layers from one forward pass per chunk.

Concept methods (TCAV, CRP, neuron probes) need the values of several layers for a whole
data set. Hooking each layer in its own pass multiplies the cost by the number of layers;
here every requested layer is hooked at once (through :func:`veracity._core.layers.capturing`)
and the batch is split into chunks of examples under the engine's memory budget. The plain
capture runs in inference mode; :func:`capture_layer_gradients` keeps the graph from the first
hooked layer on and also returns the gradient of the explained scalar at every layer.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.chunking import Points, points_per_chunk, run_chunks
from veracity._core.engine import forward_points
from veracity._core.inputs import call_forward, prepare_additional_args, prepare_inputs
from veracity._core.layers import Site, Values, capturing, make_sites, run_hooked, user_format
from veracity._core.targets import TargetIndex, prepare_target
from veracity._core.validate import fail


def is_batch_aligned(value: Any, batch: int) -> bool:
    """Extra arguments with one row per example are split with the inputs; others are shared."""
    return isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] == batch


def rows_of(args: tuple[Any, ...], batch: int, start: int, stop: int) -> tuple[Any, ...]:
    """Rows ``start..stop`` of every batch-aligned tensor in ``args``; other arguments as they are.

    Example:
        >>> import torch
        >>> rows_of((torch.arange(4), 2.0), 4, 1, 3)
        (tensor([1, 2]), 2.0)
    """
    return tuple(a[start:stop] if is_batch_aligned(a, batch) else a for a in args)


def example_points(inputs: tuple[Tensor, ...], extra_row_bytes: int = 0) -> Points:
    """Every example is one point (``batch == 1``), so chunks are runs of consecutive examples."""
    row_bytes = sum(t[:1].numel() * t.element_size() for t in inputs) + extra_row_bytes
    return Points(inputs[0].shape[0], 1, lambda s, e: tuple(t[s:e] for t in inputs), max(row_bytes, 1),
                  inputs[0].device)


def _resolve_layers(forward_func: Any, layers: Any) -> tuple[list[str] | None, list[nn.Module]]:
    """``(names or None, modules)``; names are resolved on the model behind ``forward_func``."""
    expected = "a non-empty list of modules, a dict name -> module, or a list of module names of the model"
    if isinstance(layers, nn.Module):
        return None, [layers]
    if isinstance(layers, dict) and layers and all(isinstance(m, nn.Module) for m in layers.values()):
        return [str(k) for k in layers], list(layers.values())
    if isinstance(layers, (list, tuple)) and layers and all(isinstance(m, nn.Module) for m in layers):
        return None, list(layers)
    if isinstance(layers, (list, tuple)) and layers and all(isinstance(m, str) for m in layers):
        model = forward_func if isinstance(forward_func, nn.Module) else getattr(forward_func, "__self__", None)
        if not isinstance(model, nn.Module):
            fail("layers", "modules (names need forward_func to be a torch.nn.Module)", layers, TypeError)
        named = dict(model.named_modules())
        missing = [n for n in layers if n not in named]
        if missing:
            fail("layers", "names from model.named_modules()", f"unknown name(s) {missing}")
        return list(layers), [named[n] for n in layers]
    fail("layers", expected, layers, TypeError)


def _check_unique(modules: list[nn.Module]) -> None:
    if len({id(m) for m in modules}) != len(modules):
        fail("layers", "each module at most once", f"{len(modules)} entries naming the same module twice")


def _package(names: list[str] | None, values: list[Any]) -> dict[str, Any] | list[Any]:
    return dict(zip(names, values)) if names is not None else values


def _joined(parts: list[Values]) -> Values:
    return tuple(torch.cat(column) for column in zip(*parts))


def capture_layers(
    forward_func: Callable[..., Any],
    inputs: Tensor | tuple[Tensor, ...],
    layers: Any,
    additional_forward_args: Any = (),
    *,
    to_input: bool = False,
    chunk_rows: int | None = None,
    show_progress: bool = False,
) -> dict[str, Any] | list[Any]:
    """Every layer's output (or input, ``to_input=True``) for the whole batch, without gradients.

    ``layers`` is a list of modules (a list comes back, same order), a dict name -> module or a
    list of names in the model's ``named_modules()`` (a dict comes back). One forward pass per
    chunk of ``chunk_rows`` examples (default: the memory budget) records all layers. A layer's
    value is a tensor, or a tuple for tuple outputs / several inputs, as Captum's layer methods.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
        >>> acts = capture_layers(model, torch.randn(5, 3), ["0", "2"], chunk_rows=2)
        >>> [tuple(v.shape) for v in acts.values()]
        [(5, 4), (5, 2)]
    """
    names, modules = _resolve_layers(forward_func, layers)
    _check_unique(modules)
    tup, _, batch = prepare_inputs(inputs)
    args = prepare_additional_args(additional_forward_args)
    sites = make_sites(forward_func, modules, to_input)
    model_call = capturing(forward_func, sites)
    n_inputs = len(tup)
    aligned = tuple(a for a in args if is_batch_aligned(a, batch))
    parts: list[list[Values]] = [[] for _ in sites]

    def run(*chunk: Tensor) -> Any:
        # aligned extra arguments travel inside the points (they are split with the inputs)
        given = iter(chunk[n_inputs:])
        rest = tuple(next(given) if is_batch_aligned(a, batch) else a for a in args)
        return model_call(*chunk[:n_inputs], *rest)

    def consume(start: int, stop: int, _: Tensor) -> None:
        for site, part in zip(sites, parts):
            # clone outside inference mode: callers may train on these values
            part.append(tuple(v.clone() for v in site.record.pop()))

    points = example_points(tup + aligned)
    forward_points(Call(run, tup, False, batch, TargetIndex()), points, consume, raw=True, chunk_rows=chunk_rows,
                   chunk_name="chunk_rows", show_progress=show_progress, desc="capture")
    return _package(names, [user_format(_joined(part), site) for part, site in zip(parts, sites)])


def _target_rows(target: TargetIndex, start: int, stop: int) -> TargetIndex:
    return target if target.index is None else TargetIndex(target.index[start:stop], target.select)


def capture_layer_gradients(
    forward_func: Callable[..., Any],
    inputs: Tensor | tuple[Tensor, ...],
    layers: Any,
    target: Any = None,
    additional_forward_args: Any = (),
    *,
    to_input: bool = False,
    chunk_rows: int | None = None,
    show_progress: bool = False,
) -> tuple[dict[str, Any] | list[Any], dict[str, Any] | list[Any]]:
    """``(activations, gradients)``: each layer's values and the gradient of the explained
    scalar (``target``, Captum's forms or a :class:`TargetIndex`) with respect to them.

    The gradient at a layer is the total derivative through every later path, including paths
    through the other requested layers. One forward and one ``torch.autograd.grad`` per chunk;
    the part of the model before the first requested layer records no graph.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
        >>> acts, grads = capture_layer_gradients(model, torch.randn(5, 3), [model[0]], target=1)
        >>> torch.allclose(grads[0], model[1].weight[1].expand(5, 4))
        True
    """
    names, modules = _resolve_layers(forward_func, layers)
    _check_unique(modules)
    tup, _, batch = prepare_inputs(inputs)
    args = prepare_additional_args(additional_forward_args)
    target = target if isinstance(target, TargetIndex) else prepare_target(target, batch)
    sites = make_sites(forward_func, modules, to_input)
    acts: list[list[Values]] = [[] for _ in sites]
    grads: list[list[Values]] = [[] for _ in sites]

    def change_for(site: Site) -> Callable[[Values], Values]:
        def change(values: Values) -> Values:
            if not all(v.is_floating_point() for v in values):
                fail("layers", "layers with floating-point values (gradients need them)",
                     f"integer values at a {type(site.layer).__name__}", TypeError)
            # a leaf where no graph reaches the layer yet; the model goes on with a copy, so
            # its later in-place operations cannot change the recorded tensor
            bases = tuple(v if v.requires_grad else v.detach().requires_grad_() for v in values)
            site.record.append(bases)
            return tuple(b.clone() for b in bases)
        return change

    def step(start: int, stop: int) -> None:
        for site in sites:
            site.record = []
        with torch.enable_grad():
            chunk = tuple(t[start:stop] for t in tup)
            call = lambda *a: run_hooked(forward_func, sites, [change_for(s) for s in sites], a,  # noqa: E731
                                         grad_from_layer=True)
            output = call_forward(call, chunk, rows_of(args, batch, start, stop))
            scalars = _target_rows(target, start, stop).scalars(output)
            recorded = [v for site in sites for v in site.record[0]]
            if not scalars.requires_grad:
                fail("forward_func", "an output that depends on the layers through autograd",
                     "an output with no gradient (is the model run under torch.no_grad()?)")
            found = torch.autograd.grad(scalars.sum(), recorded, allow_unused=True)
        found_iter = iter(g if g is not None else torch.zeros_like(v) for g, v in zip(found, recorded))
        for site, act, grad in zip(sites, acts, grads):
            act.append(tuple(v.detach() for v in site.record[0]))
            grad.append(tuple(next(found_iter) for _ in site.record[0]))

    run_chunks(example_points(tup), points_per_chunk(example_points(tup), chunk_rows, "chunk_rows"),
               show_progress, "layer gradients", step)
    return (_package(names, [user_format(_joined(a), s) for a, s in zip(acts, sites)]),
            _package(names, [user_format(_joined(g), s) for g, s in zip(grads, sites)]))
