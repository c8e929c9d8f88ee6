"""Integrated Gradients (Sundararajan, Taly, Yan 2017) and the path integration every IG-like
method reuses (layer IG, conductance, Split IG)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from veracity._core.adaptive import PathReport, adaptive_path_integral
from veracity._core.call import Call
from veracity._core.engine import Points, gradient_points, outputs_at
from veracity._core.piecewise import exact_path_integral
from veracity._core.validate import check_choice, check_positive_int, fail
from veracity.attr._base import GradientAttribution, convergence_delta
from veracity.attr.gradient._common import accumulate_weighted

TensorOrTuple = Tensor | tuple[Tensor, ...]
PATH_METHODS = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")
ALL_PATH_METHODS = PATH_METHODS + ("adaptive", "exact")


@lru_cache(maxsize=64)
def _path_rule(method: str, n_steps: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    weights: np.ndarray | list[float]
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
        return tuple((nodes + 1) / 2), tuple(weights / 2)
    if method == "riemann_trapezoid":
        if n_steps < 2:
            fail("n_steps", "at least 2 for method='riemann_trapezoid'", str(n_steps))
        step = 1.0 / (n_steps - 1)
        weights = [step] * n_steps
        weights[0] = weights[-1] = step / 2
        return tuple(i * step for i in range(n_steps)), tuple(weights)
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    return tuple((i + offset) / n_steps for i in range(n_steps)), (1.0 / n_steps,) * n_steps


def path_rule(method: str, n_steps: int) -> tuple[list[float], list[float]]:
    """Points ``alpha`` in [0, 1] and quadrature weights that integrate over the path.

    Example:
        >>> alphas, weights = path_rule("riemann_right", 4)
        >>> alphas, sum(weights)
        ([0.25, 0.5, 0.75, 1.0], 1.0)
    """
    check_choice("method", method, PATH_METHODS)
    check_positive_int("n_steps", n_steps)
    alphas, weights = _path_rule(method, n_steps)
    return list(alphas), list(weights)


def integrate_path(call: Call, baselines: tuple[Tensor, ...], n_steps: int, method: str,
                   internal_batch_size: int | None = None, show_progress: bool = False,
                   on_chunk: Callable[[int, int, tuple[Tensor, ...], Tensor], None] | None = None
                   ) -> tuple[Tensor, ...]:
    """The path integral of gradients from ``baselines`` to ``call.inputs``, not yet multiplied.

    Points along the straight path are built one chunk at a time, so at most one chunk of
    ``n_steps x batch`` expanded inputs exists at once. ``on_chunk`` sees each chunk's
    gradients and explained scalars too (Split IG uses it).
    """
    alphas, weights = path_rule(method, n_steps)
    inputs = call.inputs
    dtype = inputs[0].dtype
    alpha_t = torch.tensor(alphas, dtype=dtype, device=inputs[0].device)
    weight_t = torch.tensor(weights, dtype=torch.float64 if dtype == torch.float64 else torch.float32,
                            device=inputs[0].device)
    diffs = tuple(x - b for x, b in zip(inputs, baselines))

    def build(start: int, stop: int) -> tuple[Tensor, ...]:
        a = alpha_t[start:stop]
        return tuple(
            torch.addcmul(b.unsqueeze(0), a.view(-1, *([1] * x.dim())), d.unsqueeze(0)).reshape(-1, *x.shape[1:])
            for x, b, d in zip(inputs, baselines, diffs)
        )

    totals = [torch.zeros(x.shape, dtype=weight_t.dtype, device=x.device) for x in inputs]

    def consume(start: int, stop: int, grads: tuple[Tensor, ...], scalars: Tensor) -> None:
        accumulate_weighted(totals, weight_t[start:stop], grads)
        if on_chunk is not None:
            on_chunk(start, stop, grads, scalars)

    points = Points.of(n_steps, inputs, build)
    gradient_points(call, points, consume, chunk_rows=internal_batch_size, show_progress=show_progress,
                    desc="IntegratedGradients")
    return tuple(t.to(x.dtype) for t, x in zip(totals, inputs))


def check_path_settings(method: str, n_steps: int, tolerance: float, max_evaluations: int | None) -> None:
    """Check ``method`` (a quadrature rule, ``adaptive`` or ``exact``) and its settings."""
    check_choice("method", method, ALL_PATH_METHODS)
    check_positive_int("n_steps", n_steps)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 < tolerance < 1:
        fail("tolerance", "a relative completeness error in (0, 1)", tolerance)
    if max_evaluations is not None:
        check_positive_int("max_evaluations", max_evaluations, 5 if method == "adaptive" else 1)


def integrate_path_by(call: Call, baselines: tuple[Tensor, ...], n_steps: int, method: str,
                      internal_batch_size: int | None = None, show_progress: bool = False, *,
                      tolerance: float = 1e-3, max_evaluations: int | None = None, estimate: bool = False
                      ) -> tuple[tuple[Tensor, ...], PathReport]:
    """:func:`integrate_path` for a quadrature ``method``; adaptive refinement to a relative
    completeness ``tolerance`` for ``adaptive``; the exact piecewise-linear integral for
    ``exact``. Also returns what it used (:class:`~veracity._core.adaptive.PathReport`).
    ``estimate``: the integrand is not ``dF/dt`` (neuron conductance), so the adaptive rule
    estimates its errors (see :mod:`veracity._core.adaptive`)."""
    if method == "adaptive":
        return adaptive_path_integral(call, baselines, tolerance, chunk_rows=internal_batch_size,
                                      max_evaluations=4096 if max_evaluations is None else max_evaluations,
                                      show_progress=show_progress, estimate=estimate)
    if method == "exact":
        integrated, used, left, rounds = exact_path_integral(call, baselines, max_evaluations=max_evaluations,
                                                             chunk_rows=internal_batch_size,
                                                             show_progress=show_progress)
        return integrated, PathReport(used, left, rounds)
    integrated = integrate_path(call, baselines, n_steps, method, internal_batch_size, show_progress)
    return integrated, PathReport(torch.full((call.batch,), n_steps, dtype=torch.long),
                                  torch.full((call.batch,), float("nan"), dtype=torch.float64), 1)


class IntegratedGradients(GradientAttribution):
    """Integrated Gradients: ``(x - x') * integral_0^1 dF(x' + a (x - x'))/dx da``.

    Sundararajan, Taly, Yan, "Axiomatic Attribution for Deep Networks" (ICML 2017). The
    integral is a quadrature over ``n_steps`` points (``method``: ``gausslegendre`` default,
    ``riemann_left/right/middle/trapezoid``). Points are evaluated in chunks that fit the
    memory budget, or ``internal_batch_size`` rows per model call when given. The sum of
    the attributions approximates ``F(x) - F(x')`` (completeness); the per-example error is
    returned with ``return_convergence_delta=True``.

    Two more ``method`` values need no step count (``n_steps`` is ignored):

    * ``"exact"``: for piecewise-linear networks (linear, convolution, ReLU/LeakyReLU, max and
      average pooling, eval BatchNorm, additions) the exact integral, one gradient per linear
      piece of the path; any other operation is refused by name. Completeness holds to
      rounding.
    * ``"adaptive"``: any differentiable model; refines the path where the integrand jumps or
      curves until the estimated completeness error (relative to ``|F(x) - F(x')|``) is below
      ``tolerance``, or ``max_evaluations`` points per example are spent (default 4096).

    ``return_report=True`` appends a :class:`~veracity._core.adaptive.PathReport`:
    evaluations per example and the error bound (see ``docs/accuracy.md``).

    Example:
        >>> import torch
        >>> from veracity.attr import IntegratedGradients
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
        ...                             torch.nn.Linear(8, 3)).eval()
        >>> x = torch.randn(2, 4)
        >>> attr, delta = IntegratedGradients(model).attribute(
        ...     x, target=0, n_steps=64, return_convergence_delta=True)
        >>> bool(delta.abs().max() < 1e-3)
        True
        >>> relu = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
        ...                            torch.nn.Linear(8, 3)).double().eval()
        >>> attr, delta = IntegratedGradients(relu).attribute(
        ...     x.double(), target=0, method="exact", return_convergence_delta=True)
        >>> bool(delta.abs().max() < 1e-10)
        True
        >>> attr, report = IntegratedGradients(model).attribute(
        ...     x, target=0, method="adaptive", tolerance=1e-4, return_report=True)
        >>> bool((report.error_bound <= 1e-4).all()), report.evaluations.shape
        (True, torch.Size([2]))
    """

    def __init__(self, forward_func: Callable[..., Any], multiply_by_inputs: bool = True) -> None:
        super().__init__(forward_func)
        self._multiply_by_inputs = multiply_by_inputs

    def attribute(self, inputs: TensorOrTuple, baselines: Any = None, target: Any = None,
                  additional_forward_args: Any = None, n_steps: int = 50, method: str = "gausslegendre",
                  internal_batch_size: int | None = None, return_convergence_delta: bool = False, *,
                  show_progress: bool = False, tolerance: float = 1e-3, max_evaluations: int | None = None,
                  return_report: bool = False) -> Any:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.attribute_call(call, baselines, n_steps, method, internal_batch_size, return_convergence_delta,
                                   show_progress=show_progress, tolerance=tolerance,
                                   max_evaluations=max_evaluations, return_report=return_report)

    def attribute_call(self, call: Call, baselines: Any = None, n_steps: int = 50, method: str = "gausslegendre",
                       internal_batch_size: int | None = None, return_convergence_delta: bool = False, *,
                       show_progress: bool = False, tolerance: float = 1e-3, max_evaluations: int | None = None,
                       return_report: bool = False) -> Any:
        check_path_settings(method, n_steps, tolerance, max_evaluations)
        base = call.baselines(baselines)
        integrated, report = integrate_path_by(call, base, n_steps, method, internal_batch_size, show_progress,
                                               tolerance=tolerance, max_evaluations=max_evaluations)
        if self._multiply_by_inputs:
            attributions = tuple(g * (x - b) for g, x, b in zip(integrated, call.inputs, base))
        else:
            attributions = integrated
        result = call.finish(attributions)
        extra: tuple[Any, ...] = ()
        if return_convergence_delta:
            values = outputs_at(call, [call.inputs, base])
            extra += (convergence_delta(attributions, values[0] - values[1]),)
        if return_report:
            extra += (report,)
        return (result, *extra) if extra else result

    def has_convergence_delta(self) -> bool:
        return True
