"""Geometrically Guided Integrated Gradients (Rahman, Lewis, Plis 2022), a reconstruction."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.validate import check_choice, check_positive_int
from veracity.attr._base import GradientAttribution
from veracity.attr.gradient.integrated_gradients import PATH_METHODS, integrate_path

TensorOrTuple = Tensor | tuple[Tensor, ...]


class GeometricallyGuidedIntegratedGradients(GradientAttribution):
    """GGIG-like attributions: per feature, the best gradient along IG's straight path.

    Rahman, Lewis, Plis, "Geometrically Guided Integrated Gradients" (arXiv 2206.05903)
    explore "multiple scaled versions of the input" ``x' + a (x - x')`` and keep "the best
    possible attribution for each input" feature. The paper's exact update rule could not be
    checked (no public code); this is the reconstruction recorded in the project's method
    notes: ``A_i = (x_i - x'_i) * g_i(a*_i)`` with ``a*_i = argmax_a g_i(a) (x_i - x'_i)``
    over the path points (``n_steps`` points of ``method``, right Riemann points by default),
    ``g = dF/dx``. On a linear model every point has the same gradient, so GGIG equals IG
    (``W * (x - x')``); a feature the model ignores gets exactly 0. The gradients come from
    the engine's IG path integration in chunks (``internal_batch_size`` rows per model
    call, or the memory budget); the cost is that of IG with the same steps.

    Example:
        >>> import torch
        >>> from veracity.attr import GeometricallyGuidedIntegratedGradients, IntegratedGradients
        >>> model = torch.nn.Linear(4, 2)
        >>> x = torch.randn(3, 4)
        >>> ggig = GeometricallyGuidedIntegratedGradients(model).attribute(x, target=1, n_steps=8)
        >>> torch.allclose(ggig, IntegratedGradients(model).attribute(x, target=1), atol=1e-6)
        True
    """

    def __init__(self, forward_func: Callable[..., Any], multiply_by_inputs: bool = True) -> None:
        super().__init__(forward_func)
        self._multiply_by_inputs = multiply_by_inputs

    def attribute(self, inputs: TensorOrTuple, baselines: Any = None, target: Any = None,
                  additional_forward_args: Any = None, n_steps: int = 50, method: str = "riemann_right",
                  internal_batch_size: int | None = None, *, show_progress: bool = False) -> TensorOrTuple:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.attribute_call(call, baselines, n_steps, method, internal_batch_size, show_progress=show_progress)

    def attribute_call(self, call: Call, baselines: Any = None, n_steps: int = 50, method: str = "riemann_right",
                       internal_batch_size: int | None = None, *, show_progress: bool = False) -> TensorOrTuple:
        check_choice("method", method, PATH_METHODS)
        check_positive_int("n_steps", n_steps)
        base = call.baselines(baselines)
        batch = call.batch
        diffs = [x - b for x, b in zip(call.inputs, base)]
        best_score = [torch.full_like(x, float("-inf")) for x in call.inputs]
        best_grad = [torch.zeros_like(x) for x in call.inputs]

        def on_chunk(start: int, stop: int, grads: tuple[Tensor, ...], scalars: Tensor) -> None:
            k = stop - start
            for score, chosen, grad, diff in zip(best_score, best_grad, grads, diffs):
                stacked = grad.reshape(k, batch, *grad.shape[1:]).to(diff.dtype)
                products = stacked * diff.unsqueeze(0)
                top, where = products.max(0)
                better = top > score
                score.copy_(torch.where(better, top, score))
                chosen.copy_(torch.where(better, stacked.gather(0, where.unsqueeze(0))[0], chosen))

        integrate_path(call, base, n_steps, method, internal_batch_size, show_progress, on_chunk=on_chunk)
        if self._multiply_by_inputs:
            return call.finish([g * d for g, d in zip(best_grad, diffs)])
        return call.finish(best_grad)
