"""GradientShap (Lundberg & Lee 2017, "expected gradients"), chunked."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.engine import Points, gradient_points, outputs_at
from veracity._core.seeding import gaussian_like, per_input, point_generator, point_seeds
from veracity._core.validate import check_positive_int
from veracity.attr._base import GradientAttribution

TensorOrTuple = Tensor | tuple[Tensor, ...]


class GradientShap(GradientAttribution):
    """SHAP values approximated by expected gradients.

    For each of ``n_samples`` draws per example: add Gaussian noise (``stdevs``) to the input,
    pick a baseline at random from the ``baselines`` distribution and a point uniformly at
    random on the straight line between them, and take the gradient there times
    (noisy input - baseline). The attribution is the mean over draws. Lundberg & Lee, "A
    Unified Approach to Interpreting Model Predictions" (NeurIPS 2017); Erion et al.,
    "expected gradients". Unlike Captum's, the ``n_samples x batch`` expansion is evaluated
    in chunks (``internal_batch_size`` rows per model call, or the memory budget), so memory
    stays bounded. ``generator`` makes results reproducible; they do not depend on the chunk
    size. The convergence delta has one entry per (example, sample), example-major, as in
    Captum.

    Example:
        >>> import torch
        >>> from veracity.attr import GradientShap
        >>> model = torch.nn.Linear(4, 2)
        >>> x, background = torch.randn(3, 4), torch.randn(10, 4)
        >>> g = torch.Generator().manual_seed(0)
        >>> attr = GradientShap(model).attribute(x, background, target=1, n_samples=20,
        ...                                      generator=g)
        >>> attr.shape
        torch.Size([3, 4])
    """

    def __init__(self, forward_func: Callable[..., Any], multiply_by_inputs: bool = True) -> None:
        super().__init__(forward_func)
        self._multiply_by_inputs = multiply_by_inputs

    def attribute(self, inputs: TensorOrTuple, baselines: Any, n_samples: int = 5,
                  stdevs: float | tuple[float, ...] = 0.0, target: Any = None, additional_forward_args: Any = None,
                  return_convergence_delta: bool = False, *, internal_batch_size: int | None = None,
                  generator: torch.Generator | None = None,
                  show_progress: bool = False) -> TensorOrTuple | tuple[TensorOrTuple, Tensor]:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.attribute_call(call, baselines, n_samples, stdevs, return_convergence_delta,
                                   internal_batch_size=internal_batch_size, generator=generator,
                                   show_progress=show_progress)

    def attribute_call(self, call: Call, baselines: Any, n_samples: int = 5,
                       stdevs: float | tuple[float, ...] = 0.0, return_convergence_delta: bool = False, *,
                       internal_batch_size: int | None = None, generator: torch.Generator | None = None,
                       show_progress: bool = False) -> TensorOrTuple | tuple[TensorOrTuple, Tensor]:
        tup, batch = call.inputs, call.batch
        check_positive_int("n_samples", n_samples)
        noise_std = per_input("stdevs", stdevs, len(tup))
        distribution = call.baseline_distribution(baselines)
        n_baselines = distribution[0].shape[0]
        baseline_index = torch.randint(0, n_baselines, (n_samples, batch), generator=generator)
        alphas = torch.rand((n_samples, batch), generator=generator)
        seeds = point_seeds(n_samples, generator)
        device = tup[0].device

        def sample(point: int) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
            """(noisy inputs, chosen baselines) for one draw of every example."""
            gen = point_generator(seeds[point], device)
            index = baseline_index[point].to(device)
            noisy = tuple(x + gaussian_like(x, s, gen) if s > 0 else x for x, s in zip(tup, noise_std))
            return noisy, tuple(d[index] for d in distribution)

        def build(start: int, stop: int) -> tuple[Tensor, ...]:
            rows: list[list[Tensor]] = [[] for _ in tup]
            for point in range(start, stop):
                noisy, chosen = sample(point)
                a = alphas[point].to(device)
                for i, (x, b) in enumerate(zip(noisy, chosen)):
                    rows[i].append(b + a.view(-1, *([1] * (x.dim() - 1))) * (x - b))
            return tuple(torch.cat(r) for r in rows)

        totals = [torch.zeros_like(x) for x in tup]
        sample_sums = torch.zeros(n_samples, batch, dtype=tup[0].dtype, device=device)

        def consume(start: int, stop: int, grads: tuple[Tensor, ...], scalars: Tensor) -> None:
            for offset, point in enumerate(range(start, stop)):
                noisy, chosen = sample(point)
                for i, grad in enumerate(grads):
                    g = grad[offset * batch:(offset + 1) * batch]
                    value = g * (noisy[i] - chosen[i]) if self._multiply_by_inputs else g
                    totals[i] += value
                    if return_convergence_delta:
                        sample_sums[point] += value.reshape(batch, -1).sum(1)

        points = Points.of(n_samples, tup, build)
        gradient_points(call, points, consume, chunk_rows=internal_batch_size, show_progress=show_progress,
                        desc="GradientShap")
        attributions = [t / n_samples for t in totals]
        result = call.finish(attributions)
        if not return_convergence_delta:
            return result
        ends, starts = zip(*(sample(p) for p in range(n_samples)))
        values = outputs_at(call, list(ends) + list(starts))
        differences = values[:n_samples] - values[n_samples:]
        return result, (sample_sums - differences).t().reshape(-1)

    def has_convergence_delta(self) -> bool:
        return True
