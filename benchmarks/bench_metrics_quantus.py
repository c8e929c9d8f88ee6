"""Evaluation metrics side by side with Quantus 0.6 on the ResNet-like CNN (batch 16, 3x64x64).

Run in the anchors venv that has Quantus (torch 2.14.1 + quantus 0.6.0 + veracity editable;
``make bench-anchors`` builds it and runs every benchmark):
    .venv-anchors/bin/python benchmarks/bench_metrics_quantus.py
Both libraries get the same model, inputs, targets, precomputed Saliency attributions (for the
faithfulness metrics) and the same explanation function (veracity's Saliency, with a numpy
wrapper for Quantus), so the difference is the evaluation loop. The limit is the raw cost of
the model evaluations the metric needs, at the best chunk size; "anchor/limit" shows how far
Quantus itself is from it (a speed-up over Quantus can be no larger than that ratio).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import best_time, forward_backward_limit, forward_limit, print_table  # noqa: E402
from models import images, resnet_like  # noqa: E402

from veracity.attr import Saliency  # noqa: E402
from veracity.metrics import (  # noqa: E402
    faithfulness_correlation,
    max_sensitivity,
    model_parameter_randomisation,
    pixel_flipping,
    randomisable_layers,
    region_perturbation,
    spearman_abs,
)

BATCH = 16
PF_STEP = 128            # pixel flipping: features per step -> 12288 / 128 = 96 steps
RP_PATCH, RP_REGIONS = 4, 100
FC_RUNS, FC_SUBSET = 100, 224
MS_SAMPLES, MS_RADIUS = 20, 0.2


def main() -> None:
    import quantus

    warnings.filterwarnings("ignore")
    torch.set_num_threads(2)
    model = resnet_like()
    x = images(BATCH)
    y = torch.arange(BATCH) % 10
    attributions = Saliency(model).attribute(x, target=y)
    x_np, y_np, a_np = x.numpy(), y.numpy(), attributions.numpy()

    def quantus_explain(model: torch.nn.Module, inputs: np.ndarray, targets: np.ndarray,
                        **kwargs: object) -> np.ndarray:
        tensor = torch.as_tensor(inputs, dtype=torch.float32)
        return Saliency(model).attribute(tensor, target=torch.as_tensor(targets)).numpy()

    common = dict(disable_warnings=True, display_progressbar=False)
    call = dict(model=model, x_batch=x_np, y_batch=y_np, device="cpu", channel_first=True,
                batch_size=BATCH)
    n_features = x[0].numel()
    n_layers = len(randomisable_layers(model))
    rows = []

    selected = sys.argv[1:]  # optional: run only rows whose name starts with one of these

    def row(name: str, quantus_fn, veracity_fn, limit_fn) -> None:
        if selected and not any(name.startswith(s) for s in selected):
            return
        limit = limit_fn()
        quantus_s = best_time(quantus_fn, repeats=1, warmup=0)
        veracity_s = best_time(veracity_fn, repeats=3, warmup=0)
        rows.append({"method": name, "anchor s": quantus_s, "veracity s": veracity_s,
                     "ratio (anchor/veracity)": quantus_s / veracity_s,
                     "ratio to limit (veracity/limit)": veracity_s / limit[0],
                     "anchor/limit": quantus_s / limit[0],
                     "limit chunk": limit[1]})
        print(rows[-1], flush=True)

    pf = quantus.PixelFlipping(features_in_step=PF_STEP, perturb_baseline="black", **common)
    row(f"pixel flipping ({n_features // PF_STEP} steps)",
        lambda: pf(a_batch=a_np, **call),
        lambda: pixel_flipping(model, x, attributions, y, features_in_step=PF_STEP),
        lambda: forward_limit(model, x, (n_features // PF_STEP + 1) * BATCH))

    rp = quantus.RegionPerturbation(patch_size=RP_PATCH, regions_evaluation=RP_REGIONS,
                                    order="morf", perturb_baseline="uniform", **common)
    row(f"region perturbation ({RP_REGIONS} regions of {RP_PATCH}x{RP_PATCH})",
        lambda: rp(a_batch=a_np, **call),
        lambda: region_perturbation(model, x, attributions, y, patch_size=RP_PATCH,
                                    regions_evaluation=RP_REGIONS, seed=0),
        lambda: forward_limit(model, x, (RP_REGIONS + 1) * BATCH))

    fc = quantus.FaithfulnessCorrelation(nr_runs=FC_RUNS, subset_size=FC_SUBSET,
                                         perturb_baseline="black", abs=False, normalise=False,
                                         return_aggregate=False, **common)
    row(f"faithfulness correlation ({FC_RUNS} runs)",
        lambda: fc(a_batch=a_np, **call),
        lambda: faithfulness_correlation(model, x, attributions, y, nr_runs=FC_RUNS,
                                         subset_size=FC_SUBSET, seed=0),
        lambda: forward_limit(model, x, (FC_RUNS + 1) * BATCH))

    ms = quantus.MaxSensitivity(nr_samples=MS_SAMPLES, lower_bound=MS_RADIUS, abs=False,
                                normalise=False, return_nan_when_prediction_changes=False,
                                **common)
    row(f"max-sensitivity ({MS_SAMPLES} samples, Saliency)",
        lambda: ms(a_batch=a_np, explain_func=quantus_explain, **call),
        lambda: max_sensitivity(model, x, y, Saliency, radius=MS_RADIUS, n_samples=MS_SAMPLES,
                                attributions=attributions),
        lambda: forward_backward_limit(model, x, MS_SAMPLES * BATCH))

    mprt = quantus.MPRT(layer_order="top_down", similarity_func=quantus.correlation_spearman,
                        seed=42, abs=True, normalise=False, return_aggregate=False, **common)
    row(f"model parameter randomisation ({n_layers} layers, Saliency)",
        lambda: mprt(a_batch=a_np, explain_func=quantus_explain, **call),
        lambda: model_parameter_randomisation(model, x, y, Saliency, order="top_down",
                                              similarity_funcs={"spearman_abs": spearman_abs},
                                              attributions=attributions),
        lambda: forward_backward_limit(model, x, n_layers * BATCH))

    print_table("Evaluation metrics vs Quantus 0.6 (ResNet-like CNN, batch 16, 3x64x64, "
                f"{torch.get_num_threads()} threads, torch {torch.__version__}, "
                f"quantus {quantus.__version__})", rows)


if __name__ == "__main__":
    main()
