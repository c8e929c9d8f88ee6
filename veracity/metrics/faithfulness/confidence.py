"""Faithfulness as confidence on explanation-masked inputs, and sufficiency.

Score-CAM's average drop / increase (Chattopadhay et al. 2018), Gupta et al.'s (2022)
completeness and soundness of masks, and sufficiency (Dasgupta et al. 2022). Model
evaluations go through the shared engine like every other faithfulness metric.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.engine import Points, forward_points
from veracity._core.targets import prepare_target
from veracity._core.validate import fail
from veracity.metrics._engine.curves import MetricCall, metric_call, ordered_curve
from veracity.metrics.faithfulness.curves import CurveResult

__all__ = ["average_drop", "average_increase", "mask_completeness", "mask_soundness",
           "sufficiency"]

Model = Callable[..., Tensor]
_FRACTIONS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)


def _minmax(attributions: Tensor) -> Tensor:
    flat = attributions.reshape(attributions.shape[0], -1)
    low = flat.min(1, keepdim=True).values
    span = flat.max(1, keepdim=True).values - low
    scaled = (flat - low) / torch.where(span > 0, span, torch.ones_like(span))
    # a constant map says nothing: it keeps the whole image
    return torch.where(span > 0, scaled, torch.ones_like(scaled)).view_as(attributions)


def _confidences(model: Model, inputs: Tensor, attributions: Tensor, target: Any, normalize: bool,
                 additional_forward_args: Any, softmax: bool,
                 perturbations_per_eval: int | None) -> tuple[Tensor, Tensor]:
    """The explained output on the inputs and on the explanation image ``x * map``."""
    call = metric_call(model, inputs, attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval)
    saliency = _minmax(call.attributions) if normalize else call.attributions
    masks = torch.tensor([False, True], device=call.inputs.device)
    view = masks.view(2, *[1] * call.inputs.dim())
    both = call.outputs(2, lambda s, e: view[s:e], call.inputs * saliency, desc="explanation map")
    return both[:, 0], both[:, 1]


def average_drop(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
                 normalize: bool = True, additional_forward_args: Any = None, softmax: bool = True,
                 perturbations_per_eval: int | None = None) -> Tensor:
    """Average drop (Chattopadhay et al. 2018, used by Score-CAM), per example: lower is better.

    ``100 * max(0, Y - O) / Y`` with ``Y`` the class probability on the input and ``O`` on the
    explanation image ``x * map`` (``map``: the attributions min-max normalised per example to
    [0, 1] when ``normalize``). Average over the batch for the paper's number. NaN where Y <= 0.

    Example:
        >>> import torch
        >>> from veracity.metrics import average_drop
        >>> model = torch.nn.Linear(4, 3)
        >>> x = torch.rand(2, 4)
        >>> average_drop(model, x, torch.ones(2, 4), target=0)
        tensor([0., 0.])
    """
    before, after = _confidences(model, inputs, attributions, target, normalize,
                                 additional_forward_args, softmax, perturbations_per_eval)
    drop = 100 * (before - after).clamp(min=0) / before
    return torch.where(before > 0, drop, torch.full_like(drop, float("nan")))


def average_increase(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
                     normalize: bool = True, additional_forward_args: Any = None,
                     softmax: bool = True, perturbations_per_eval: int | None = None) -> Tensor:
    """Increase in confidence (Chattopadhay et al. 2018), per example: higher is better.

    ``100`` where the probability on the explanation image exceeds that on the input, else 0;
    the batch mean is the paper's percentage. Arguments as :func:`average_drop`.

    Example:
        >>> import torch
        >>> from veracity.metrics import average_increase
        >>> ones = torch.ones(2, 4)  # a map of ones leaves the image as it is: no increase
        >>> average_increase(torch.nn.Linear(4, 3), torch.rand(2, 4), ones, target=0)
        tensor([0., 0.])
    """
    before, after = _confidences(model, inputs, attributions, target, normalize,
                                 additional_forward_args, softmax, perturbations_per_eval)
    return 100 * (after > before).float()


def _kept_curve(call: MetricCall, fractions: tuple[float, ...], baseline: Any) -> tuple[Tensor, Tensor]:
    steps = torch.tensor([float(f) for f in fractions])
    if steps.numel() == 0 or bool(((steps <= 0) | (steps > 1)).any()):
        fail("fractions", "a non-empty sequence of numbers in (0, 1]", fractions)
    counts = (steps * call.attributions[0].numel()).round().long().clamp(min=1)
    curve, _ = ordered_curve(call, order="morf", baseline=baseline, generator=None,
                             counts=counts, insert=True)
    return curve, steps


def mask_completeness(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
                      fractions: tuple[float, ...] = _FRACTIONS, baseline: Any = 0.0,
                      additional_forward_args: Any = None, softmax: bool = True,
                      perturbations_per_eval: int | None = None,
                      return_curve: bool = False) -> Any:
    """Completeness of saliency masks (Gupta et al. 2022): higher is better.

    Only the top ``k`` fraction of the features is kept (``x_m = m * x + (1 - m) * baseline``)
    for each k in ``fractions``; the curve is the target's probability on ``x_m`` and the
    score its mean over k.

    Example:
        >>> import torch
        >>> from veracity.metrics import mask_completeness
        >>> model = torch.nn.Linear(4, 3)
        >>> x = torch.rand(2, 4)
        >>> mask_completeness(model, x, x, target=0, fractions=(0.5, 1.0)).shape
        torch.Size([2])
    """
    call = metric_call(model, inputs, attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval)
    curve, steps = _kept_curve(call, fractions, baseline)
    return CurveResult(curve.mean(1), curve, steps) if return_curve else curve.mean(1)


def mask_soundness(model: Model, inputs: Tensor, explain_func: Callable[[Tensor, Tensor], Tensor],
                   target: Any, other_targets: Tensor, *,
                   fractions: tuple[float, ...] = _FRACTIONS, baseline: Any = 0.0,
                   additional_forward_args: Any = None, softmax: bool = True,
                   perturbations_per_eval: int | None = None, return_curve: bool = False) -> Any:
    """Soundness of saliency masks (Gupta et al. 2022): higher is better.

    A sound method cannot "certify" labels the model did not predict: masks explaining each
    wrong label in ``other_targets`` (``(batch, m)`` class indices) should give that label low
    probability. The curve is, per kept fraction k, the completeness for ``target`` minus the
    mean completeness for the other labels; the score is its mean over k.
    ``explain_func(inputs, target_tensor)`` returns attributions for per-example targets.

    Example:
        >>> import torch
        >>> from veracity.metrics import mask_soundness
        >>> model = torch.nn.Linear(4, 3)
        >>> explain = lambda x, t: x * model.weight[t]
        >>> x = torch.rand(2, 4)
        >>> mask_soundness(model, x, explain, 0, torch.tensor([[1, 2], [1, 2]])).shape
        torch.Size([2])
    """
    batch = inputs.shape[0] if isinstance(inputs, Tensor) else -1
    if not isinstance(other_targets, Tensor) or other_targets.dim() != 2 \
            or other_targets.shape[0] != batch or other_targets.is_floating_point():
        fail("other_targets", f"an integer tensor of shape ({batch}, m)", other_targets)
    own = prepare_target(target, batch).index
    if own is None or own.shape[1] != 1:
        fail("target", "class indices (one per example)", target)
    own = own[:, 0].to(inputs.device)
    curves = []
    for label in [own, *other_targets.to(inputs.device).unbind(1)]:
        call = metric_call(model, inputs, explain_func(inputs, label), label,
                           additional_forward_args, softmax, perturbations_per_eval)
        curve, steps = _kept_curve(call, fractions, baseline)
        curves.append(curve)
    gap = curves[0] - torch.stack(curves[1:]).mean(0)
    return CurveResult(gap.mean(1), gap, steps) if return_curve else gap.mean(1)


def sufficiency(model: Model, inputs: Tensor, attributions: Tensor, *, threshold: float = 0.6,
                additional_forward_args: Any = None) -> Tensor:
    """Sufficiency (Dasgupta et al. 2022): higher is better.

    For each example, the other examples of the batch whose explanations lie within
    ``threshold`` (standardised Euclidean distance, divided by the batch's largest distance)
    are its neighbours; the score is the fraction of neighbours with the same predicted class.
    NaN where an example has no neighbour. Needs a batch of at least two.

    Example:
        >>> import torch
        >>> from veracity.metrics import sufficiency
        >>> model = torch.nn.Linear(4, 3)
        >>> sufficiency(model, torch.rand(5, 4), torch.rand(5, 4)).shape
        torch.Size([5])
    """
    call = metric_call(model, inputs, attributions, None, additional_forward_args)
    if call.batch < 2:
        fail("inputs", "a batch of at least two examples", call.inputs)
    predicted = _predictions(call)
    flat = call.attributions.reshape(call.batch, -1).double()
    variance = flat.var(0)
    scaled = flat / torch.where(variance > 0, variance.sqrt(), torch.full_like(variance, float("inf")))
    distance = torch.cdist(scaled, scaled)
    distance = distance / distance.max().clamp(min=1e-30)
    near = (distance < threshold) & ~torch.eye(call.batch, dtype=torch.bool, device=flat.device)
    same = predicted[:, None] == predicted[None, :]
    count = near.sum(1)
    agree = (near & same).sum(1)
    return torch.where(count > 0, agree / count.clamp(min=1), torch.full_like(count, float("nan"),
                                                                              dtype=torch.double)
                       ).float()


def _predictions(call: MetricCall) -> Tensor:
    outputs: list[Tensor] = []
    points = Points.of(1, (call.inputs,), lambda s, e: (call.inputs,))
    forward_points(call.call, points, lambda s, e, v: outputs.append(v[0]), raw=True)
    return outputs[0].reshape(call.batch, -1).argmax(1)

