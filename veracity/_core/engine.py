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

import warnings
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.chunking import Points, points_per_chunk, run_chunks
from veracity._core.inputs import call_forward, repeat_args
from veracity._core.targets import TargetIndex
from veracity._core.validate import fail

_MODE_DEPENDENT = (torch.nn.modules.dropout._DropoutNd, torch.nn.modules.batchnorm._BatchNorm)


def warn_if_training(forward_func: Any) -> None:
    """Attributions through dropout or batch statistics are random or batch-dependent."""
    module = forward_func if isinstance(forward_func, torch.nn.Module) else getattr(forward_func, "__self__", None)
    if isinstance(module, torch.nn.Module) and module.training and any(
        isinstance(m, _MODE_DEPENDENT) and m.training for m in module.modules()
    ):
        warnings.warn(
            f"`forward_func`: the model ({type(module).__name__}) is in training mode; dropout and "
            "batch-norm statistics make attributions random and batch-dependent. Call model.eval() "
            "first.",
            UserWarning,
            stacklevel=3,
        )


def _check_rows(output: Tensor, rows: int) -> None:
    if output.dim() == 0 or output.shape[0] != rows:
        fail("forward_func", f"an output with one row per input row ({rows} rows)",
             f"output shape {tuple(output.shape)}")


def _per_point(values: Tensor, k: int, points: Points) -> Tensor:
    """Rows ``[copy][point][example]`` regrouped as ``(point, copy * batch + example, ...)``."""
    tail = values.shape[1:]
    grouped = values.reshape(points.copies, k, points.batch, *tail).transpose(0, 1)
    return grouped.reshape(k, points.copies * points.batch, *tail)


def forward_points(
    forward_func: Callable[..., Any],
    points: Points,
    consume: Callable[[int, int, Tensor], None],
    *,
    target: TargetIndex | None = None,
    additional_forward_args: tuple[Any, ...] = (),
    chunk_rows: int | None = None,
    chunk_name: str = "perturbations_per_eval",
    show_progress: bool = False,
    desc: str = "forward",
) -> None:
    """Evaluate the model on every point, without gradients.

    ``consume(start, stop, values)`` receives, for points ``start..stop-1``, the explained
    scalars shaped ``(stop - start, copies * batch)`` when ``target`` is given, else the raw
    outputs shaped ``(stop - start, copies * batch, *output.shape[1:])``.
    """
    size = points_per_chunk(points, chunk_rows, chunk_name)
    width = points.batch * points.copies

    def step(start: int, stop: int) -> None:
        k = stop - start
        with torch.inference_mode():
            chunk = points.build(start, stop)
            args = repeat_args(additional_forward_args, points.batch, k * points.copies)
            output = call_forward(forward_func, chunk, args)
            _check_rows(output, k * width)
            values = target.repeat(k * points.copies).scalars(output) if target is not None else output
        consume(start, stop, _per_point(values, k, points))

    run_chunks(points, size, show_progress, desc, step)


def gradient_points(
    forward_func: Callable[..., Any],
    points: Points,
    consume: Callable[[int, int, tuple[Tensor, ...], Tensor], None],
    *,
    target: TargetIndex,
    additional_forward_args: tuple[Any, ...] = (),
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
            args = repeat_args(additional_forward_args, points.batch, k * points.copies)
            output = call_forward(forward_func, chunk, args)
            _check_rows(output, k * width)
            scalars = target.repeat(k * points.copies).scalars(output)
            explained = scalars[: k * points.batch] if points.copies > 1 else scalars
            if not explained.requires_grad:
                fail("forward_func", "an output that depends on the inputs through autograd",
                     "an output with no gradient (is the model run under torch.no_grad()?)")
            grads = torch.autograd.grad(explained.sum(), chunk, allow_unused=True)
        grads = tuple(torch.zeros_like(t) if g is None else g for g, t in zip(grads, chunk))
        consume(start, stop, grads, _per_point(scalars.detach(), k, points))

    run_chunks(points, size, show_progress, desc, step)


def outputs_at(
    forward_func: Callable[..., Any],
    point_list: list[tuple[Tensor, ...]],
    target: TargetIndex,
    additional_forward_args: tuple[Any, ...] = (),
) -> Tensor:
    """The explained scalars at a few whole batches (e.g. inputs and baselines): ``(n, batch)``."""
    parts: list[Tensor] = []

    def build(start: int, stop: int) -> tuple[Tensor, ...]:
        return tuple(torch.cat(tensors) for tensors in zip(*point_list[start:stop]))

    points = Points.of(len(point_list), point_list[0], build)
    forward_points(forward_func, points, lambda s, e, v: parts.append(v), target=target,
                   additional_forward_args=additional_forward_args)
    return torch.cat(parts)
