"""Named metrics for the grid (:func:`veracity.metrics.evaluate`): one adapter per metric that
maps the shared evaluation context (model, inputs, target, the method's attributions computed
once, its explanation function, optional masks) to one score per example."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from torch import Tensor

from veracity._core.validate import fail
from veracity.metrics.axiomatic import completeness, input_invariance, non_sensitivity
from veracity.metrics.complexity import complexity_entropy, effective_complexity, sparseness
from veracity.metrics.faithfulness import (
    abpc,
    average_drop,
    average_increase,
    deletion,
    faithfulness_correlation,
    faithfulness_estimate,
    insertion,
    irof,
    mask_completeness,
    monotonicity,
    monotonicity_correlation,
    pixel_flipping,
    region_perturbation,
    road,
    selectivity,
    sensitivity_n,
)
from veracity.metrics.localisation import (
    attribution_localisation,
    pointing_game,
    relevance_mass_accuracy,
    relevance_rank_accuracy,
    roc_auc,
)
from veracity.metrics.randomisation import efficient_mprt, model_parameter_randomisation, random_logit
from veracity.metrics.robustness import (
    avg_sensitivity,
    consistency,
    continuity,
    local_lipschitz_estimate,
    max_sensitivity,
    rank_correlation_under_perturbation,
    relative_input_stability,
    relative_output_stability,
    top_k_intersection_under_perturbation,
)


@dataclass
class Context:
    """What every metric of the grid may use; ``attributions`` are computed once per method."""

    model: Any
    inputs: Tensor
    target: Any
    attributions: Tensor
    explain: Callable[[Any, Tensor, Any], Tensor]
    masks: Tensor | None = None
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    """A metric of the grid: ``compute(context, **kwargs) -> (batch,)`` scores.

    ``higher_is_better`` documents the direction (None when it depends on the settings);
    a result with a ``score`` attribute (a curve result) contributes its score and its curve.

    Example:
        >>> import torch
        >>> Metric("mean |A|", lambda ctx: ctx.attributions.abs().flatten(1).mean(1), False).name
        'mean |A|'
    """

    name: str
    compute: Callable[..., Any]
    higher_is_better: bool | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


def _with_attributions(function: Callable[..., Any]) -> Callable[..., Any]:
    """Metrics called as ``f(model, inputs, attributions, target, **kw)`` (faithfulness, axioms)."""
    def compute(ctx: Context, **kwargs: Any) -> Any:
        return function(ctx.model, ctx.inputs, ctx.attributions, ctx.target, **kwargs)
    return compute


def _attributions_only(function: Callable[..., Any]) -> Callable[..., Any]:
    def compute(ctx: Context, **kwargs: Any) -> Any:
        return function(ctx.attributions, **kwargs)
    return compute


def _with_masks(function: Callable[..., Any]) -> Callable[..., Any]:
    def compute(ctx: Context, **kwargs: Any) -> Any:
        if ctx.masks is None:
            fail("masks", f"ground-truth masks for the localisation metric {function.__name__!r}", "None")
        return function(ctx.attributions, ctx.masks, **kwargs)
    return compute


def _with_explanation(function: Callable[..., Any]) -> Callable[..., Any]:
    """Metrics called as ``f(model, inputs, target, explain, attributions=..., **kw)``."""
    def compute(ctx: Context, **kwargs: Any) -> Any:
        return function(ctx.model, ctx.inputs, ctx.target, ctx.explain,
                        attributions=ctx.attributions, **kwargs)
    return compute


def _mprt(similarity: str) -> Callable[..., Any]:
    """Similarity after the full cascade (every layer randomised); lower is better."""
    def compute(ctx: Context, **kwargs: Any) -> Any:
        result = model_parameter_randomisation(
            ctx.model, ctx.inputs, ctx.target, ctx.explain, attributions=ctx.attributions, **kwargs)
        return result.similarity[similarity][-1]
    return compute


def _input_invariance(ctx: Context, **kwargs: Any) -> Any:
    return input_invariance(ctx.model, ctx.inputs, ctx.explain, ctx.target, **kwargs)


# (metric function, higher_is_better); a metric's grid name is its function's name
_WITH_ATTRIBUTIONS = (
    (pixel_flipping, False), (deletion, False), (insertion, True), (region_perturbation, True),
    (selectivity, False), (irof, True), (road, False), (abpc, True),
    (faithfulness_correlation, True), (faithfulness_estimate, True), (monotonicity, True),
    (monotonicity_correlation, True), (sensitivity_n, True), (average_drop, False),
    (average_increase, True), (mask_completeness, True), (completeness, False),
    (non_sensitivity, False),
)
_ATTRIBUTIONS_ONLY = ((sparseness, True), (complexity_entropy, False), (effective_complexity, False))
_MASKS = (pointing_game, attribution_localisation, relevance_rank_accuracy, relevance_mass_accuracy,
          roc_auc)
_WITH_EXPLANATION = (
    (max_sensitivity, False), (avg_sensitivity, False), (local_lipschitz_estimate, False),
    (continuity, False), (consistency, True), (relative_input_stability, False),
    (relative_output_stability, False), (top_k_intersection_under_perturbation, True),
    (rank_correlation_under_perturbation, True), (random_logit, False), (efficient_mprt, True),
)


def metric_functions() -> dict[str, tuple[str, Callable[..., Any]]]:
    """Each named metric's kind (``"attributions"``: calls the model on perturbed inputs;
    ``"explain"``: re-explains; ``"map"``: the map and masks only) and its function."""
    table: dict[str, tuple[str, Callable[..., Any]]] = {}
    for kind, items in (("attributions", _WITH_ATTRIBUTIONS), ("explain", _WITH_EXPLANATION),
                        ("map", _ATTRIBUTIONS_ONLY)):
        for function, _ in items:
            table[function.__name__] = (kind, function)
    table.update({function.__name__: ("map", function) for function in _MASKS})
    return table


def builtin_metrics() -> dict[str, Metric]:
    """Every metric the grid knows by name, with its direction."""
    table: dict[str, Metric] = {}
    function: Callable[..., Any]
    for function, higher in _WITH_ATTRIBUTIONS:
        table[function.__name__] = Metric(function.__name__, _with_attributions(function), higher)
    for function, higher in _ATTRIBUTIONS_ONLY:
        table[function.__name__] = Metric(function.__name__, _attributions_only(function), higher)
    for function in _MASKS:
        table[function.__name__] = Metric(function.__name__, _with_masks(function), True)
    for function, higher in _WITH_EXPLANATION:
        table[function.__name__] = Metric(function.__name__, _with_explanation(function), higher)
    table["mprt_spearman_abs"] = Metric("mprt_spearman_abs", _mprt("spearman_abs"), False)
    table["mprt_spearman"] = Metric("mprt_spearman", _mprt("spearman"), False)
    table["input_invariance"] = Metric("input_invariance", _input_invariance, True)
    return table


def as_metric(spec: Any) -> Metric:
    """A name, ``(name, kwargs)``, a :class:`Metric`, or ``f(context) -> scores``."""
    known = builtin_metrics()
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, str):
        if spec not in known:
            fail("metrics", "names from: " + ", ".join(sorted(known)), repr(spec))
        return known[spec]
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], dict):
        base = as_metric(spec[0])
        return Metric(base.name, base.compute, base.higher_is_better, {**base.kwargs, **spec[1]})
    if callable(spec):
        return Metric(getattr(spec, "__name__", "metric"), spec)
    fail("metrics", "metric names, (name, kwargs) pairs, Metric objects or f(context)", spec,
         TypeError)
