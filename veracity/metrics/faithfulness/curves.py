"""Faithfulness by perturbation curves: remove (or insert) features in attribution order.

Deletion / insertion, pixel flipping, selectivity, ABPC and monotonicity here; region
perturbation and IROF in :mod:`.regions`, ROAD in :mod:`.remove_and_debias`.

Every metric here is one call of the shared engine (:mod:`veracity.metrics._engine.curves`): the
attribution ranks the features (elements, patches or segments), ``counts`` says how many are
removed at each step, and the whole ``(steps x examples)`` grid is evaluated in budgeted
chunks. Curves include the unperturbed point (step 0) and the fully perturbed one; the
x-axis is the fraction of features removed. Features are the elements of ``attributions``,
which may have size-1 dimensions (``(batch, 1, H, W)`` removes a pixel in every channel).
Ties in the attributions are broken by feature index.

Shared keyword arguments: ``baseline`` (the value of a removed feature: ``"black"`` (the
example's minimum, as Quantus), ``"white"``, ``"mean"``, ``"zeros"``, ``"uniform"``, a number,
a tensor or a callable), ``additional_forward_args``, ``softmax`` (explain the softmax
probability instead of the raw output), ``perturbations_per_eval`` (rows per model call;
``None``: the memory budget), ``show_progress``, ``generator`` / ``seed`` (random baselines and
orders), ``return_curve`` (also return the curves as a :class:`CurveResult`).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch
from torch import Tensor

from veracity._core.seeding import make_generator
from veracity._core.validate import fail
from veracity.metrics._engine.curves import feature_ids, metric_call, ordered_curve
from veracity.metrics._engine.stats import trapezoid_auc

__all__ = ["CurveResult", "deletion", "insertion", "pixel_flipping", "selectivity", "abpc",
           "monotonicity"]

Model = Callable[..., Tensor]


class CurveResult(NamedTuple):
    """``score`` ``(batch,)``, ``curve`` ``(batch, steps)`` and its x-axis ``fractions`` ``(steps,)``."""

    score: Tensor
    curve: Tensor
    fractions: Tensor


def curve_result(score: Tensor, curve: Tensor, fractions: Tensor, return_curve: bool) -> Any:
    return CurveResult(score, curve, fractions) if return_curve else score


def _curve_metric(model: Model, inputs: Any, attributions: Any, target: Any, *, insert: bool,
                  order: str, baseline: Any, features_in_step: int | None, n_steps: int | None,
                  additional_forward_args: Any, softmax: bool, perturbations_per_eval: int | None,
                  show_progress: bool, generator: Any, seed: int | None, return_curve: bool,
                  patch_size: int | None = None, feature_mask: Tensor | None = None) -> Any:
    call = metric_call(model, inputs, attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval, show_progress)
    curve, fractions = ordered_curve(
        call, order=order, baseline=baseline, generator=make_generator(generator, seed),
        features_in_step=features_in_step, n_steps=n_steps, patch_size=patch_size,
        feature_mask=feature_mask, insert=insert)
    return curve_result(trapezoid_auc(curve, fractions), curve, fractions, return_curve)


def _rise_curve_metric(arguments: dict[str, Any], *, insert: bool) -> Any:
    """Deletion or insertion from the caller's arguments (the two share one signature);
    100 steps unless ``n_steps`` or ``features_in_step`` is given."""
    if arguments["n_steps"] is None and arguments["features_in_step"] is None:
        arguments = {**arguments, "n_steps": 100}
    return _curve_metric(**arguments, insert=insert)


def deletion(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
             baseline: Any = 0.0, n_steps: int | None = None, features_in_step: int | None = None,
             order: str = "morf", patch_size: int | None = None, feature_mask: Tensor | None = None,
             additional_forward_args: Any = None, softmax: bool = False,
             perturbations_per_eval: int | None = None, show_progress: bool = False,
             generator: torch.Generator | None = None, seed: int | None = None,
             return_curve: bool = False) -> Any:
    """Deletion AUC (Petsiuk et al., RISE, 2018): lower is better.

    Features are replaced by ``baseline`` most-relevant first; the score is the trapezoid area
    under the explained output over the fraction removed (0 to 1). ``n_steps`` (default 100)
    or ``features_in_step`` sets the resolution; ``patch_size`` / ``feature_mask`` group
    features. Returns ``(batch,)`` (or a :class:`CurveResult`).

    Example:
        >>> import torch
        >>> from veracity.metrics import deletion
        >>> model = torch.nn.Linear(4, 2)
        >>> x = torch.ones(3, 4)
        >>> deletion(model, x, x * model.weight[0], target=0, n_steps=4).shape
        torch.Size([3])
    """
    return _rise_curve_metric(locals(), insert=False)


def insertion(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
              baseline: Any = 0.0, n_steps: int | None = None, features_in_step: int | None = None,
              order: str = "morf", patch_size: int | None = None,
              feature_mask: Tensor | None = None, additional_forward_args: Any = None,
              softmax: bool = False, perturbations_per_eval: int | None = None,
              show_progress: bool = False, generator: torch.Generator | None = None,
              seed: int | None = None, return_curve: bool = False) -> Any:
    """Insertion AUC (Petsiuk et al., RISE, 2018): higher is better.

    Starts from ``baseline`` (e.g. a blurred image passed as a tensor) and puts the features
    back most-relevant first; the score is the area under the output over the fraction
    inserted. Arguments as :func:`deletion`.

    Example:
        >>> import torch
        >>> from veracity.metrics import insertion
        >>> model, x = torch.nn.Linear(4, 1), torch.ones(1, 4)
        >>> exact = x * model.weight  # the true contributions beat their opposite
        >>> bool(insertion(model, x, exact, n_steps=4) >= insertion(model, x, -exact, n_steps=4))
        True
    """
    return _rise_curve_metric(locals(), insert=True)


def pixel_flipping(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
                   baseline: Any = "black", features_in_step: int = 1,
                   additional_forward_args: Any = None, softmax: bool = False,
                   perturbations_per_eval: int | None = None, show_progress: bool = False,
                   generator: torch.Generator | None = None, seed: int | None = None,
                   return_curve: bool = False) -> Any:
    """Pixel flipping (Bach et al. 2015): the deletion curve, ``features_in_step`` at a time.

    Lower AUC is better. Quantus's defaults (black baseline, one feature per step); the curve
    has ``ceil(n / features_in_step) + 1`` points, all evaluated in budgeted batches.

    Example:
        >>> import torch
        >>> from veracity.metrics import pixel_flipping
        >>> model = torch.nn.Linear(4, 2)
        >>> x = torch.rand(3, 4)
        >>> pixel_flipping(model, x, x * model.weight[0], target=0).shape
        torch.Size([3])
    """
    return deletion(model, inputs, attributions, target, baseline=baseline,
                    features_in_step=features_in_step,
                    additional_forward_args=additional_forward_args, softmax=softmax,
                    perturbations_per_eval=perturbations_per_eval, show_progress=show_progress,
                    generator=generator, seed=seed, return_curve=return_curve)


def selectivity(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
                patch_size: int = 8, baseline: Any = "black", feature_mask: Tensor | None = None,
                additional_forward_args: Any = None, softmax: bool = False,
                perturbations_per_eval: int | None = None, show_progress: bool = False,
                generator: torch.Generator | None = None, seed: int | None = None,
                return_curve: bool = False) -> Any:
    """Selectivity (Montavon et al. 2018): lower is better.

    Every patch is removed, most relevant first; the score is the area under the output
    over the fraction of patches removed (a fast drop = a small area).

    Example:
        >>> import torch
        >>> from veracity.metrics import selectivity
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
        >>> x = torch.rand(2, 1, 4, 4)
        >>> selectivity(model, x, x, target=0, patch_size=2).shape
        torch.Size([2])
    """
    return _curve_metric(model, inputs, attributions, target, insert=False, order="morf",
                         baseline=baseline, features_in_step=1, n_steps=None,
                         patch_size=None if feature_mask is not None else patch_size,
                         feature_mask=feature_mask,
                         additional_forward_args=additional_forward_args, softmax=softmax,
                         perturbations_per_eval=perturbations_per_eval,
                         show_progress=show_progress, generator=generator, seed=seed,
                         return_curve=return_curve)


def abpc(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
         fractions: tuple[float, ...] = tuple(t / 10 for t in range(1, 10)),  # type: ignore[name-defined]
         baseline: Any = 0.0,
         additional_forward_args: Any = None, softmax: bool = False,
         perturbations_per_eval: int | None = None, show_progress: bool = False,
         return_curve: bool = False) -> Any:
    """Area between perturbation curves, ABPC (Miglani et al. 2020 notebook): higher is better.

    For each fraction t the top-t (MoRF) and the bottom-t (LeRF) features are replaced by
    ``baseline``; outputs are normalised as ``(f - f(x')) / (f(x) - f(x'))`` and clipped to
    [0, 1]; ABPC = ``sum_t max(LeRF_t - MoRF_t, 0) / (len(fractions) + 1)`` (the area between
    the curves on [0, 1], where they meet at both ends). NaN where ``f(x) == f(x')``.
    The returned curve is LeRF minus MoRF, clipped at 0.

    Example:
        >>> import torch
        >>> from veracity.metrics import abpc
        >>> model = torch.nn.Linear(4, 2)
        >>> x = torch.rand(3, 4)
        >>> abpc(model, x, x * model.weight[0], target=0, fractions=(0.25, 0.5, 0.75)).shape
        torch.Size([3])
    """
    steps = torch.tensor([float(t) for t in fractions])
    if steps.numel() == 0 or bool(((steps <= 0) | (steps >= 1)).any()):
        fail("fractions", "a non-empty sequence of numbers in (0, 1)", fractions)
    call = metric_call(model, inputs, attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval, show_progress)
    _, n_features = feature_ids(tuple(call.attributions.shape))
    inner = (steps * n_features).round().long()
    counts = torch.cat([torch.tensor([0]), inner, torch.tensor([n_features])])
    morf, _ = ordered_curve(call, order="morf", baseline=baseline, generator=None, counts=counts)
    lerf, _ = ordered_curve(call, order="lerf", baseline=baseline, generator=None, counts=inner)
    top, bottom = morf[:, :1], morf[:, -1:]
    span = top - bottom
    safe = torch.where(span != 0, span, torch.ones_like(span))

    def normalise(values: Tensor) -> Tensor:
        return ((values - bottom) / safe).clamp(0, 1)

    gap = (normalise(lerf) - normalise(morf[:, 1:-1])).clamp(min=0)
    score = gap.sum(1) / (steps.numel() + 1)
    score = torch.where(span[:, 0] != 0, score, torch.full_like(score, float("nan")))
    return curve_result(score, gap, steps, return_curve)


def monotonicity(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
                 baseline: Any = "black", features_in_step: int = 1, absolute: bool = True,
                 additional_forward_args: Any = None, softmax: bool = False,
                 perturbations_per_eval: int | None = None, show_progress: bool = False,
                 return_curve: bool = False) -> Any:
    """Monotonicity (Arya et al. 2019): 1.0 where the curve never decreases, else 0.0; higher is better.

    Starting from ``baseline``, features are inserted least important first (by ``|a|`` when
    ``absolute``, as Quantus); an attribution that ranks features correctly makes the output
    rise monotonically.

    Example:
        >>> import torch
        >>> from veracity.metrics import monotonicity
        >>> model, x = torch.nn.Linear(4, 1), torch.rand(5, 4)
        >>> monotonicity(model, x, x * model.weight, baseline=0.0).shape  # 1.0 or 0.0 per example
        torch.Size([5])
    """
    if absolute:
        attributions = attributions.abs() if isinstance(attributions, Tensor) else attributions
    call = metric_call(model, inputs, attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval, show_progress)
    curve, fractions = ordered_curve(call, order="lerf", baseline=baseline, generator=None,
                                      features_in_step=features_in_step, insert=True)
    score = (curve.diff(dim=1) >= 0).all(1).float()
    return curve_result(score, curve, fractions, return_curve)
