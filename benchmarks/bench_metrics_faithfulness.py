"""Faithfulness metrics on the ResNet-like CNN (batch 16, 3x64x64) against the forward limit.

The limit is the raw cost of the forward passes the metric needs (steps x examples rows) at
the best batch size (`forward_limit`). Captum has none of these metrics; the Quantus side by
side lives in helper 5b's script. Run: `.venv/bin/python benchmarks/bench_metrics_faithfulness.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import best_time, forward_limit, print_table  # noqa: E402
from models import images, resnet_like  # noqa: E402

from veracity.metrics import faithfulness_correlation, pixel_flipping, region_perturbation  # noqa: E402


def main() -> None:
    torch.set_num_threads(2)
    model = resnet_like()
    x = images(16)
    a = torch.rand(16, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    cases = [
        # pixel flipping with 64 pixels per step: 65 curve points x 16 examples
        ("pixel_flipping (features_in_step=64)", 65 * 16,
         lambda: pixel_flipping(model, x, a, target=0, features_in_step=64)),
        ("region_perturbation (patch 8, 64 regions)", 65 * 16,
         lambda: region_perturbation(model, x, a, target=0, patch_size=8, regions_evaluation=64,
                                     baseline="black")),
        ("faithfulness_correlation (100 runs, 224)", 101 * 16,
         lambda: faithfulness_correlation(model, x, a, target=0, nr_runs=100, subset_size=224,
                                          seed=0)),
    ]
    rows = []
    for name, n_rows, run in cases:
        ours = best_time(run, repeats=3)
        limit, chunk = forward_limit(model, x, n_rows)
        rows.append({"method": name, "anchor s": None, "veracity s": ours, "ratio": None,
                     "ratio to limit": ours / limit, "limit s": limit, "best chunk": chunk})
    print_table("Faithfulness metrics, ResNet-like, batch 16, 3x64x64, 2 threads", rows)


if __name__ == "__main__":
    main()
