"""Gradients at arbitrary points of straight paths, one flat list of (example, alpha) rows.

Adaptive and exact path integration (:mod:`veracity._core.adaptive`,
:mod:`veracity._core.piecewise`) refine each example's path where it needs it, so examples
ask for different numbers of points. Rows are evaluated in chunks sized by the engine's
memory budget (or ``internal_batch_size`` rows per model call), one forward and one backward
per chunk; each row carries its example's target and per-example arguments.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.autograd.forward_ad as fwad
from torch import Tensor

from veracity._core import config
from veracity._core.call import Call
from veracity._core.chunking import Points, points_per_chunk, run_chunks
from veracity._core.inputs import call_forward
from veracity._core.targets import TargetIndex
from veracity._core.validate import fail

Values = tuple[Tensor, ...]


@dataclass(frozen=True)
class RowResult:
    """One chunk of rows: gradients shaped like the inputs' rows, the explained scalars, and
    (with a tracer) whatever the tracer reports per row."""

    start: int
    stop: int
    grads: Values
    scalars: Tensor
    traced: Any = None


class Tracer:
    """Watches the forward pass of one chunk (the piecewise-linear breakpoint finder is one).
    ``session(rows)`` is entered around the model call; ``result()`` is read after it."""

    def session(self, rows: int) -> AbstractContextManager[Any]:
        return nullcontext()

    def result(self) -> Any:
        return None


def _gather_args(args: tuple[Any, ...], batch: int, ex: Tensor) -> tuple[Any, ...]:
    return tuple(a[ex.to(a.device)] if isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == batch else a
                 for a in args)


def row_gradients(call: Call, baselines: Values, ex: Tensor, alphas: Tensor,
                  consume: Callable[[RowResult], None], *, chunk_rows: int | None = None,
                  tracer: Tracer | None = None, show_progress: bool = False, desc: str = "path") -> None:
    """Gradient of the explained scalar at ``baselines[e] + a (inputs[e] - baselines[e])`` for
    every row ``(e, a)`` of ``ex`` and ``alphas``, chunk by chunk into ``consume``.

    With a ``tracer`` the inputs also carry the path direction as a forward-mode tangent, so
    the tracer sees every intermediate value's derivative along the path.
    """
    inputs = call.inputs
    diffs = tuple(x - b for x, b in zip(inputs, baselines))
    rows = int(ex.shape[0])
    if rows == 0:
        return
    like = tuple(x[:1] for x in inputs)

    def build(start: int, stop: int) -> Values:
        e = ex[start:stop]
        a = alphas[start:stop]
        return tuple(b[e] + a.to(d.dtype).view(-1, *([1] * (d.dim() - 1))) * d[e] for b, d in zip(baselines, diffs))

    points = Points.of(rows, like, build)
    # Rows are single points of varying examples: the tuned per-(point x batch) sizes of the
    # regular workloads do not carry over, so the budget's ceiling is used as is.
    size = int(points_per_chunk(points, chunk_rows)) if chunk_rows is not None else \
        max(1, min(rows, config.chunk_budget_bytes(points.device) // points.row_bytes))

    def step(start: int, stop: int) -> None:
        e = ex[start:stop]
        target = TargetIndex(None if call.target.index is None else call.target.index[e.cpu()], call.target.select)
        args = _gather_args(call.args, call.batch, e)
        with torch.enable_grad():
            chunk = tuple(t.detach().requires_grad_() for t in build(start, stop))
            if tracer is None:
                output = call_forward(call.forward_func, chunk, args)
                traced = None
            else:
                with fwad.dual_level():
                    duals = tuple(fwad.make_dual(c, d[e]) for c, d in zip(chunk, diffs))
                    with tracer.session(stop - start):
                        output = call_forward(call.forward_func, duals, args)
                    output = fwad.unpack_dual(output).primal
                traced = tracer.result()
            if output.dim() == 0 or output.shape[0] != stop - start:
                fail("forward_func", f"an output with one row per input row ({stop - start} rows)",
                     f"output shape {tuple(output.shape)}")
            scalars = target.scalars(output)
            if not scalars.requires_grad:
                fail("forward_func", "an output that depends on the inputs through autograd",
                     "an output with no gradient (is the model run under torch.no_grad()?)")
            grads = torch.autograd.grad(scalars.sum(), chunk, **call.grad_options())
        grads = tuple(torch.zeros_like(t) if g is None else g for g, t in zip(grads, chunk))
        consume(RowResult(start, stop, grads, scalars.detach(), traced))

    run_chunks(points, size, show_progress, desc, step)


def endpoint_scalars(call: Call, baselines: Values) -> tuple[Tensor, Tensor]:
    """The explained scalars at the inputs and at the baselines, one forward for both."""
    batch = call.batch
    with torch.inference_mode():
        stacked = tuple(torch.cat([x, b]) for x, b in zip(call.inputs, baselines))
        args = _gather_args(call.args, batch, torch.cat([torch.arange(batch), torch.arange(batch)]))
        output = call_forward(call.forward_func, stacked, args)
        scalars = call.target.repeat(2).scalars(output)
    return scalars[:batch].clone(), scalars[batch:].clone()
