"""Check 18 (Kokhlikyan et al. 2020, Captum): API invariants on the digits CNN.

Batch versus one-example-at-a-time attributions agree (<= 1e-6) for Saliency, IG,
Occlusion and FeatureAblation (in float64: in float32 the convolutions of a batch and of one
example round differently, a few 1e-6 on logits of size ~10, also reported);
``perturbations_per_eval`` 1 and 8 give the same Occlusion and FeatureAblation results;
NoiseTunnel with ``stdevs=0`` equals the wrapped method; the infidelity of the exact
explanation of a linear model (its gradient ``w`` for ``f(x) = w . x``) is 0 up to rounding.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from reproductions._common import digits, digits_cnn, out_dir, save
from reproductions._seeds import table
from veracity.attr import FeatureAblation, IntegratedGradients, NoiseTunnel, Occlusion, Saliency
from veracity.metrics import infidelity

NAME = "captum_invariants"
N_IMAGES = 20


def _gap(a: Tensor, b: Tensor) -> float:
    return float((a - b).abs().max())


def _methods(model: nn.Module) -> dict[str, Callable[[Tensor, Tensor], Tensor]]:
    return {
        "Saliency": lambda a, t: Saliency(model).attribute(a, target=t),
        "IntegratedGradients": lambda a, t: IntegratedGradients(model).attribute(a, target=t, n_steps=50),
        "Occlusion": lambda a, t: Occlusion(model).attribute(a, sliding_window_shapes=(1, 2, 2), target=t),
        "FeatureAblation": lambda a, t: FeatureAblation(model).attribute(a, target=t),
    }


def _batch_gap(explain: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor) -> float:
    whole = explain(x, y)
    alone = torch.cat([explain(x[i:i + 1], y[i:i + 1]) for i in range(len(x))])
    return _gap(whole, alone)


def run(folder: Path) -> dict[str, Any]:
    data = digits()
    x, y = data.test_x[:N_IMAGES], data.test_y[:N_IMAGES]
    model32 = digits_cnn(0)
    model = copy.deepcopy(model32).double()
    x32, x = x, x.double()
    batch_gap = {name: _batch_gap(explain, x, y) for name, explain in _methods(model).items()}
    float32_gap = {name: _batch_gap(explain, x32, y) for name, explain in _methods(model32).items()}
    ppe_gap = {
        "Occlusion": _gap(*(Occlusion(model).attribute(x, sliding_window_shapes=(1, 2, 2), target=y,
                                                       perturbations_per_eval=p) for p in (1, 8))),
        "FeatureAblation": _gap(*(FeatureAblation(model).attribute(x, target=y, perturbations_per_eval=p)
                                  for p in (1, 8)))}
    noise_free = {
        "Saliency": _gap(NoiseTunnel(Saliency(model)).attribute(x, nt_samples=4, stdevs=0.0, target=y),
                         Saliency(model).attribute(x, target=y)),
        "IntegratedGradients": _gap(
            NoiseTunnel(IntegratedGradients(model)).attribute(x, nt_samples=4, stdevs=0.0, target=y, n_steps=20),
            IntegratedGradients(model).attribute(x, target=y, n_steps=20))}
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).double().eval()
    gradient = Saliency(linear).attribute(x, target=y, abs=False)

    def perturb(inputs: Tensor) -> tuple[Tensor, Tensor]:
        noise = 0.2 * torch.randn(inputs.shape, generator=torch.Generator().manual_seed(1), dtype=inputs.dtype)
        return noise, inputs - noise

    linear_infidelity = float(infidelity(linear, perturb, x, gradient, target=y, n_perturb_samples=20).abs().max())
    results = {"n_images": N_IMAGES, "batch_vs_single_max_abs_diff": batch_gap,
               "float32_batch_vs_single_max_abs_diff": float32_gap,
               "perturbations_per_eval_1_vs_8_max_abs_diff": ppe_gap, "noise_tunnel_stdevs0_max_abs_diff": noise_free,
               "linear_model_gradient_infidelity": linear_infidelity, "figure": None}
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    rows = [("float32: batch vs one at a time", k, f"{v:.1e}")
            for k, v in results["float32_batch_vs_single_max_abs_diff"].items()]
    rows += [("float64: batch vs one at a time", k, f"{v:.1e}")
             for k, v in results["batch_vs_single_max_abs_diff"].items()]
    rows += [("perturbations_per_eval 1 vs 8", k, f"{v:.1e}")
             for k, v in results["perturbations_per_eval_1_vs_8_max_abs_diff"].items()]
    rows += [("NoiseTunnel stdevs=0 vs method", k, f"{v:.1e}")
             for k, v in results["noise_tunnel_stdevs0_max_abs_diff"].items()]
    linear = results["linear_model_gradient_infidelity"]
    rows += [("infidelity, linear model, its gradient", "Saliency", f"{linear:.1e}")]
    print(table(["invariant", "method", "max |difference|"], rows))
    return results


if __name__ == "__main__":
    main()
