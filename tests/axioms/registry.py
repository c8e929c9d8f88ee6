"""Every gradient method with the arguments that make it deterministic and comparable.

A new method is one entry here; the axiom tests then cover it.
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

BY_NAME = {s.name: s for s in SPECS}
