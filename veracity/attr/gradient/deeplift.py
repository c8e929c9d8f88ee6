"""DeepLift (Rescale rule) and DeepLiftShap."""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.activation_rules import rescale_rule
from veracity._core.call import Call
from veracity._core.engine import Points, gradient_points
from veracity._core.hooks import BackwardRules
from veracity._core.validate import fail
from veracity.attr._base import GradientAttribution

TensorOrTuple = Tensor | tuple[Tensor, ...]
RESCALED = frozenset({"elementwise", "max_pool", "softmax"})


def apply_custom(func: Callable[..., Any], multipliers: tuple[Tensor, ...], inputs: tuple[Tensor, ...],
                  baselines: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """Captum's ``custom_attribution_func`` takes (multipliers), (multipliers, inputs) or all three."""
    count = len(inspect.signature(func).parameters)
    result = func(*(multipliers, inputs, baselines)[:count])
    result = result if isinstance(result, tuple) else (result,)
    if len(result) != len(inputs):
        fail("custom_attribution_func", f"a function returning {len(inputs)} tensors", result)
    return result


def rescale_attributions(call: Call, reference: Callable[[int], tuple[Tensor, ...]], n_references: int, eps: float,
                         attribution: Callable[[int, tuple[Tensor, ...]], tuple[Tensor, ...]],
                         chunk_rows: int | None = None,
                         show_progress: bool = False) -> tuple[tuple[Tensor, ...], Tensor]:
    """DeepLift attributions averaged over ``n_references`` references per example.

    ``reference(j)`` gives the j-th reference for every example (shaped like ``call.inputs``).
    The model runs on inputs and references stacked, under the Rescale rule;
    ``attribution(j, multipliers)`` turns the multipliers against reference ``j`` into
    attributions (see :func:`input_attribution`). Returns the mean attribution and the
    completeness error per (reference, example).
    """
    inputs, batch = call.inputs, call.batch

    def build(start: int, stop: int) -> tuple[Tensor, ...]:
        refs = [reference(j) for j in range(start, stop)]
        return tuple(
            torch.cat([x.repeat(stop - start, *([1] * (x.dim() - 1))), *(r[i] for r in refs)])
            for i, x in enumerate(inputs)
        )

    totals = [torch.zeros_like(x) for x in inputs]
    deltas = torch.zeros(n_references, batch, dtype=inputs[0].dtype, device=inputs[0].device)

    def consume(start: int, stop: int, grads: tuple[Tensor, ...], scalars: Tensor) -> None:
        for offset, j in enumerate(range(start, stop)):
            rows = slice(offset * batch, (offset + 1) * batch)
            attributions = attribution(j, tuple(g[rows] for g in grads))
            for total, a in zip(totals, attributions):
                total += a
            explained = sum(a.reshape(batch, -1).sum(1) for a in attributions)
            deltas[j] = explained - (scalars[offset, :batch] - scalars[offset, batch:])

    points = Points.of(n_references, inputs, build, copies=2)
    with BackwardRules(rescale_rule(eps), RESCALED):
        gradient_points(call, points, consume, chunk_rows=chunk_rows, show_progress=show_progress, desc="DeepLift")
    return tuple(t / n_references for t in totals), deltas


def input_attribution(inputs: tuple[Tensor, ...], reference: Callable[[int], tuple[Tensor, ...]],
                      multiply_by_inputs: bool, custom_attribution_func: Callable[..., Any] | None
                      ) -> Callable[[int, tuple[Tensor, ...]], tuple[Tensor, ...]]:
    """Attributions from multipliers at the inputs: Captum's custom function, ``m * (x - r)`` or ``m``."""

    def attribution(j: int, multipliers: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        if custom_attribution_func is not None:
            return apply_custom(custom_attribution_func, multipliers, inputs, reference(j))
        if multiply_by_inputs:
            return tuple(m * (x - r) for m, x, r in zip(multipliers, inputs, reference(j)))
        return multipliers

    return attribution


def warn_if_incomplete(deltas: Tensor, enabled: bool) -> None:
    worst = float(deltas.abs().max()) if deltas.numel() else 0.0
    if enabled and worst > 1e-3:
        warnings.warn(
            f"DeepLift: attributions miss completeness by up to {worst:.3g} (sum of attributions vs "
            "F(x) - F(baseline)). The model likely uses operations the Rescale rule does not cover "
            "(products of activations, normalisation by activations, softmax inside the network); "
            "treat the attributions as approximate.",
            UserWarning,
            stacklevel=3,
        )


class DeepLift(GradientAttribution):
    """DeepLIFT with the Rescale rule: backpropagate ratios of differences to a reference.

    Shrikumar, Greenside, Kundaje, "Learning Important Features Through Propagating
    Activation Differences" (ICML 2017). Every activation call (ReLU, ELU, LeakyReLU,
    Sigmoid, Tanh, Softplus, GELU, SiLU and other elementwise functions, max pooling 1/2/3-d,
    softmax) passes gradient times ``(f(x) - f(x')) / (x - x')`` backward; linear layers
    pass gradients as they are. Activations are intercepted as function calls, so
    ``F.relu``, ``inplace=True`` modules and a module used twice in one forward all work.
    The sum of attributions equals ``F(x) - F(x')`` for networks of linear layers and those
    activations; when it does not (within 1e-3), a warning says so.

    Example:
        >>> import torch
        >>> from veracity.attr import DeepLift
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(inplace=True),
        ...                             torch.nn.Linear(8, 2)).eval()
        >>> x = torch.randn(3, 4)
        >>> attr, delta = DeepLift(model).attribute(x, target=1, return_convergence_delta=True)
        >>> bool(delta.abs().max() < 1e-5)
        True
    """

    _eager_only = True

    def __init__(self, model: Callable[..., Any], multiply_by_inputs: bool = True, eps: float = 1e-10) -> None:
        super().__init__(model)
        self._multiply_by_inputs = multiply_by_inputs
        self.eps = eps

    def attribute(self, inputs: TensorOrTuple, baselines: Any = None, target: Any = None,
                  additional_forward_args: Any = None, return_convergence_delta: bool = False,
                  custom_attribution_func: Callable[..., Any] | None = None
                  ) -> TensorOrTuple | tuple[TensorOrTuple, Tensor]:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.attribute_call(call, baselines, return_convergence_delta, custom_attribution_func)

    def attribute_call(self, call: Call, baselines: Any = None, return_convergence_delta: bool = False,
                       custom_attribution_func: Callable[..., Any] | None = None
                       ) -> TensorOrTuple | tuple[TensorOrTuple, Tensor]:
        base = call.baselines(baselines)

        def reference(j: int) -> tuple[Tensor, ...]:
            return base

        attributions, deltas = rescale_attributions(
            call, reference, 1, self.eps,
            input_attribution(call.inputs, reference, self._multiply_by_inputs, custom_attribution_func))
        warn_if_incomplete(deltas, self._multiply_by_inputs and custom_attribution_func is None)
        result = call.finish(attributions)
        return (result, deltas[0]) if return_convergence_delta else result

    def has_convergence_delta(self) -> bool:
        return True


class DeepLiftShap(DeepLift):
    """DeepLift averaged over a distribution of baselines (approximate SHAP values).

    Lundberg & Lee (NeurIPS 2017). Every example is explained against every baseline row;
    the pairs are evaluated in chunks (``internal_batch_size`` rows per model call, or the
    memory budget), not all at once. The convergence delta has one entry per (example,
    baseline), example-major, as in Captum.

    Example:
        >>> import torch
        >>> from veracity.attr import DeepLiftShap
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> x, background = x, torch.randn(5, 4)
        >>> DeepLiftShap(model).attribute(x, background, target=0).shape
        torch.Size([3, 4])
    """

    # Captum's DeepLiftShap requires ``baselines`` (a distribution), where DeepLift defaults them.
    def attribute(self, inputs: TensorOrTuple, baselines: Any,  # type: ignore[override]
                  target: Any = None, additional_forward_args: Any = None,
                  return_convergence_delta: bool = False, custom_attribution_func: Callable[..., Any] | None = None, *,
                  internal_batch_size: int | None = None,
                  show_progress: bool = False) -> TensorOrTuple | tuple[TensorOrTuple, Tensor]:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.attribute_call(call, baselines, return_convergence_delta, custom_attribution_func,
                                   internal_batch_size=internal_batch_size, show_progress=show_progress)

    def attribute_call(self, call: Call, baselines: Any = None,
                       return_convergence_delta: bool = False,
                       custom_attribution_func: Callable[..., Any] | None = None, *,
                       internal_batch_size: int | None = None, show_progress: bool = False
                       ) -> TensorOrTuple | tuple[TensorOrTuple, Tensor]:
        distribution = call.baseline_distribution(baselines)

        def reference(j: int) -> tuple[Tensor, ...]:
            return tuple(d[j:j + 1].expand_as(x) for d, x in zip(distribution, call.inputs))

        attributions, deltas = rescale_attributions(
            call, reference, distribution[0].shape[0], self.eps,
            input_attribution(call.inputs, reference, self._multiply_by_inputs, custom_attribution_func),
            internal_batch_size, show_progress)
        warn_if_incomplete(deltas, self._multiply_by_inputs and custom_attribution_func is None)
        result = call.finish(attributions)
        return (result, deltas.t().reshape(-1)) if return_convergence_delta else result
