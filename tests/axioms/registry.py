"""Test fixtures for every input-scope method of :mod:`veracity.registry`.

The claims (completeness, closed form, dummy features, chunk argument, baseline kind, seeds)
come from the library registry; this module only says how to build and call each method so
that a test is small, deterministic and comparable. A method without an entry in ``FIXTURES``
gets the default fixture ``cls(model).attribute(x, target=...)``; a method listed there gets
one test case per fixture (e.g. two integration rules, two wrapped methods for NoiseTunnel).

``SPECS`` are the gradient family; ``ALL_SPECS`` adds the perturbation family. The methods
that take a layer (layer, neuron, CAM) are covered by ``tests/attr/layer/registry.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from veracity import attr, registry
from veracity.registry import MethodEntry


def _no_kwargs(x: torch.Tensor) -> dict:
    return {}


@dataclass
class Spec:
    """One test case: the registry entry ``method`` built by ``make`` and called with ``kwargs(x)``."""

    name: str  # the test id
    method: str  # the registry name
    make: Callable[[Any], Any] | None = None  # model -> attribution object; None: cls(model)
    kwargs: Callable[[torch.Tensor], dict] = field(default=_no_kwargs)

    def __post_init__(self) -> None:
        self.claims: MethodEntry = registry.get(self.method)
        if self.make is None:
            self.make = self.claims.cls

    def __getattr__(self, key: str) -> Any:  # the claims: spec.completeness, spec.chunk_arg, ...
        if key == "claims":
            raise AttributeError(key)
        return getattr(self.claims, key)


def _seed() -> torch.Generator:
    return torch.Generator().manual_seed(7)


def _background(x: torch.Tensor) -> torch.Tensor:
    return torch.linspace(-0.5, 0.5, 4 * x[0].numel()).reshape(4, *x.shape[1:]).to(x.dtype)


def _few_groups(x: torch.Tensor) -> torch.Tensor:
    """Feature groups 0..7: the first seven elements alone, the rest together (exact Shapley fits)."""
    return torch.arange(x[0].numel()).clamp(max=7).reshape(1, *x.shape[1:])


def _window(x: torch.Tensor) -> tuple[int, ...]:
    return (1,) * (x.dim() - 1)


FIXTURES: dict[str, list[Spec]] = {
    "IntegratedGradients": [
        Spec("IntegratedGradients", "IntegratedGradients",
             kwargs=lambda x: {"n_steps": 64, "baselines": 0.1 * torch.ones_like(x)}),
        Spec("IntegratedGradients-riemann_trapezoid", "IntegratedGradients",
             kwargs=lambda x: {"n_steps": 400, "method": "riemann_trapezoid"}),
    ],
    "GradientShap": [Spec("GradientShap", "GradientShap", kwargs=lambda x: {
        "baselines": _background(x), "n_samples": 12, "stdevs": 0.05, "generator": _seed()})],
    "NoiseTunnel": [
        Spec("NoiseTunnel-Saliency", "NoiseTunnel", lambda m: attr.NoiseTunnel(attr.Saliency(m)),
             lambda x: {"nt_samples": 6, "stdevs": 0.1, "generator": _seed()}),
        Spec("NoiseTunnel-IG-vargrad", "NoiseTunnel", lambda m: attr.NoiseTunnel(attr.IntegratedGradients(m)),
             lambda x: {"nt_samples": 4, "stdevs": 0.1, "nt_type": "vargrad", "n_steps": 8,
                        "generator": _seed()}),
    ],
    "DeepLift": [Spec("DeepLift", "DeepLift", kwargs=lambda x: {"baselines": 0.1 * torch.ones_like(x)})],
    "DeepLiftShap": [Spec("DeepLiftShap", "DeepLiftShap", kwargs=lambda x: {"baselines": _background(x)})],
    "SplitIntegratedGradients": [
        Spec("SplitIntegratedGradients", "SplitIntegratedGradients", kwargs=lambda x: {"n_steps": 30})],
    "GuidedIntegratedGradients": [Spec("GuidedIntegratedGradients", "GuidedIntegratedGradients",
                                       kwargs=lambda x: {"n_steps": 20, "baselines": 0.1 * torch.ones_like(x)})],
    "BlurIntegratedGradients": [
        Spec("BlurIntegratedGradients", "BlurIntegratedGradients", kwargs=lambda x: {"n_steps": 32, "max_sigma": 3.0})],
    "GeometricallyGuidedIntegratedGradients": [Spec("GeometricallyGuidedIntegratedGradients",
                                                    "GeometricallyGuidedIntegratedGradients",
                                                    kwargs=lambda x: {"n_steps": 16,
                                                                      "baselines": 0.1 * torch.ones_like(x)})],
    "FeatureAblation": [
        Spec("FeatureAblation", "FeatureAblation"),
        Spec("FeatureAblation-groups", "FeatureAblation",
             kwargs=lambda x: {"feature_mask": _few_groups(x), "baselines": 0.1}),
    ],
    "Occlusion": [Spec("Occlusion", "Occlusion", kwargs=lambda x: {"sliding_window_shapes": _window(x)})],
    "ShapleyValues": [Spec("ShapleyValues", "ShapleyValues", kwargs=lambda x: {"feature_mask": _few_groups(x)})],
    "ShapleyValueSampling": [Spec("ShapleyValueSampling", "ShapleyValueSampling", kwargs=lambda x: {
        "feature_mask": _few_groups(x), "n_samples": 3, "generator": _seed()})],
    "FeaturePermutation": [
        Spec("FeaturePermutation", "FeaturePermutation", kwargs=lambda x: {"generator": _seed()})],
    "KernelShap": [Spec("KernelShap", "KernelShap", kwargs=lambda x: {
        "feature_mask": _few_groups(x), "n_samples": 40, "generator": _seed()})],
    "Lime": [Spec("Lime", "Lime", kwargs=lambda x: {
        "feature_mask": _few_groups(x), "n_samples": 40, "generator": _seed()})],
    "RISE": [Spec("RISE", "RISE", kwargs=lambda x: {"n_masks": 16, "generator": _seed()})],
}


def _specs(family: str) -> list[Spec]:
    return [spec for entry in registry.methods(family, takes_layer=False)
            for spec in FIXTURES.get(entry.name, [Spec(entry.name, entry.name)])]


SPECS = _specs("gradient")
ALL_SPECS = SPECS + _specs("perturbation") + _specs("lrp")
BY_NAME = {s.name: s for s in ALL_SPECS}
