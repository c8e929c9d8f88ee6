"""Named metrics for :func:`veracity.metrics.evaluate`: one adapter per metric that maps the
shared evaluation context (model, inputs, target, the method's attributions computed once,
its explanation function, optional masks) to one score per example."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from torch import Tensor

from veracity._core.validate import fail


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


def _metric_function(name: str) -> Callable[..., Any]:
    return getattr(importlib.import_module("veracity.metrics"), name)


def _with_attributions(name: str) -> Callable[..., Any]:
    """Metrics called as ``f(model, inputs, attributions, target, **kw)`` (faithfulness, axioms)."""
    def compute(ctx: Context, **kwargs: Any) -> Any:
        return _metric_function(name)(ctx.model, ctx.inputs, ctx.attributions, ctx.target, **kwargs)
    return compute


def _attributions_only(name: str) -> Callable[..., Any]:
    def compute(ctx: Context, **kwargs: Any) -> Any:
        return _metric_function(name)(ctx.attributions, **kwargs)
    return compute


def _with_masks(name: str) -> Callable[..., Any]:
    def compute(ctx: Context, **kwargs: Any) -> Any:
        if ctx.masks is None:
            fail("masks", f"ground-truth masks for the localisation metric {name!r}", "None")
        return _metric_function(name)(ctx.attributions, ctx.masks, **kwargs)
    return compute


def _with_explanation(name: str) -> Callable[..., Any]:
    """Metrics called as ``f(model, inputs, target, explain, attributions=..., **kw)``."""
    def compute(ctx: Context, **kwargs: Any) -> Any:
        return _metric_function(name)(ctx.model, ctx.inputs, ctx.target, ctx.explain,
                                      attributions=ctx.attributions, **kwargs)
    return compute


def _mprt(similarity: str) -> Callable[..., Any]:
    """Similarity after the full cascade (every layer randomised); lower is better."""
    def compute(ctx: Context, **kwargs: Any) -> Any:
        result = _metric_function("model_parameter_randomisation")(
            ctx.model, ctx.inputs, ctx.target, ctx.explain, attributions=ctx.attributions, **kwargs)
        return result.similarity[similarity][-1]
    return compute


def _input_invariance(ctx: Context, **kwargs: Any) -> Any:
    return _metric_function("input_invariance")(ctx.model, ctx.inputs, ctx.explain, ctx.target, **kwargs)


_WITH_ATTRIBUTIONS = {
    "pixel_flipping": False, "deletion": False, "insertion": True, "region_perturbation": True,
    "selectivity": False, "irof": True, "road": False, "abpc": True,
    "faithfulness_correlation": True, "faithfulness_estimate": True, "monotonicity": True,
    "monotonicity_correlation": True, "sensitivity_n": True, "average_drop": False,
    "average_increase": True, "mask_completeness": True, "completeness": False,
    "non_sensitivity": False,
}
_ATTRIBUTIONS_ONLY = {"sparseness": True, "complexity_entropy": False, "effective_complexity": False}
_MASKS = ("pointing_game", "attribution_localisation", "relevance_rank_accuracy",
          "relevance_mass_accuracy", "roc_auc")
_WITH_EXPLANATION = {
    "max_sensitivity": False, "avg_sensitivity": False, "local_lipschitz_estimate": False,
    "continuity": False, "consistency": True, "relative_input_stability": False,
    "relative_output_stability": False, "top_k_intersection_under_perturbation": True,
    "rank_correlation_under_perturbation": True, "random_logit": False, "efficient_mprt": True,
}


def builtin_metrics() -> dict[str, Metric]:
    """Every metric the grid knows by name, with its direction."""
    table: dict[str, Metric] = {}
    for name, higher in _WITH_ATTRIBUTIONS.items():
        table[name] = Metric(name, _with_attributions(name), higher)
    for name, higher in _ATTRIBUTIONS_ONLY.items():
        table[name] = Metric(name, _attributions_only(name), higher)
    for name in _MASKS:
        table[name] = Metric(name, _with_masks(name), True)
    for name, higher in _WITH_EXPLANATION.items():
        table[name] = Metric(name, _with_explanation(name), higher)
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
