"""Every input-space method with the arguments that make it deterministic and comparable.

A new method is one entry here; the axiom tests then cover it. ``SPECS`` are the gradient
methods (closed forms, completeness and finite differences apply to them); ``ALL_SPECS`` adds
the perturbation family for the properties every method must have: batch == per example,
chunk and budget invariance, seeds, dummy features, no mutation, hooks removed, bad input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from veracity import attr


@dataclass
class Spec:
    name: str
    make: Callable[[Any], Any]
    kwargs: Callable[[torch.Tensor], dict] = field(default_factory=lambda: (lambda x: {}))
    completeness: bool = False  # sums to F(x) - F(baseline) on any supported network
    baseline_kind: str = "none"  # "none", "single" (per example) or "distribution"
    chunk_arg: str | None = None
    stochastic: bool = False
    linear_closed_form: bool = True  # W * (x - mean baseline) etc. on a linear model
    dummy_exact: bool = True  # a feature the model ignores gets exactly 0


def _seed() -> torch.Generator:
    return torch.Generator().manual_seed(7)


def _background(x: torch.Tensor) -> torch.Tensor:
    return torch.linspace(-0.5, 0.5, 4 * x[0].numel()).reshape(4, *x.shape[1:]).to(x.dtype)


SPECS = [
    Spec("Saliency", attr.Saliency),
    Spec("InputXGradient", attr.InputXGradient),
    Spec("IntegratedGradients", attr.IntegratedGradients,
         lambda x: {"n_steps": 64, "baselines": 0.1 * torch.ones_like(x)},
         completeness=True, baseline_kind="single", chunk_arg="internal_batch_size"),
    Spec("IntegratedGradients-riemann_trapezoid", attr.IntegratedGradients,
         lambda x: {"n_steps": 400, "method": "riemann_trapezoid"}, completeness=True,
         baseline_kind="single", chunk_arg="internal_batch_size"),
    Spec("GradientShap", attr.GradientShap,
         lambda x: {"baselines": _background(x), "n_samples": 12, "stdevs": 0.05, "generator": _seed()},
         baseline_kind="distribution", chunk_arg="internal_batch_size", stochastic=True),
    Spec("NoiseTunnel-Saliency", lambda m: attr.NoiseTunnel(attr.Saliency(m)),
         lambda x: {"nt_samples": 6, "stdevs": 0.1, "generator": _seed()},
         chunk_arg="nt_samples_batch_size", stochastic=True),
    Spec("NoiseTunnel-IG-vargrad", lambda m: attr.NoiseTunnel(attr.IntegratedGradients(m)),
         lambda x: {"nt_samples": 4, "stdevs": 0.1, "nt_type": "vargrad", "n_steps": 8,
                    "generator": _seed()},
         chunk_arg="nt_samples_batch_size", stochastic=True),
    Spec("DeepLift", attr.DeepLift, lambda x: {"baselines": 0.1 * torch.ones_like(x)},
         completeness=True, baseline_kind="single"),
    Spec("DeepLiftShap", attr.DeepLiftShap, lambda x: {"baselines": _background(x)},
         completeness=True, baseline_kind="distribution", chunk_arg="internal_batch_size"),
    Spec("SplitIntegratedGradients", attr.SplitIntegratedGradients, lambda x: {"n_steps": 30},
         chunk_arg="internal_batch_size", linear_closed_form=False),
    Spec("GuidedBackprop", attr.GuidedBackprop),
    Spec("Deconvolution", attr.Deconvolution),
]



def _few_groups(x: torch.Tensor) -> torch.Tensor:
    """Feature groups 0..7: the first seven elements alone, the rest together (exact Shapley fits)."""
    return torch.arange(x[0].numel()).clamp(max=7).reshape(1, *x.shape[1:])


def _window(x: torch.Tensor) -> tuple[int, ...]:
    return (1,) * (x.dim() - 1)


PERTURBATION_SPECS = [
    Spec("FeatureAblation", attr.FeatureAblation, chunk_arg="perturbations_per_eval"),
    Spec("FeatureAblation-groups", attr.FeatureAblation,
         lambda x: {"feature_mask": _few_groups(x), "baselines": 0.1},
         chunk_arg="perturbations_per_eval"),
    Spec("Occlusion", attr.Occlusion, lambda x: {"sliding_window_shapes": _window(x)},
         chunk_arg="perturbations_per_eval"),
    Spec("ShapleyValues", attr.ShapleyValues, lambda x: {"feature_mask": _few_groups(x)},
         chunk_arg="perturbations_per_eval"),
    Spec("ShapleyValueSampling", attr.ShapleyValueSampling,
         lambda x: {"feature_mask": _few_groups(x), "n_samples": 3, "generator": _seed()},
         chunk_arg="perturbations_per_eval", stochastic=True),
    Spec("FeaturePermutation", attr.FeaturePermutation, lambda x: {"generator": _seed()},
         chunk_arg="perturbations_per_eval", stochastic=True),
    Spec("KernelShap", attr.KernelShap,
         lambda x: {"feature_mask": _few_groups(x), "n_samples": 40, "generator": _seed()},
         chunk_arg="perturbations_per_eval", stochastic=True, dummy_exact=False),
    Spec("Lime", attr.Lime,
         lambda x: {"feature_mask": _few_groups(x), "n_samples": 40, "generator": _seed()},
         chunk_arg="perturbations_per_eval", stochastic=True, dummy_exact=False),
    Spec("RISE", attr.RISE, lambda x: {"n_masks": 16, "generator": _seed()},
         chunk_arg="perturbations_per_eval", stochastic=True, dummy_exact=False),
]
for _spec in PERTURBATION_SPECS:
    _spec.linear_closed_form = False

ALL_SPECS = SPECS + PERTURBATION_SPECS
BY_NAME = {s.name: s for s in ALL_SPECS}
