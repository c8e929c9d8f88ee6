"""Adaptive path integration: refine the straight path only where the integrand needs it.

Every example's path ``[0, 1]`` is cut into intervals, each evaluated at its ends and middle.
On an interval the integrand along the path, ``h(t) = grad F(x(t)) . (x - x')`` (whose integral
is ``F(x) - F(x')``), gives two estimates from the same three points: Simpson's rule and the
two-panel trapezoid rule; their difference estimates the interval's error (conservatively for
smooth stretches, where Simpson is two orders better; about right where ``h`` jumps, as it
does at every kink of a ReLU network). Each round splits, per example, the intervals with the
largest estimated errors (a split costs two new points; all examples' new points go through
the engine together, in chunks) until the summed estimate is below ``tolerance * |F(x) -
F(x')|`` or the example's evaluations are spent. The gradients get the same Simpson weights.

The rows integrated need not be input gradients: an ``integrand`` maps each chunk to the rows
to integrate and their scalar ``h`` (layer conductance: the layer's gradient times the layer's
own change along the path, whose sum is again ``dF/dt``). Where ``h`` is not ``dF/dt`` (neuron
conductance: one neuron's share), no antiderivative is known and ``estimate=True`` measures an
interval by four times the gap between Simpson's and the two-panel trapezoid rule: that covers
the error of an interval holding one jump of a piecewise-constant ``h`` (the ReLU case) and
over-covers a smooth one; it is an estimate, not a bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.path_rows import RowResult, Tracer, row_gradients

Values = tuple[Tensor, ...]
Integrand = Callable[[RowResult, Tensor], tuple[Values, Tensor]]


def gradient_integrand(diffs: Values) -> Integrand:
    """The rows of Integrated Gradients: the input gradients, and ``h = grad F . (x - x')``."""

    def rows(chunk: RowResult, ex: Tensor) -> tuple[Values, Tensor]:
        h = sum((g * d[ex]).reshape(g.shape[0], -1).sum(1).to(torch.float64) for g, d in zip(chunk.grads, diffs))
        return chunk.grads, torch.as_tensor(h)

    return rows


@dataclass(frozen=True)
class PathReport:
    """What an adaptive or exact path integration used, per example.

    ``evaluations``: gradient evaluations (model forward + backward rows); ``error_bound``: the
    estimated completeness error relative to ``|F(x) - F(x')|`` (adaptive: the summed interval
    estimates; exact: 0 unless the evaluation cap left part of the path uncovered, then that
    part's length); ``rounds``: batched refinement rounds.

    Example:
        >>> PathReport(torch.tensor([5]), torch.tensor([0.0]), 1).evaluations.tolist()
        [5]
    """

    evaluations: Tensor
    error_bound: Tensor
    rounds: int


class _Store:
    """Every evaluated point: example, alpha, directional derivative and gradient rows."""

    def __init__(self, integrand: Integrand) -> None:
        self.integrand = integrand
        self.grads: list[list[Tensor]] = []
        self.h: list[Tensor] = []
        self.scalars: list[Tensor] = []
        self.size = 0
        self.eps = 0.0

    def add(self, chunk: RowResult, ex: Tensor) -> None:
        values, h = self.integrand(chunk, ex[chunk.start:chunk.stop])
        if not self.grads:
            self.grads = [[] for _ in values]
        for store, g in zip(self.grads, values):
            store.append(g)
        self.h.append(h.to(torch.float64).cpu())
        self.scalars.append(chunk.scalars.to(torch.float64).cpu())
        self.eps = max(self.eps, torch.finfo(chunk.scalars.dtype).eps)
        self.size += chunk.stop - chunk.start


def _evaluate(call: Any, baselines: Values, store: _Store, ex: Tensor, alphas: Tensor,
              chunk_rows: int | None, show_progress: bool, tracer: Tracer | None) -> Tensor:
    first = store.size
    ex_device = ex.to(call.inputs[0].device)
    row_gradients(call, baselines, ex_device, alphas, lambda chunk: store.add(chunk, ex_device),
                  chunk_rows=chunk_rows, tracer=tracer, show_progress=show_progress, desc="adaptive IG")
    return torch.arange(first, first + ex.numel())


def adaptive_path_integral(call: Any, baselines: Values, tolerance: float, *, max_evaluations: int = 4096,
                           first_intervals: int = 8, chunk_rows: int | None = None, show_progress: bool = False,
                           integrand: Integrand | None = None, tracer: Tracer | None = None,
                           estimate: bool = False) -> tuple[Values, PathReport]:
    """``integral_0^1 grad F(x' + t (x - x')) dt`` to a relative completeness ``tolerance``.

    Returns the integrals (cast to the inputs' dtype) and a :class:`PathReport`. With an
    ``integrand`` the integrals are of its rows instead (shaped like its rows, per example);
    a ``tracer`` (even the no-op :class:`Tracer`) runs the rows with the path direction as a
    forward-mode tangent; ``estimate``: see the module's docstring.
    """
    inputs = call.inputs
    batch = call.batch
    diffs = tuple(x - b for x, b in zip(inputs, baselines))
    store = _Store(integrand or gradient_integrand(diffs))
    n = first_intervals
    grid = torch.arange(2 * n + 1, dtype=torch.float64) / (2 * n)
    ex0 = torch.arange(batch).repeat_interleave(2 * n + 1)
    idx = _evaluate(call, baselines, store, ex0, grid.repeat(batch), chunk_rows, show_progress, tracer)
    idx = idx.view(batch, 2 * n + 1)
    # intervals: example, left, right (alphas) and the store indices of left, middle, right
    iex = torch.arange(batch).repeat_interleave(n)
    left = (torch.arange(n, dtype=torch.float64) / n).repeat(batch)
    right = left + 1.0 / n
    ia, im, ic = idx[:, 0:-1:2].reshape(-1), idx[:, 1::2].reshape(-1), idx[:, 2::2].reshape(-1)
    scalars = torch.cat(store.scalars)
    span = (scalars[idx[:, -1]] - scalars[idx[:, 0]]).abs()
    used = torch.full((batch,), 2 * n + 1, dtype=torch.long)
    rounds = 1
    while True:
        h, f = torch.cat(store.h), torch.cat(store.scalars)
        length = right - left
        if estimate:     # 4 |Simpson - two-panel trapezoid|; rounding: of the integrand's values
            measured = (length / 3 * (h[ia] - 2 * h[im] + h[ic])).abs()
            floor = length * (h[ia].abs() + 4 * h[im].abs() + h[ic].abs()) / 6
        else:            # |Simpson - the exact integral F(c) - F(a)|; rounding: of the model's values
            measured = (length / 6 * (h[ia] + 4 * h[im] + h[ic]) - (f[ic] - f[ia])).abs()
            floor = f[ia].abs() + f[ic].abs()
        # below the rounding an interval cannot be improved
        err = torch.where(measured > 16 * store.eps * floor, measured, 0.0)
        reported = torch.zeros(batch, dtype=torch.float64).index_add_(0, iex, measured)
        total = torch.zeros(batch, dtype=torch.float64).index_add_(0, iex, err)
        goal = tolerance * span
        open_ex = (total > goal) & (used + 2 <= max_evaluations)
        if not bool(open_ex.any()):
            break
        # per open example: split the largest errors first, until the rest would meet half the goal
        order = torch.argsort(iex.to(torch.float64) * (1 + err.max()) * 4 - err, stable=True)
        order = order[open_ex[iex[order]]]
        e_sorted = iex[order]
        seg_start = torch.searchsorted(e_sorted, e_sorted, side="left")
        rank = torch.arange(order.numel()) - seg_start
        done_before = torch.cumsum(err[order], 0) - err[order]
        done_before = done_before - (torch.cumsum(err[order], 0) - err[order])[seg_start]
        remaining = total[e_sorted] - done_before
        budget = (max_evaluations - used[e_sorted]) // 2
        split = ((rank == 0) | (remaining > goal[e_sorted] / 2)) & (rank < budget)
        chosen = order[split]
        ex_new = iex[chosen]
        q1 = (left[chosen] * 3 + right[chosen]) / 4
        q3 = (left[chosen] + right[chosen] * 3) / 4
        sort_new = torch.argsort(ex_new, stable=True)
        chosen, ex_new, q1, q3 = chosen[sort_new], ex_new[sort_new], q1[sort_new], q3[sort_new]
        rows_ex = torch.cat([ex_new, ex_new])
        new_idx = _evaluate(call, baselines, store, rows_ex, torch.cat([q1, q3]), chunk_rows, show_progress,
                            tracer)
        k = chosen.numel()
        i1, i3 = new_idx[:k], new_idx[k:]
        used += torch.bincount(rows_ex, minlength=batch)
        rounds += 1
        mid = (left[chosen] + right[chosen]) / 2
        keep = torch.ones(iex.numel(), dtype=torch.bool)
        keep[chosen] = False
        iex = torch.cat([iex[keep], ex_new, ex_new])
        new_left = torch.cat([left[keep], left[chosen], mid])
        right = torch.cat([right[keep], mid, right[chosen]])
        ia, im, ic = (torch.cat([ia[keep], ia[chosen], im[chosen]]), torch.cat([im[keep], i1, i3]),
                      torch.cat([ic[keep], im[chosen], ic[chosen]]))
        left = new_left
    # Simpson weights per stored point, then one weighted sum over the stored gradients
    weights = torch.zeros(store.size, dtype=torch.float64)
    length = right - left
    weights.index_add_(0, ia, length / 6).index_add_(0, im, length * 4 / 6).index_add_(0, ic, length / 6)
    point_ex = torch.empty(store.size, dtype=torch.long)
    point_ex[ia], point_ex[im], point_ex[ic] = iex, iex, iex
    results = []
    for parts in store.grads:     # chunk by chunk: no concatenated copy of all the rows
        first, device = parts[0], parts[0].device
        total_grad = torch.zeros((batch, *first.shape[1:]), dtype=torch.float64, device=device)
        w_all, ex_all, start = weights.to(device), point_ex.to(device), 0
        for part in parts:     # each chunk summed in the rows' dtype, the chunk sums in float64
            stop = start + part.shape[0]
            w = w_all[start:stop].to(part.dtype).view(-1, *([1] * (part.dim() - 1)))
            chunk_sum = torch.zeros_like(total_grad, dtype=part.dtype).index_add_(0, ex_all[start:stop], part * w)
            total_grad += chunk_sum
            start = stop
        results.append(total_grad.to(first.dtype))
    bound = reported / span.clamp(min=torch.finfo(torch.float64).tiny)
    return tuple(results), PathReport(used, bound, rounds)
