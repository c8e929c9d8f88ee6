"""Faithfulness curves over regions: patches or superpixels removed in attribution order.

Region perturbation (AOPC) and IROF; the shared keyword arguments are those of
:mod:`veracity.metrics.faithfulness.curves`.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.seeding import make_generator
from veracity._core.validate import check_choice, fail
from veracity.metrics._engine.curves import feature_ids, metric_call, ordered_curve
from veracity.metrics._engine.stats import trapezoid_auc
from veracity.metrics.faithfulness.curves import curve_result

__all__ = ["region_perturbation", "irof"]

Model = Callable[..., Tensor]


def region_perturbation(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None,
                        *, patch_size: int = 8, regions_evaluation: int = 100, order: str = "morf",
                        baseline: Any = "uniform", feature_mask: Tensor | None = None,
                        additional_forward_args: Any = None, softmax: bool = False,
                        perturbations_per_eval: int | None = None, show_progress: bool = False,
                        generator: torch.Generator | None = None, seed: int | None = None,
                        return_curve: bool = False) -> Any:
    """Region perturbation AOPC (Samek et al. 2017).

    Non-overlapping ``patch_size`` squares (or ``feature_mask`` regions) are ranked by summed
    attribution and replaced one per step (uniform noise by default, as in the paper) for
    ``regions_evaluation`` steps. AOPC = mean over k = 0..L of ``f(x) - f(x_k)``. MoRF:
    higher is better; LeRF: lower is better. The returned curve is ``f(x_k)``.

    Example:
        >>> import torch
        >>> from veracity.metrics import region_perturbation
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
        >>> x = torch.rand(2, 1, 4, 4)
        >>> region_perturbation(model, x, x, target=0, patch_size=2, seed=0).shape
        torch.Size([2])
    """
    check_choice("order", order, ("morf", "lerf"))
    if isinstance(regions_evaluation, bool) or not isinstance(regions_evaluation, int) \
            or regions_evaluation < 1:
        fail("regions_evaluation", "a positive integer", regions_evaluation)
    call = metric_call(model, inputs, attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval, show_progress)
    _, n_regions = feature_ids(tuple(call.attributions.shape), patch_size, feature_mask)
    counts = torch.arange(min(regions_evaluation, n_regions) + 1)
    curve, fractions = ordered_curve(
        call, order=order, baseline=baseline, generator=make_generator(generator, seed),
        patch_size=patch_size, feature_mask=feature_mask, counts=counts)
    aopc = (curve[:, :1] - curve).mean(1)
    return curve_result(aopc, curve, fractions, return_curve)


def irof(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
         segments: Tensor | None = None, patch_size: int = 8, baseline: Any = "mean",
         additional_forward_args: Any = None, softmax: bool = True,
         perturbations_per_eval: int | None = None, show_progress: bool = False,
         generator: torch.Generator | None = None, seed: int | None = None,
         return_curve: bool = False) -> Any:
    """Iterative removal of features, IROF (Rieger & Hansen 2020): higher is better.

    Superpixels are removed in order of their *mean* attribution; the score is the area over
    the curve ``f(x_k) / f(x)`` (``1 - AUC`` over the fraction of segments removed). Segments:
    the user's integer ``segments`` labels (e.g. SLIC from scikit-image), else a regular grid
    of ``patch_size`` squares (a documented stand-in for SLIC, which needs no extra package).
    NaN where ``f(x) <= 0`` (use probabilities: ``softmax=True``, the default).

    Example:
        >>> import torch
        >>> from veracity.metrics import irof
        >>> x, model = torch.rand(2, 1, 4, 4), torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
        >>> irof(model, x, x, target=0, segments=torch.arange(16).view(1, 1, 4, 4) // 8).shape  # two halves
        torch.Size([2])
    """
    call = metric_call(model, inputs, attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval, show_progress)
    curve, fractions = ordered_curve(
        call, order="morf", baseline=baseline, generator=make_generator(generator, seed),
        features_in_step=1, patch_size=None if segments is not None else patch_size,
        feature_mask=segments, reduce="mean")
    original = curve[:, :1]
    normalised = torch.where(original > 0, curve / original, torch.full_like(curve, float("nan")))
    return curve_result(1 - trapezoid_auc(normalised, fractions), normalised, fractions, return_curve)
