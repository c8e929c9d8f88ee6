"""Gradient family: veracity vs Captum 0.9 vs the limit, on the ResNet-like CNN (2 threads).

Run: .venv/bin/python benchmarks/bench_gradient.py   (needs the `bench` extra: captum==0.9.0)
"""

from __future__ import annotations

import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, forward_backward_limit, print_table  # noqa: E402
from models import images, resnet_like  # noqa: E402

import veracity  # noqa: E402
from veracity import attr as vattr  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)


def main() -> None:
    import captum.attr as cattr

    model = resnet_like()
    x = images(16)
    background = images(8, seed=1)
    target = 3
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    limit, best_chunk = forward_backward_limit(model, x, rows=16 * 50, target=target, repeats=repeats)

    def seeded() -> torch.Generator:
        return torch.Generator().manual_seed(0)

    cases = [
        ("IntegratedGradients n_steps=50",
         lambda: cattr.IntegratedGradients(model).attribute(x, target=target, n_steps=50),
         lambda: vattr.IntegratedGradients(model).attribute(x, target=target, n_steps=50)),
        ("GradientShap n_samples=50",
         lambda: cattr.GradientShap(model).attribute(x, background, target=target, n_samples=50),
         lambda: vattr.GradientShap(model).attribute(x, background, target=target, n_samples=50,
                                                     generator=seeded())),
        ("NoiseTunnel(Saliency) nt_samples=50",
         lambda: cattr.NoiseTunnel(cattr.Saliency(model)).attribute(x, nt_samples=50, stdevs=0.1,
                                                                     target=target),
         lambda: vattr.NoiseTunnel(vattr.Saliency(model)).attribute(x, nt_samples=50, stdevs=0.1,
                                                                     target=target, generator=seeded())),
    ]
    rows = []
    for name, captum_call, veracity_call in cases:
        captum_s = best_time(captum_call, repeats)
        veracity_s = best_time(veracity_call, repeats)
        rows.append({"method": name, "captum s": captum_s, "veracity s": veracity_s,
                     "ratio (captum/veracity)": captum_s / veracity_s, "limit s": limit,
                     "ratio to limit": veracity_s / limit})
    print_table(f"Gradient family, batch 16, 3x64x64, 800 fwd+bwd rows (limit at best chunk = {best_chunk} rows)",
                rows)

    curve = []
    for budget_rows in (16, 32, 64, 128, 256, 800):
        veracity.set_memory_budget(budget_rows * x[0].numel() * 4)
        seconds = best_time(lambda: vattr.IntegratedGradients(model).attribute(x, target=target, n_steps=50),
                            repeats)
        curve.append({"rows per model call": budget_rows, "IG n_steps=50 s": seconds,
                      "ratio to limit": seconds / limit})
    veracity.set_memory_budget(None)
    print_table("Chunk size curve (IG, memory budget set to N rows of inputs)", curve)


if __name__ == "__main__":
    main()
