"""ROAD: features removed by noisy linear imputation instead of a baseline (Rong et al. 2022).

The imputation is solved on the device (:mod:`veracity.metrics._engine.imputation`); the
shared keyword arguments are those of :mod:`veracity.metrics.faithfulness.curves`.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.seeding import make_generator
from veracity._core.validate import check_choice, fail
from veracity.metrics._engine.curves import feature_ids, metric_call, ordered_curve
from veracity.metrics._engine.imputation import noisy_linear_imputation_fill
from veracity.metrics.faithfulness.curves import curve_result

__all__ = ["road"]

Model = Callable[..., Tensor]


def road(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
         percentages: tuple[float, ...] = tuple(range(1, 100, 2)), order: str = "morf",
         noise: float = 0.01, additional_forward_args: Any = None, softmax: bool = False,
         perturbations_per_eval: int | None = None, show_progress: bool = False,
         generator: torch.Generator | None = None, seed: int | None = None,
         return_curve: bool = False) -> Any:
    """ROAD, RemOve And Debias (Rong et al. 2022).

    The top (MoRF) or bottom (LeRF) ``p`` % of the features are replaced by noisy linear
    imputation (each removed pixel the weighted mean of its 8 neighbours, solved on the device
    by conjugate gradients, plus N(0, ``noise``^2)); inputs must be ``(batch, C, H, W)``.
    The score is the mean output over the percentages: MoRF lower is better, LeRF higher.

    Example:
        >>> import torch
        >>> from veracity.metrics import road
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
        >>> x = torch.rand(2, 1, 4, 4)
        >>> road(model, x, x, target=0, percentages=(25, 50), seed=0).shape
        torch.Size([2])
    """
    check_choice("order", order, ("morf", "lerf"))
    fractions = torch.tensor([float(p) / 100 for p in percentages])
    if fractions.numel() == 0 or bool(((fractions < 0) | (fractions > 1)).any()):
        fail("percentages", "a non-empty sequence of numbers in [0, 100]", percentages)
    call = metric_call(model, inputs, attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval, show_progress)
    if call.inputs.dim() != 4:
        fail("inputs", "images shaped (batch, channels, height, width) for ROAD", call.inputs)
    _, n_features = feature_ids(tuple(call.attributions.shape))
    counts = (fractions * n_features).round().long()
    fill = noisy_linear_imputation_fill(call.inputs, len(counts), noise,
                                        make_generator(generator, seed))
    curve, _ = ordered_curve(call, order=order, baseline=None, generator=None, counts=counts,
                              fill=fill)
    return curve_result(curve.mean(1), curve, fractions, return_curve)
