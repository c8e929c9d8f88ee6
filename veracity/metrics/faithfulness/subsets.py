"""Faithfulness by correlation: random subsets or single feature groups are removed.

Each metric correlates, per example, what the attribution says a perturbation should do
with what the model does. All perturbations go through the shared engine
(:meth:`~veracity.metrics._engine.curves.MetricCall.outputs`) in budgeted chunks;
random subsets come from one seed per point (drawn up front from ``generator`` / ``seed``),
so results do not depend on the chunk size. Correlations are NaN (documented) where the
attribution sums or the output changes are constant over the perturbations.
Shared keyword arguments are those of :mod:`veracity.metrics.faithfulness.curves`.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.seeding import make_generator
from veracity._core.validate import check_positive_int, fail
from veracity.metrics._engine.curves import metric_call
from veracity.metrics._engine.stats import pearson_rows, spearman_rows
from veracity.metrics._engine.subsets import random_subset_outputs, single_group_outputs, step_groups
from veracity.metrics.faithfulness.curves import CurveResult

__all__ = ["faithfulness_correlation", "faithfulness_estimate", "monotonicity_correlation",
           "sensitivity_n"]

Model = Callable[..., Tensor]


def faithfulness_correlation(model: Model, inputs: Tensor, attributions: Tensor,
                             target: Any = None, *, nr_runs: int = 100, subset_size: int = 224,
                             baseline: Any = "black", additional_forward_args: Any = None,
                             softmax: bool = False, perturbations_per_eval: int | None = None,
                             show_progress: bool = False, generator: torch.Generator | None = None,
                             seed: int | None = None) -> Tensor:
    """Faithfulness correlation (Bhatt et al. 2020): higher is better.

    ``nr_runs`` random subsets of ``subset_size`` features are replaced by ``baseline``; the
    score is the Pearson correlation, over runs, of the subset's attribution sum with the
    output drop ``f(x) - f(x_subset)``.

    Example:
        >>> import torch
        >>> from veracity.metrics import faithfulness_correlation
        >>> model = torch.nn.Linear(6, 1)
        >>> x = torch.rand(2, 6)
        >>> faithfulness_correlation(model, x, x * model.weight, baseline=0.0, subset_size=3,
        ...                          nr_runs=20, seed=0)
        tensor([1., 1.])
    """
    check_positive_int("nr_runs", nr_runs)
    call = metric_call(model, inputs, attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval, show_progress)
    n = call.attributions[0].numel()
    if isinstance(subset_size, bool) or not isinstance(subset_size, int) or not 1 <= subset_size <= n:
        fail("subset_size", f"an integer in [1, {n}] (the number of features)", subset_size)
    generator = make_generator(generator, seed)
    outputs, sums = random_subset_outputs(call, [subset_size] * nr_runs, baseline, generator)
    return pearson_rows(sums, call.original()[:, None] - outputs)


def faithfulness_estimate(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None,
                          *, features_in_step: int = 1, baseline: Any = "black",
                          additional_forward_args: Any = None, softmax: bool = False,
                          perturbations_per_eval: int | None = None,
                          show_progress: bool = False) -> Tensor:
    """Faithfulness estimate (Alvarez-Melis & Jaakkola 2018): higher is better.

    Each group of ``features_in_step`` features (consecutive in attribution order) is removed
    alone; the score is the Pearson correlation of the groups' attribution sums with the
    output drops they cause.

    Example:
        >>> import torch
        >>> from veracity.metrics import faithfulness_estimate
        >>> model = torch.nn.Linear(6, 1)
        >>> x = torch.rand(2, 6)
        >>> faithfulness_estimate(model, x, x * model.weight, baseline=0.0)
        tensor([1., 1.])
    """
    call = metric_call(model, inputs, attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval, show_progress)
    group_of, n_groups, sums = step_groups(call, features_in_step, "morf")
    outputs = single_group_outputs(call, group_of, n_groups, 1, baseline, None)[:, 0]
    return pearson_rows(sums, call.original()[:, None] - outputs)


def monotonicity_correlation(model: Model, inputs: Tensor, attributions: Tensor,
                             target: Any = None, *, nr_samples: int = 100,
                             features_in_step: int = 1, baseline: Any = "uniform",
                             eps: float = 1e-5, absolute: bool = True,
                             additional_forward_args: Any = None, softmax: bool = False,
                             perturbations_per_eval: int | None = None,
                             show_progress: bool = False, generator: torch.Generator | None = None,
                             seed: int | None = None) -> Tensor:
    """Monotonicity correlation (Nguyen & Rodriguez Martinez 2020): higher is better.

    Each group is replaced ``nr_samples`` times by ``baseline`` draws (uniform noise); its
    sensitivity is ``mean_s (f(x_s) - f(x))^2 / f(x)^2`` (no division where ``|f(x)| < eps``).
    The score is the Spearman correlation of the groups' (absolute) attribution sums with
    their sensitivities.

    Example:
        >>> import torch
        >>> from veracity.metrics import monotonicity_correlation
        >>> x = torch.rand(2, 6)
        >>> monotonicity_correlation(torch.nn.Linear(6, 1), x, x, nr_samples=5, seed=0).shape
        torch.Size([2])
    """
    check_positive_int("nr_samples", nr_samples)
    if absolute and isinstance(attributions, Tensor):
        attributions = attributions.abs()
    call = metric_call(model, inputs, attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval, show_progress)
    group_of, n_groups, sums = step_groups(call, features_in_step, "lerf")
    generator = make_generator(generator, seed)
    outputs = single_group_outputs(call, group_of, n_groups, nr_samples, baseline, generator)
    original = call.original()
    scale = torch.where(original.abs() < eps, torch.ones_like(original), original.abs())
    variance = ((outputs - original[:, None, None]) ** 2).mean(1) / scale[:, None] ** 2
    return spearman_rows(sums, variance)


def sensitivity_n(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
                  n_values: list[int] | None = None, nr_samples: int = 20,
                  baseline: Any = "black", additional_forward_args: Any = None,
                  softmax: bool = False, perturbations_per_eval: int | None = None,
                  show_progress: bool = False, generator: torch.Generator | None = None,
                  seed: int | None = None, return_curve: bool = False) -> Any:
    """Sensitivity-n (Ancona et al. 2018): higher is better.

    For each subset size n in ``n_values`` (default: 10 sizes, log-spaced from 1 to 80 % of
    the features), ``nr_samples`` random n-subsets are removed; the Pearson correlation of
    the subsets' attribution sums with the output drops is the curve, and the score is its
    mean over n (NaN entries ignored).

    Example:
        >>> import torch
        >>> from veracity.metrics import sensitivity_n
        >>> model = torch.nn.Linear(6, 1)
        >>> x = torch.rand(2, 6)
        >>> sensitivity_n(model, x, x * model.weight, n_values=[2, 3], baseline=0.0, seed=0)
        tensor([1., 1.])
    """
    check_positive_int("nr_samples", nr_samples)
    call = metric_call(model, inputs, attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval, show_progress)
    n = call.attributions[0].numel()
    if n_values is None:
        top = max(1, round(0.8 * n))
        n_values = sorted({int(v) for v in torch.logspace(0, torch.log10(torch.tensor(float(top))),
                                                          10).round().tolist()})
    if not n_values or any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= n
                           for v in n_values):
        fail("n_values", f"a non-empty list of subset sizes in [1, {n}]", n_values)
    sizes = [v for v in n_values for _ in range(nr_samples)]
    outputs, sums = random_subset_outputs(call, sizes, baseline, make_generator(generator, seed))
    drops = call.original()[:, None] - outputs
    curve = pearson_rows(sums.view(call.batch, len(n_values), nr_samples),
                         drops.view(call.batch, len(n_values), nr_samples))
    score = curve.nanmean(1)
    fractions = torch.tensor(n_values, dtype=torch.float) / n
    return CurveResult(score, curve, fractions) if return_curve else score
