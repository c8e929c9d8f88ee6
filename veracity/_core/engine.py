"""The only place that calls the model: forward and forward+backward over many points, chunked.

A method describes what it needs as :class:`Points`: ``n_points`` stacked versions of the
batch (interpolation steps, noisy copies, masked inputs), built lazily chunk by chunk so that
no more than one chunk of expanded inputs exists at a time. The engine picks the chunk size
from a memory budget (or honours ``internal_batch_size`` / ``perturbations_per_eval``), calls
the model once per chunk, and hands each chunk's outputs or gradients to the method's
``consume`` callback, which reduces them (a weighted sum for IG, a mean for SmoothGrad...).

Rows are point-major: row ``p * batch + b`` is point ``p`` of example ``b``.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.chunking import Points, points_per_chunk, run_chunks
from veracity._core.inputs import call_forward, repeat_args
from veracity._core.layers import Values, capturing, run_hooked
from veracity._core.model_errors import explained, fail_rows, is_plain_runtime_error
from veracity._core.validate import fail


def _check_rows(output: Tensor, rows: int, call: Call | None = None) -> None:
    if output.dim() == 0 or output.shape[0] != rows:
        if call is not None:
            fail_rows(output, rows, call.batch, call.user_shapes)
        fail("forward_func", f"an output with one row per input row ({rows} rows)",
             f"output shape {tuple(output.shape)}")


def _forward(call: Call, chunk: tuple[Tensor, ...], args: tuple) -> Tensor:
    """The model on one chunk; its own shape errors re-told with the inputs as the user passed them."""
    try:
        return call_forward(call.forward_func, chunk, args)
    except RuntimeError as error:
        if not is_plain_runtime_error(error):
            raise
        raise explained(error, chunk[0].shape[0] if chunk else 0, call.batch, call.user_shapes) from error


def _per_point(values: Tensor, k: int, points: Points) -> Tensor:
    """Rows ``[copy][point][example]`` regrouped as ``(point, copy * batch + example, ...)``."""
    tail = values.shape[1:]
    grouped = values.reshape(points.copies, k, points.batch, *tail).transpose(0, 1)
    return grouped.reshape(k, points.copies * points.batch, *tail)


def forward_points(
    call: Call,
    points: Points,
    consume: Callable[[int, int, Tensor], None],
    *,
    raw: bool = False,
    chunk_rows: int | None = None,
    chunk_name: str = "perturbations_per_eval",
    show_progress: bool = False,
    desc: str = "forward",
) -> None:
    """Evaluate the model on every point, without gradients.

    ``consume(start, stop, values)`` receives, for points ``start..stop-1``, the explained
    scalars (``call.target`` applied) shaped ``(stop - start, copies * batch)``, or with
    ``raw`` the outputs shaped ``(stop - start, copies * batch, *output.shape[1:])``.
    """
    size = points_per_chunk(points, chunk_rows, chunk_name)
    width = points.batch * points.copies

    def step(start: int, stop: int) -> None:
        k = stop - start
        with torch.inference_mode():
            chunk = points.build(start, stop)
            args = repeat_args(call.args, points.batch, k * points.copies)
            output = _forward(call, chunk, args)
            _check_rows(output, k * width, call)
            values = output if raw else call.target.repeat(k * points.copies).scalars(output)
        consume(start, stop, _per_point(values, k, points))

    run_chunks(points, size, show_progress, desc, step)


def gradient_points(
    call: Call,
    points: Points,
    consume: Callable[[int, int, tuple[Tensor, ...], Tensor], None],
    *,
    chunk_rows: int | None = None,
    chunk_name: str = "internal_batch_size",
    show_progress: bool = False,
    desc: str = "gradients",
) -> None:
    """Gradients of the explained scalars with respect to every point's inputs.

    One forward and one ``torch.autograd.grad`` call per chunk: the chunk's explained scalars
    are summed (rows are independent, so each row's gradient is its own). ``consume(start,
    stop, grads, scalars)`` gets gradients shaped like the chunk's inputs (all ``copies``
    halves) and the explained scalars shaped ``(stop - start, copies * batch)``, detached.
    With ``copies == 2`` only the first half's scalars are differentiated.
    """
    size = points_per_chunk(points, chunk_rows, chunk_name)
    width = points.batch * points.copies

    def step(start: int, stop: int) -> None:
        k = stop - start
        with torch.enable_grad():
            chunk = tuple(t.detach().requires_grad_() for t in points.build(start, stop))
            args = repeat_args(call.args, points.batch, k * points.copies)
            output = _forward(call, chunk, args)
            _check_rows(output, k * width, call)
            scalars = call.target.repeat(k * points.copies).scalars(output)
            explained = scalars[: k * points.batch] if points.copies > 1 else scalars
            if not explained.requires_grad:
                fail("forward_func", "an output that depends on the inputs through autograd",
                     "an output with no gradient (is the model run under torch.no_grad()?)")
            grads = torch.autograd.grad(explained.sum(), chunk, **call.grad_options())
        grads = tuple(torch.zeros_like(t) if g is None else g for g, t in zip(grads, chunk))
        consume(start, stop, grads, _per_point(scalars.detach(), k, points))

    run_chunks(points, size, show_progress, desc, step)


def gradients_at(call: Call) -> tuple[Tensor, ...]:
    """Gradient of each example's explained scalar with respect to its inputs (one chunk)."""
    result: list[tuple[Tensor, ...]] = []
    points = Points.of(1, call.inputs, lambda start, stop: call.inputs)
    gradient_points(call, points, lambda s, e, grads, scalars: result.append(grads), chunk_rows=call.batch)
    return result[0]


def outputs_at(call: Call, point_list: list[tuple[Tensor, ...]]) -> Tensor:
    """The explained scalars at a few whole batches (e.g. inputs and baselines): ``(n, batch)``."""
    parts: list[Tensor] = []

    def build(start: int, stop: int) -> tuple[Tensor, ...]:
        return tuple(torch.cat(tensors) for tensors in zip(*point_list[start:stop]))

    points = Points.of(len(point_list), point_list[0], build)
    forward_points(call, points, lambda s, e, v: parts.append(v))
    return torch.cat(parts)


def layer_values(call: Call, point_list: list[tuple[Tensor, ...]]) -> list[list[Values]]:
    """Each of ``call.sites``' values at each of a few whole batches: ``result[site][point]``.

    One model call for all points (they are few: inputs, baselines), without gradients.
    """
    batch = point_list[0][0].shape[0]
    for site in call.sites:
        site.record = []
    results: list[list[Values]] = [[] for _ in call.sites]

    def build(start: int, stop: int) -> tuple[Tensor, ...]:
        return tuple(torch.cat(tensors) for tensors in zip(*point_list[start:stop]))

    def consume(start: int, stop: int, values: Tensor) -> None:
        for site, result in zip(call.sites, results):
            recorded = site.record.pop()
            for p in range(stop - start):
                result.append(tuple(v[p * batch:(p + 1) * batch].clone() for v in recorded))

    points = Points.of(len(point_list), point_list[0], build)
    forward_points(call.with_forward(capturing(call.forward_func, list(call.sites))), points, consume, raw=True)
    return results


def site_gradients(call: Call) -> tuple[list[Values], list[Values]]:
    """Per site of ``call.sites``: the gradient of each example's explained scalar at the
    site's values, and the values; one forward and one backward for the whole batch.

    The forward pass records no graph before the first site, and the backward stops at the
    sites: the values are cut from what came before and passed on as copies (so in-place
    operations after the layer cannot touch them).
    """
    leaves: list[list[Tensor]] = [[] for _ in call.sites]

    def change_for(index: int) -> Callable[[Values], Values]:
        def change(values: Values) -> Values:
            cut = tuple(v.detach().requires_grad_(v.is_floating_point() or v.is_complex()) for v in values)
            leaves[index].extend(cut)
            return tuple(c.clone() for c in cut)
        return change

    changes = [change_for(i) for i in range(len(call.sites))]
    with torch.enable_grad():
        output = call_forward(
            lambda *args: run_hooked(call.forward_func, list(call.sites), changes, args, grad_from_layer=True),
            call.inputs, call.args)
        _check_rows(output, call.batch)
        scalars = call.target.scalars(output)
        flat = [t for site_leaves in leaves for t in site_leaves]
        wanted = [t for t in flat if t.requires_grad]
        if not scalars.requires_grad:
            fail("forward_func", "an output that depends on the layer through autograd",
                 "an output with no gradient (is the model run under torch.no_grad()?)")
        found = iter(torch.autograd.grad(scalars.sum(), wanted, **call.grad_options()))
    grads = []
    for site_leaves in leaves:
        per_site = []
        for leaf in site_leaves:
            g = next(found) if leaf.requires_grad else None
            per_site.append(torch.zeros_like(leaf) if g is None else g)
        grads.append(tuple(per_site))
    return grads, [tuple(leaf.detach() for leaf in site_leaves) for site_leaves in leaves]
