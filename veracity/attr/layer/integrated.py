"""LayerIntegratedGradients, InternalInfluence and LayerConductance: all three are the one path
integration of :func:`~veracity.attr.gradient.integrated_gradients.integrate_path`, with the
layer's values replaced (layer IG) or tapped (the other two)."""

from __future__ import annotations

from typing import Any, Callable, cast

import torch
from torch import Tensor, nn

from veracity._core.adaptive import PathReport
from veracity._core.call import Call
from veracity._core.conductance import conductance_integral
from veracity._core.engine import layer_values, outputs_at
from veracity._core.validate import check_choice, check_positive_int
from veracity.attr._base import GradientAttribution, convergence_delta
from veracity.attr.gradient.integrated_gradients import (
    ALL_PATH_METHODS,
    PATH_METHODS,
    check_path_settings,
    integrate_path,
    integrate_path_by,
)
from veracity.attr.layer.adapter import (
    LayerAttribution,
    at_layers,
    check_grad_kwargs,
    counts_of,
    flat,
    replaced,
    tapped,
    unflat,
    zero_taps,
)

Values = tuple[Tensor, ...]


def _path_call(method: LayerAttribution, call: Call, baselines: Any, n_steps: int, path_method: str,
               to_input: bool, methods: tuple[str, ...] = PATH_METHODS) -> tuple[Call, Values]:
    """The call with the layer hooked, and the baselines; the path's settings checked."""
    check_choice("method", path_method, methods)
    check_positive_int("n_steps", n_steps)
    call = at_layers(method, call, to_input)
    return call, call.baselines(baselines)


def _input_path_taps(call: Call) -> tuple[list[int], Values]:
    """The layer's site counts and zero taps for a path in *input* space tapped at the layer."""
    values = [per_point[0] for per_point in layer_values(call, [call.inputs])]
    return counts_of(values), zero_taps(values)


def _with_delta(call: Call, base: Values, per_site: list[Values], return_convergence_delta: bool) -> Any:
    result = call.finish_layers(per_site)
    if not return_convergence_delta:
        return result
    values = outputs_at(call, [call.inputs, base])
    return result, convergence_delta(flat(per_site), values[0] - values[1])


def _with_report(result: Any, report: PathReport, return_convergence_delta: bool, return_report: bool) -> Any:
    if not return_report:
        return result
    return (*result, report) if return_convergence_delta else (result, report)


class LayerIntegratedGradients(LayerAttribution, GradientAttribution):
    """Integrated Gradients in the layer's space: from the layer's values at the baselines to
    its values at the inputs, with the model's layer output replaced along the path.

    Sundararajan et al. 2017, at a hidden layer as in Captum. The standard route for token
    models: attribute to the embedding layer and pass token ids as ``inputs`` (and reference
    ids as ``baselines``). ``layer`` may be a list (all are interpolated together). The
    convergence delta compares with ``F(inputs) - F(baselines)``.

    Example:
        >>> import torch
        >>> from veracity.attr import LayerIntegratedGradients
        >>> model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Flatten(),
        ...                             torch.nn.Linear(12, 2)).eval()
        >>> ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
        >>> attr, delta = LayerIntegratedGradients(model, model[0]).attribute(
        ...     ids, baselines=torch.zeros_like(ids), target=0, return_convergence_delta=True)
        >>> attr.shape, bool(delta.abs().max() < 1e-4)
        (torch.Size([2, 3, 4]), True)

    ``method="adaptive"`` (with ``tolerance``, ``max_evaluations``) and ``method="exact"`` (a
    piecewise-linear network after the layer) work as in
    :class:`~veracity.attr.IntegratedGradients`, on the path in the layer's space;
    ``return_report=True`` appends the :class:`~veracity._core.adaptive.PathReport`.
    """

    accepts_layer_list = True

    def __init__(self, forward_func: Callable[..., Any], layer: nn.Module | list[nn.Module],
                 device_ids: list[int] | None = None, multiply_by_inputs: bool = True) -> None:
        super().__init__(forward_func, layer, device_ids)
        self._multiply_by_inputs = multiply_by_inputs

    def attribute(self, inputs: Any, baselines: Any = None, target: Any = None, additional_forward_args: Any = None,
                  n_steps: int = 50, method: str = "gausslegendre", internal_batch_size: int | None = None,
                  return_convergence_delta: bool = False, attribute_to_layer_input: bool = False,
                  grad_kwargs: Any = None, *, show_progress: bool = False, tolerance: float = 1e-3,
                  max_evaluations: int | None = None, return_report: bool = False) -> Any:
        options = check_grad_kwargs(grad_kwargs)
        call = Call.of(self.forward_func, inputs, target, additional_forward_args).replace(grad_kwargs=options)
        return self.attribute_call(call, baselines,
                                   n_steps, method, internal_batch_size, return_convergence_delta,
                                   attribute_to_layer_input, show_progress=show_progress, tolerance=tolerance,
                                   max_evaluations=max_evaluations, return_report=return_report)

    def attribute_call(self, call: Call, baselines: Any = None, n_steps: int = 50, method: str = "gausslegendre",
                       internal_batch_size: int | None = None, return_convergence_delta: bool = False,
                       attribute_to_layer_input: bool = False, *, show_progress: bool = False,
                       tolerance: float = 1e-3, max_evaluations: int | None = None,
                       return_report: bool = False) -> Any:
        check_path_settings(method, n_steps, tolerance, max_evaluations)
        call, base = _path_call(self, call, baselines, n_steps, method, attribute_to_layer_input, ALL_PATH_METHODS)
        at_inputs, at_baselines = zip(*layer_values(call, [call.inputs, base]))
        counts = counts_of(at_inputs)
        start, end = flat(at_baselines), flat(at_inputs)
        integrated, report = integrate_path_by(replaced(call, counts, end), start, n_steps, method,
                                               internal_batch_size, show_progress, tolerance=tolerance,
                                               max_evaluations=max_evaluations)
        if self._multiply_by_inputs:
            integrated = tuple(g * (x - b) for g, x, b in zip(integrated, end, start))
        result = _with_delta(call, base, unflat(integrated, counts), return_convergence_delta)
        return _with_report(result, report, return_convergence_delta, return_report)

    def has_convergence_delta(self) -> bool:
        return True


class InternalInfluence(LayerAttribution, GradientAttribution):
    """Gradients at the layer integrated along the straight path in *input* space, not multiplied.

    Leino et al., "Influence-Directed Explanations for Deep Convolutional Networks" (2018),
    as in Captum. The input-space path of Integrated Gradients, tapped at the layer.

    Example:
        >>> from veracity.attr import InternalInfluence
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp()
        >>> InternalInfluence(model, model[1]).attribute(x, target=0).shape
        torch.Size([3, 8])
    """

    def attribute(self, inputs: Any, baselines: Any = None, target: Any = None, additional_forward_args: Any = None,
                  n_steps: int = 50, method: str = "gausslegendre", internal_batch_size: int | None = None,
                  attribute_to_layer_input: bool = False, grad_kwargs: Any = None, *,
                  show_progress: bool = False) -> Any:
        options = check_grad_kwargs(grad_kwargs)
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True).replace(
            grad_kwargs=options)
        return self.attribute_call(call, baselines, n_steps, method, internal_batch_size, attribute_to_layer_input,
                                   show_progress=show_progress)

    def attribute_call(self, call: Call, baselines: Any = None, n_steps: int = 50, method: str = "gausslegendre",
                       internal_batch_size: int | None = None, attribute_to_layer_input: bool = False, *,
                       show_progress: bool = False) -> Any:
        call, base = _path_call(self, call, baselines, n_steps, method, attribute_to_layer_input)
        counts, taps = _input_path_taps(call)
        integrated = integrate_path(tapped(call, counts, taps), (*base, *taps), n_steps, method,
                                    internal_batch_size, show_progress)
        return call.finish_layers(unflat(integrated[len(call.inputs):], counts))


class LayerConductance(LayerAttribution, GradientAttribution):
    """Conductance: how the Integrated Gradients flow through each neuron of the layer.

    Dhamdhere, Sundararajan, Yan, "How Important Is a Neuron?" (ICLR 2019). Along the input
    path at ``n_steps + 1`` points ``a_0 < ... < a_n`` (from ``method``, as in Captum), the sum
    over steps of the layer gradient at ``a_k`` times the change of the layer's value from
    ``a_k`` to ``a_{k+1}``. Summed over the layer's neurons it approximates
    ``F(x) - F(x')`` (exactly in the limit; ``riemann_trapezoid`` includes both end points).

    Example:
        >>> from veracity.attr import LayerConductance
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp()
        >>> attr, delta = LayerConductance(model, model[1]).attribute(
        ...     x, target=0, n_steps=200, method="riemann_trapezoid",
        ...     return_convergence_delta=True)
        >>> attr.shape, bool(delta.abs().max() < 1e-3)
        (torch.Size([3, 8]), True)
        >>> relu = toy_mlp(activation="relu")[0].double()
        >>> attr, delta, report = LayerConductance(relu, relu[1]).attribute(
        ...     x.double(), target=0, method="exact", return_convergence_delta=True, return_report=True)
        >>> bool(delta.abs().max() < 1e-10), report.evaluations.shape
        (True, torch.Size([3]))

    ``method="exact"`` (a piecewise-linear network, as for
    :class:`~veracity.attr.IntegratedGradients`) integrates exactly: one evaluation per linear
    piece of the path, where the layer's gradient and its change along the path are both
    constant. ``method="adaptive"`` (any differentiable model; ``tolerance``,
    ``max_evaluations``) refines the path until the conductances' completeness error relative
    to ``|F(x) - F(x')|`` is below ``tolerance``. Both read the layer's change along the path
    as a forward-mode derivative; ``return_report=True`` appends the
    :class:`~veracity._core.adaptive.PathReport`.
    """

    _multiply_by_inputs = True  # Captum's value: conductance includes the change of the layer's values

    def attribute(self, inputs: Any, baselines: Any = None, target: Any = None, additional_forward_args: Any = None,
                  n_steps: int = 50, method: str = "gausslegendre", internal_batch_size: int | None = None,
                  return_convergence_delta: bool = False, attribute_to_layer_input: bool = False,
                  grad_kwargs: Any = None, *, show_progress: bool = False, tolerance: float = 1e-3,
                  max_evaluations: int | None = None, return_report: bool = False) -> Any:
        options = check_grad_kwargs(grad_kwargs)
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True).replace(
            grad_kwargs=options)
        return self.attribute_call(call, baselines, n_steps, method, internal_batch_size, return_convergence_delta,
                                   attribute_to_layer_input, show_progress=show_progress, tolerance=tolerance,
                                   max_evaluations=max_evaluations, return_report=return_report)

    def attribute_call(self, call: Call, baselines: Any = None, n_steps: int = 50, method: str = "gausslegendre",
                       internal_batch_size: int | None = None, return_convergence_delta: bool = False,
                       attribute_to_layer_input: bool = False, *, show_progress: bool = False,
                       tolerance: float = 1e-3, max_evaluations: int | None = None,
                       return_report: bool = False) -> Any:
        check_path_settings(method, n_steps, tolerance, max_evaluations)
        call, base = _path_call(self, call, baselines, n_steps, method, attribute_to_layer_input, ALL_PATH_METHODS)
        counts, taps = _input_path_taps(call)
        if method in ("adaptive", "exact"):
            integrated, report = conductance_integral(call, base, taps, method, tolerance=tolerance,
                                                      max_evaluations=max_evaluations,
                                                      chunk_rows=internal_batch_size, show_progress=show_progress)
            result = _with_delta(call, base, unflat(integrated, counts), return_convergence_delta)
            return _with_report(result, report, return_convergence_delta, return_report)
        site = call.sites[0]
        n_in, batch = len(call.inputs), call.batch
        totals = [torch.zeros_like(t) for t in taps]
        previous: list[tuple[Tensor, Tensor] | None] = [None] * len(taps)
        site.record = []

        def on_chunk(start: int, stop: int, grads: tuple[Tensor, ...], scalars: Tensor) -> None:
            recorded = site.record.pop()
            for i, (grad, value) in enumerate(zip(grads[n_in:], recorded)):
                g = grad.reshape(stop - start, batch, *grad.shape[1:])
                v = value.reshape(stop - start, batch, *value.shape[1:])
                if previous[i] is not None:
                    before = cast(tuple[Tensor, Tensor], previous[i])  # not None: checked just above
                    g, v = torch.cat([before[0], g]), torch.cat([before[1], v])
                totals[i] += (g[:-1] * (v[1:] - v[:-1])).sum(0)
                previous[i] = (g[-1:], v[-1:])

        integrate_path(tapped(call, counts, taps, keep=True), (*base, *taps), n_steps + 1, method,
                       internal_batch_size, show_progress, on_chunk=on_chunk)
        result = _with_delta(call, base, unflat(totals, counts), return_convergence_delta)
        report = PathReport(torch.full((call.batch,), n_steps + 1, dtype=torch.long),
                            torch.full((call.batch,), float("nan"), dtype=torch.float64), 1)
        return _with_report(result, report, return_convergence_delta, return_report)

    def has_convergence_delta(self) -> bool:
        return True
