"""Layer conductance integrated exactly or adaptively: the layer's gradient times the layer's
own change along the path.

Conductance of a layer unit ``j`` (Dhamdhere et al., ICLR 2019) is
``integral_0^1 dF/dy_j(x(t)) * dy_j(x(t))/dt dt`` on the straight input path ``x(t)``. Its
rows are evaluated like Integrated Gradients' (:func:`~veracity._core.path_rows.row_gradients`)
on the model with a zero *tap* added to the layer's values (the gradient at the tap is the
gradient at the layer) and with the path direction as a forward-mode tangent on the inputs: the
hook reads the layer's tangent ``dy/dt`` at every path point. The row to integrate is
``g * dy/dt``; its sum over the layer's units is ``dF/dt`` (for a layer every path from the
inputs to the output crosses), so the adaptive rule's exact per-interval check
``F(c) - F(a)`` applies to it unchanged, and on a piecewise-linear network both factors are
constant on each linear piece, so the exact rule applies too. With ``method="adaptive"`` the
tangent stops at the layer (the rest of the model runs as usual); with ``"exact"`` it runs on
through the model so that the breakpoint tracer sees every kink after the layer as well.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.autograd.forward_ad as fwad
from torch import Tensor

from veracity._core import config
from veracity._core.adaptive import PathReport, adaptive_path_integral
from veracity._core.call import Call
from veracity._core.layers import run_hooked
from veracity._core.path_rows import RowResult, Tracer
from veracity._core.piecewise import exact_path_integral

Values = tuple[Tensor, ...]


def _tangent_tapping(call: Call, count: int, keep_tangent: bool, record: list[Values]) -> Callable[..., Any]:
    """``f(*inputs, *taps, *args)``: the layer's values ``y`` become ``y + (tap - tap.detach())``
    (same values; the tap carries the gradient); their forward-mode tangents go to ``record``."""
    site = call.sites[0]
    n_inputs = len(call.inputs)

    def run(*flat: Any) -> Any:
        inputs, taps, rest = flat[:n_inputs], flat[n_inputs:n_inputs + count], flat[n_inputs + count:]

        def change(values: Values) -> Values:
            primals, tangents = [], []
            for v in values:
                primal, tangent = fwad.unpack_dual(v)
                primals.append(primal.detach())
                tangents.append(torch.zeros_like(primals[-1]) if tangent is None else tangent.detach())
            record.append(tuple(tangents))
            if keep_tangent:
                primals = [fwad.make_dual(p, t) for p, t in zip(primals, tangents)]
            return tuple(p + (t - t.detach()) for p, t in zip(primals, taps))

        return run_hooked(call.forward_func, [site], [change], (*inputs, *rest), grad_from_layer=True)

    return run


def conductance_integral(call: Call, baselines: Values, taps: Values, method: str, *, tolerance: float = 1e-3,
                         max_evaluations: int | None = None, chunk_rows: int | None = None,
                         show_progress: bool = False) -> tuple[Values, PathReport]:
    """Conductance of every unit of the call's (single) hooked layer, per example, shaped like
    the layer's values ``taps``, by ``method`` ``"exact"`` or ``"adaptive"``; and the report.

    Example:
        >>> import torch
        >>> from veracity._core.call import Call
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)).double()
        >>> call = Call.of(model, torch.ones(1, 2, dtype=torch.float64), target=0).at_layers(model[1], False, False)
        >>> base = (torch.zeros(1, 2, dtype=torch.float64),)
        >>> (cond,), report = conductance_integral(call, base, (torch.zeros(1, 3, dtype=torch.float64),), "exact")
        >>> delta = model(call.inputs[0]) - model(base[0])
        >>> bool((cond.sum() - delta).abs() < 1e-12)
        True
    """
    exact = method == "exact"
    count = len(taps)
    if chunk_rows is None:
        # the memory ceiling is on the model's inputs, as for Integrated Gradients' rows: the
        # zero taps are the layer's gradient holders, not inputs (counting them cut the chunks
        # to a ninth at a conv layer of the digits CNN, and cost 1.3x in time)
        input_bytes = sum(t[:1].numel() * t.element_size() for t in call.inputs)
        chunk_rows = max(1, config.chunk_budget_bytes(call.inputs[0].device) // max(input_bytes, 1))
    record: list[Values] = []
    n_inputs = len(call.inputs)
    hooked = call.with_forward(_tangent_tapping(call, count, exact, record), (*call.inputs, *taps))
    hooked = hooked.replace(was_tuple=True)

    def integrand(chunk: RowResult, ex: Tensor) -> tuple[Values, Tensor]:
        tangents = record.pop()
        rows = tuple(g * t for g, t in zip(chunk.grads[n_inputs:], tangents))
        h = sum(r.reshape(r.shape[0], -1).sum(1).to(torch.float64) for r in rows)
        return rows, torch.as_tensor(h)

    start = (*baselines, *taps)
    if exact:
        integrated, used, left, rounds = exact_path_integral(
            hooked, start, max_evaluations=max_evaluations, chunk_rows=chunk_rows, show_progress=show_progress,
            integrand=integrand)
        return integrated, PathReport(used, left, rounds)
    return adaptive_path_integral(hooked, start, tolerance, integrand=integrand, tracer=Tracer(),
                                  max_evaluations=4096 if max_evaluations is None else max_evaluations,
                                  chunk_rows=chunk_rows, show_progress=show_progress)
