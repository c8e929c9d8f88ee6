"""Infidelity and max-sensitivity of Saliency, IG, Input x Gradient and SmoothGrad on the ReLU
digits CNN and its smooth variants (shared by checks 6 and 7; cached per process)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import torch
from torch import Tensor, nn

from reproductions._common import accuracy, digits, digits_cnn
from veracity.attr import InputXGradient, IntegratedGradients, NoiseTunnel, Saliency
from veracity.metrics import infidelity, sensitivity_max
from veracity.training import smooth_model

N_IMAGES = 100
INFIDELITY_SAMPLES = 50
NOISE = 0.2
SENS_RADIUS = 0.1
SENS_SAMPLES = 10
SG_SAMPLES = 20
SG_SIGMA = 0.2
VARIANTS = ("relu", "smooth_trained", "smooth_converted")


def model_variant(seed: int, variant: str) -> nn.Module:
    """``relu``: the trained digits CNN; ``smooth_trained``: Softplus(10) + LSE(10) trained from
    scratch; ``smooth_converted``: the ReLU model converted by :func:`smooth_model` (no retraining)."""
    if variant == "relu":
        return digits_cnn(seed)
    if variant == "smooth_trained":
        return digits_cnn(seed, smooth=True)
    return smooth_model(digits_cnn(seed), beta=10.0, r=10.0)


def explainers(model: nn.Module, seed: int) -> dict[str, Callable[..., Any]]:
    """Captum-style ``explain(inputs, target=...)`` per method (SmoothGrad reseeded per call)."""
    def saliency(inputs: Any, target: Any = None) -> Any:
        return Saliency(model).attribute(inputs, target=target, abs=False)

    def ig(inputs: Any, target: Any = None) -> Any:
        return IntegratedGradients(model).attribute(inputs, target=target, n_steps=50)

    def ixg(inputs: Any, target: Any = None) -> Any:
        return InputXGradient(model).attribute(inputs, target=target)

    def smoothgrad(inputs: Any, target: Any = None) -> Any:
        return NoiseTunnel(Saliency(model)).attribute(inputs, nt_samples=SG_SAMPLES, stdevs=SG_SIGMA, target=target,
                                                      abs=False, generator=torch.Generator().manual_seed(seed))

    return {"Saliency": saliency, "IG": ig, "InputXGradient": ixg, "SmoothGrad": smoothgrad}


def gaussian_perturbation(seed: int) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    generator = torch.Generator().manual_seed(seed)

    def perturb(inputs: Tensor) -> tuple[Tensor, Tensor]:
        noise = NOISE * torch.randn(inputs.shape, generator=generator)
        return noise, inputs - noise

    return perturb


@lru_cache(maxsize=None)
def scores(seed: int, variant: str) -> dict[str, Any]:
    """Mean infidelity (Gaussian I, sigma 0.2, 50 samples, normalize=True) and mean
    max-sensitivity (r = 0.1, 10 samples) per method over the first 100 test digits."""
    data = digits()
    x, y = data.test_x[:N_IMAGES], data.test_y[:N_IMAGES]
    model = model_variant(seed, variant)
    result: dict[str, Any] = {"accuracy": accuracy(model, data), "infidelity": {}, "sensitivity_max": {}}
    for name, explain in explainers(model, seed).items():
        attributions = explain(x, target=y)
        result["infidelity"][name] = float(infidelity(model, gaussian_perturbation(seed), x, attributions, target=y,
                                                      n_perturb_samples=INFIDELITY_SAMPLES, normalize=True).mean())
        torch.manual_seed(seed)  # sensitivity_max draws its noise from the global generator, as Captum does
        result["sensitivity_max"][name] = float(sensitivity_max(explain, x, perturb_radius=SENS_RADIUS,
                                                                n_perturb_samples=SENS_SAMPLES, target=y).mean())
    return result
