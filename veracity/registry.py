"""Every attribution method and every metric, declared once with what it claims.

The CLI, the web app and the axiom tests list methods and metrics from here. A method entry
gives its family (the subpackage of :mod:`veracity.attr`), its scope, its claims (completeness,
a closed form on linear models, exact zeros for an ignored feature, batch invariance) and how
it is called (chunk argument, kind of baseline, ``generator`` or not). A metric entry gives its
category, the better direction under its defaults, and what a caller must supply.

Claims only: how to make a call small and deterministic in a test (step counts, seeds, masks,
which layer) is a fixture in the tests, keyed by these names; ``tests/test_registry.py`` fails
when a method has none, and when a public name of :mod:`veracity.attr` / :mod:`veracity.metrics`
is neither an entry nor listed, with the reason, in :data:`NON_METHODS` / :data:`NON_METRICS`.

Example:
    >>> from veracity import registry
    >>> registry.get("IntegratedGradients").chunk_arg
    'internal_batch_size'
    >>> [m.name for m in registry.methods("gradient", completeness=True)]
    ['IntegratedGradients', 'DeepLift', 'DeepLiftShap']
    >>> registry.get("insertion").better, registry.get("insertion").category
    ('higher', 'faithfulness')
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from typing import Any, Callable

from veracity import attr as _attr
from veracity import metrics as _metrics

FAMILIES = ("gradient", "perturbation", "layer", "neuron", "cam", "lrp")
SCOPES = ("input", "layer", "neuron")
BASELINE_KINDS = ("none", "single", "distribution")
CHUNK_ARGS = ("internal_batch_size", "perturbations_per_eval", "nt_samples_batch_size")
CLOSED_FORMS = ("|W|", "W", "W*x", "W*(x-baseline)")
CATEGORIES = ("faithfulness", "robustness", "localisation", "complexity", "axiomatic", "randomisation", "similarity")
NEEDS = ("model", "inputs", "attributions", "explain_func", "masks", "reference", "other_targets",
         "train_func", "layer", "perturb_func")


@dataclass(frozen=True)
class MethodEntry:
    """An attribution class and its claims.

    ``scope``: attributions of the ``"input"``, of a ``"layer"``'s units, or the input's for
    one ``"neuron"``. ``closed_form`` on ``f(x) = W x + b`` with default arguments, from
    :data:`CLOSED_FORMS` (mean baseline for a distribution). ``completeness``: the sum is
    ``F(x) - F(baseline)`` (neuron scope: the neuron's difference). ``dummy_exact``: an ignored
    feature gets exactly 0. ``batch_invariant``: a batch gives each example's result alone.
    ``stochastic``: takes ``generator=``. ``chunk_arg``: sets the points per model call.

    Example:
        >>> MethodEntry("Saliency", _attr.Saliency, "gradient", "input").deterministic
        True
    """

    name: str
    cls: type
    family: str
    scope: str
    stochastic: bool = False
    completeness: bool = False
    closed_form: str | None = None
    dummy_exact: bool = False
    batch_invariant: bool = True
    chunk_arg: str | None = None
    baseline_kind: str = "none"

    def __post_init__(self) -> None:
        for key, allowed in (("family", FAMILIES), ("scope", SCOPES), ("baseline_kind", BASELINE_KINDS),
                             ("chunk_arg", (None, *CHUNK_ARGS)), ("closed_form", (None, *CLOSED_FORMS))):
            _check(self.name, key, getattr(self, key), allowed)

    @property
    def deterministic(self) -> bool:
        """The same inputs always give the same attributions (no ``generator``)."""
        return not self.stochastic

    @property
    def takes_layer(self) -> bool:
        """The constructor is ``cls(forward_func, layer, ...)``."""
        return self.scope != "input" or self.family == "cam"


@dataclass(frozen=True)
class MetricEntry:
    """A metric of :mod:`veracity.metrics`: ``better`` is ``"higher"``, ``"lower"`` or None
    (similarities: it depends on the question); ``needs`` (from :data:`NEEDS`) is what a caller
    supplies, ``reference`` being a second map to compare with.

    Example:
        >>> MetricEntry("sparseness", _metrics.sparseness, "complexity", "higher", ("attributions",)).needs
        ('attributions',)
    """

    name: str
    function: Callable[..., Any]
    category: str
    better: str | None
    needs: tuple[str, ...]

    def __post_init__(self) -> None:
        for key, value, allowed in (("category", self.category, CATEGORIES),
                                    ("better", self.better, ("higher", "lower", None)),
                                    *(("needs", need, NEEDS) for need in self.needs)):
            _check(self.name, key, value, allowed)


def _check(name: str, key: str, value: object, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"registry entry {name!r}: `{key}` must be one of {allowed}, got {value!r}")


_IBS, _PPE, _NT = CHUNK_ARGS


def _method(name: str, family: str, scope: str = "input", **claims: Any) -> MethodEntry:
    claims.setdefault("batch_invariant", not claims.get("stochastic", False))
    return MethodEntry(name, getattr(_attr, name), family, scope, **claims)


_EXACT: dict[str, Any] = {"dummy_exact": True}
_SEEDED: dict[str, Any] = {"stochastic": True}
_COMPLETE: dict[str, Any] = {"completeness": True}
_IG_LIKE: dict[str, Any] = {"chunk_arg": _IBS, "baseline_kind": "single"}
_SHAP_LIKE: dict[str, Any] = {"chunk_arg": _IBS, "baseline_kind": "distribution"}
_ABLATION: dict[str, Any] = {"chunk_arg": _PPE, "baseline_kind": "single"}
_DELTA: dict[str, Any] = {"closed_form": "W*(x-baseline)"}

_METHODS = [
    _method("Saliency", "gradient", closed_form="|W|", **_EXACT),
    _method("InputXGradient", "gradient", closed_form="W*x", **_EXACT),
    _method("IntegratedGradients", "gradient", **_IG_LIKE, **_COMPLETE, **_DELTA, **_EXACT),
    _method("GradientShap", "gradient", **_SHAP_LIKE, **_SEEDED, **_DELTA, **_EXACT),
    _method("NoiseTunnel", "gradient", chunk_arg=_NT, **_SEEDED, **_EXACT),
    _method("DeepLift", "gradient", baseline_kind="single", **_COMPLETE, **_DELTA, **_EXACT),
    _method("DeepLiftShap", "gradient", **_SHAP_LIKE, **_COMPLETE, **_DELTA, **_EXACT),
    _method("SplitIntegratedGradients", "gradient", **_IG_LIKE, **_EXACT),
    _method("GuidedIntegratedGradients", "gradient", baseline_kind="single", **_DELTA, **_EXACT),
    _method("BlurIntegratedGradients", "gradient", chunk_arg=_IBS, **_EXACT),
    _method("GeometricallyGuidedIntegratedGradients", "gradient", **_IG_LIKE, **_DELTA, **_EXACT),
    _method("GuidedBackprop", "gradient", closed_form="W", **_EXACT),
    _method("Deconvolution", "gradient", closed_form="W", **_EXACT),
    _method("FeatureAblation", "perturbation", **_ABLATION, **_EXACT),
    _method("Occlusion", "perturbation", **_ABLATION, **_EXACT),
    _method("ShapleyValues", "perturbation", **_ABLATION, **_EXACT),
    _method("ShapleyValueSampling", "perturbation", **_ABLATION, **_SEEDED, **_EXACT),
    _method("FeaturePermutation", "perturbation", chunk_arg=_PPE, **_SEEDED, **_EXACT),
    _method("KernelShap", "perturbation", **_ABLATION, **_SEEDED),
    _method("Lime", "perturbation", **_ABLATION, **_SEEDED),
    _method("RISE", "perturbation", **_ABLATION, **_SEEDED),
    *(_method(name, "layer", "layer") for name in ("LayerActivation", "LayerGradientXActivation")),
    _method("LayerIntegratedGradients", "layer", "layer", **_IG_LIKE, **_COMPLETE),
    _method("LayerConductance", "layer", "layer", **_IG_LIKE, **_COMPLETE),
    _method("InternalInfluence", "layer", "layer", **_IG_LIKE),
    _method("LayerDeepLift", "layer", "layer", baseline_kind="single", **_COMPLETE),
    _method("LayerDeepLiftShap", "layer", "layer", **_SHAP_LIKE, **_COMPLETE),
    _method("LayerGradientShap", "layer", "layer", **_SHAP_LIKE, **_SEEDED),
    _method("LayerFeatureAblation", "layer", "layer", **_ABLATION),
    _method("LayerFeaturePermutation", "layer", "layer", chunk_arg=_PPE, **_SEEDED),
    _method("NeuronGradient", "neuron", "neuron"),
    _method("NeuronIntegratedGradients", "neuron", "neuron", **_IG_LIKE, **_COMPLETE),
    _method("NeuronConductance", "neuron", "neuron", **_IG_LIKE),
    _method("NeuronGradientShap", "neuron", "neuron", **_SHAP_LIKE, **_SEEDED),
    _method("NeuronDeepLift", "neuron", "neuron", baseline_kind="single", **_COMPLETE),
    _method("NeuronDeepLiftShap", "neuron", "neuron", **_SHAP_LIKE, **_COMPLETE),
    *(_method(name, "neuron", "neuron") for name in ("NeuronGuidedBackprop", "NeuronDeconvolution")),
    _method("NeuronFeatureAblation", "neuron", "neuron", **_ABLATION),
    *(_method(name, "cam", "layer") for name in ("LayerGradCam", "LayerGradCamPlusPlus", "LayerXGradCam",
                                                 "LayerHiResCam", "LayerCam", "LayerEigenCam")),
    _method("LayerScoreCam", "cam", "layer", **_ABLATION),
    _method("LayerAblationCam", "cam", "layer", chunk_arg=_PPE),
    _method("LayerMabCam", "cam", "layer"),
    _method("GuidedGradCam", "cam", "input"),
    _method("LRP", "lrp", closed_form="W*x", **_EXACT),
    _method("LayerLRP", "lrp", "layer"),
]

_BASES = "base class of the attribution classes"
_LIME = "building block of Lime / KernelShap (samplers, kernels, surrogate models)"
_EMBEDDING = "interpretable-embedding helper for text models (Captum's names)"
_LLM = ("wrapper of a perturbation/layer method for language models: takes an InterpretableInput and a "
        "target text, not tensors (tests/attr/llm)")
_LRP_RULE = "LRP rule class (Captum's name), set as module.rule or used in a composite"
NON_METHODS: dict[str, str] = {
    **{name: _BASES for name in ("Attribution", "GradientAttribution", "PerturbationAttribution",
                                 "LayerAttribution", "NeuronAttribution")},
    "LimeBase": "generic surrogate framework that needs user transforms; Lime is its method",
    "SplitResult": "result type of SplitIntegratedGradients",
    **{name: _LIME for name in ("BernoulliSampler", "ExpKernelSimilarity", "KernelShapSampler",
                                "ShapleyKernelWeight", "TorchLasso", "TorchLinearRegression",
                                "TorchRidge", "fit_surrogates", "get_exp_kernel_similarity_function")},
    **{name: _LRP_RULE for name in ("PropagationRule", "EpsilonRule", "GammaRule", "Alpha1_Beta0_Rule",
                                    "IdentityRule")},
    **{name: _EMBEDDING for name in ("InterpretableEmbeddingBase", "ModelInputWrapper",
                                     "TokenReferenceBase", "configure_interpretable_embedding_layer",
                                     "remove_interpretable_embedding_layer")},
    **{name: "streaming statistics of attributions (veracity.attr.summary), not a method"
       for name in ("ClassSummarizer", "CommonStats", "Count", "MSE", "Max", "Mean", "Min", "StatValue",
                    "StdDev", "Sum", "Summarizer", "SummarizerSingleTensor", "Var")},
    "visualization": "module of figures (Captum's captum.attr.visualization), not a method",
    "DataLoaderAttribution": "wraps FeatureAblation to attribute a metric over a DataLoader: its attribute "
                             "takes a DataLoader, not inputs (tests/compat/test_dataloader_attribution.py)",
    "ProductBaselines": "a baseline sampler (Cartesian product of per-feature options), not a method",
    **{name: _LLM for name in ("LLMAttribution", "LLMGradientAttribution", "RemoteLLMAttribution")},
    **{name: "interpretable input of veracity.attr.llm (what a feature of a prompt is), not a method"
       for name in ("InterpretableInput", "TextTemplateInput", "TextTokenInput", "ImageMaskInput")},
    "LLMAttributionResult": "result type of the LLM attribution wrappers",
    **{name: "server adapter of RemoteLLMAttribution, not a method"
       for name in ("RemoteLLMProvider", "OpenAICompatibleProvider", "VLLMProvider")},
}


def _metric(name: str, category: str, better: str | None, *needs: str) -> MetricEntry:
    return MetricEntry(name, getattr(_metrics, name), category, better, needs)


_WITH_ATTRIBUTIONS, _WITH_EXPLAIN = ("model", "inputs", "attributions"), ("model", "inputs", "explain_func")
_MAPS, _PAIR = ("attributions", "masks"), ("attributions", "reference")

_METRICS = [
    *(_metric(name, "faithfulness", better, *_WITH_ATTRIBUTIONS) for name, better in (
        ("pixel_flipping", "lower"), ("deletion", "lower"), ("insertion", "higher"),
        ("region_perturbation", "higher"), ("selectivity", "lower"), ("irof", "higher"),
        ("road", "lower"), ("abpc", "higher"), ("monotonicity", "higher"),
        ("faithfulness_correlation", "higher"), ("faithfulness_estimate", "higher"),
        ("monotonicity_correlation", "higher"), ("sensitivity_n", "higher"),
        ("average_drop", "lower"), ("average_increase", "higher"),
        ("mask_completeness", "higher"), ("sufficiency", "higher"))),
    _metric("infidelity", "faithfulness", "lower", *_WITH_ATTRIBUTIONS, "perturb_func"),
    _metric("mask_soundness", "faithfulness", "higher", *_WITH_EXPLAIN, "other_targets"),
    *(_metric(name, "axiomatic", "lower", *_WITH_ATTRIBUTIONS) for name in ("completeness", "non_sensitivity")),
    _metric("input_invariance", "axiomatic", "higher", *_WITH_EXPLAIN),
    *(_metric(name, "robustness", better, *_WITH_EXPLAIN) for name, better in (
        ("max_sensitivity", "lower"), ("avg_sensitivity", "lower"),
        ("local_lipschitz_estimate", "lower"), ("continuity", "lower"), ("consistency", "higher"),
        ("relative_input_stability", "lower"), ("relative_output_stability", "lower"),
        ("top_k_intersection_under_perturbation", "higher"),
        ("rank_correlation_under_perturbation", "higher"))),
    _metric("relative_representation_stability", "robustness", "lower", *_WITH_EXPLAIN, "layer"),
    _metric("sensitivity_max", "robustness", "lower", "inputs", "explain_func"),
    *(_metric(name, "complexity", better, "attributions") for name, better in (
        ("sparseness", "higher"), ("complexity_entropy", "lower"), ("effective_complexity", "lower"))),
    *(_metric(name, "localisation", "higher", *_MAPS) for name in (
        "pointing_game", "attribution_localisation", "top_k_intersection",
        "relevance_rank_accuracy", "relevance_mass_accuracy", "roc_auc", "focus")),
    # four measures (accuracy, recall, precision: higher; false-positive rate: lower)
    _metric("five_band_score", "localisation", None, *_MAPS),
    *(_metric(name, "randomisation", better, *_WITH_EXPLAIN) for name, better in (
        ("model_parameter_randomisation", "lower"), ("random_logit", "lower"),
        ("smooth_mprt", "lower"), ("efficient_mprt", "higher"))),
    _metric("data_randomisation_test", "randomisation", "lower", *_WITH_EXPLAIN, "train_func"),
    *(_metric(name, "similarity", None, *_PAIR) for name in (
        "pearson", "spearman", "spearman_abs", "ssim", "hog_similarity",
        "gradient_histogram_correlation", "top_k_overlap")),
]

_GRID, _HELPER = "evaluation grid machinery (evaluate, its table, cells, adapters)", "helper, not a score"
NON_METRICS: dict[str, str] = {
    **{name: _GRID for name in ("evaluate", "EvaluationTable", "Cell", "Metric", "Context",
                                "builtin_metrics", "bootstrap_interval")},
    "CurveResult": "result type of the perturbation-curve metrics",
    "FiveBandResult": "result type of five_band_score",
    "RandomisationResult": "result type of the randomisation checks",
    **{name: _HELPER for name in ("randomisable_layers", "randomise_layer", "randomised_models",
                                  "smoothed_explain_func", "infidelity_perturb_func_decorator",
                                  "discrete_entropy", "rank", "hog", "against_reference")},
}

_BY_NAME: dict[str, MethodEntry | MetricEntry] = {}
_ENTRIES: list[MethodEntry | MetricEntry] = [*_METHODS, *_METRICS]
for _entry in _ENTRIES:
    if _entry.name in _BY_NAME:
        raise ValueError(f"registry: {_entry.name!r} is declared twice")
    _BY_NAME[_entry.name] = _entry


def _select(entries: list, key: str, value: object, filters: dict[str, Any], kind: type) -> list:
    known = {f.name for f in fields(kind)} | {"deterministic", "takes_layer"}
    unknown = sorted(set(filters) - known)
    if unknown:
        raise TypeError(f"unknown filter(s) {unknown}; filter on: {sorted(known)}")
    return [e for e in entries if (value is None or getattr(e, key) == value)
            and all(getattr(e, k) == v for k, v in filters.items())]


def methods(family: str | None = None, **filters: Any) -> list[MethodEntry]:
    """Method entries in declaration order, optionally of one ``family``, matching ``filters``
    (field or property name = value, e.g. ``scope="input"``, ``stochastic=False``).

    Example:
        >>> [m.name for m in methods("cam", scope="input")]
        ['GuidedGradCam']
    """
    if family is not None:
        _check("methods()", "family", family, FAMILIES)
    return _select(_METHODS, "family", family, filters, MethodEntry)


def metrics(category: str | None = None, **filters: Any) -> list[MetricEntry]:
    """Metric entries in declaration order, optionally of one ``category``.

    Example:
        >>> [m.name for m in metrics("complexity", better="lower")]
        ['complexity_entropy', 'effective_complexity']
    """
    if category is not None:
        _check("metrics()", "category", category, CATEGORIES)
    return _select(_METRICS, "category", category, filters, MetricEntry)


def get(name: str) -> MethodEntry | MetricEntry:
    """The method or metric entry called ``name``; ``KeyError`` naming close matches otherwise.

    Example:
        >>> get("LayerConductance").scope
        'layer'
    """
    if name not in _BY_NAME:
        close = difflib.get_close_matches(name, list(_BY_NAME), n=3)
        raise KeyError(f"no method or metric named {name!r}" + (f"; did you mean {close}?" if close else ""))
    return _BY_NAME[name]


__all__ = ["BASELINE_KINDS", "CATEGORIES", "CHUNK_ARGS", "CLOSED_FORMS", "FAMILIES", "NEEDS", "NON_METHODS",
           "NON_METRICS", "SCOPES", "MethodEntry", "MetricEntry", "get", "methods", "metrics"]
