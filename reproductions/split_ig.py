"""Check 5 (Miglani et al. 2020): saturation in Integrated Gradients and Split IG.

Softmax probability of the true class, zero baseline, right Riemann sum with 200 steps,
threshold ratio 0.9, 60 test digits. The output saturates early along the path (mean split
point alpha* well below 1), the saturated (right) part of IG is small next to the
unsaturated (left) part, and the left part is at least as faithful by ABPC (area between
the LeRF and MoRF perturbation curves) as full IG, which is at least as faithful as the
right part. Left + right = IG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from reproductions._common import digits, digits_cnn, out_dir, save
from reproductions._seeds import SEEDS, figure, mean, softmax_model, table
from veracity.attr import IntegratedGradients, SplitIntegratedGradients
from veracity.metrics import abpc

NAME = "split_ig"
N_IMAGES = 60
STEPS = 200
RATIO = 0.9


def run(folder: Path) -> dict[str, Any]:
    data = digits()
    x, y = data.test_x[:N_IMAGES], data.test_y[:N_IMAGES]
    per_seed = []
    alphas = []
    for seed in SEEDS:
        model = softmax_model(digits_cnn(seed))
        split = SplitIntegratedGradients(model).attribute_split(x, target=y, n_steps=STEPS, ratio=RATIO)
        full = IntegratedGradients(model).attribute(x, target=y, n_steps=STEPS, method="riemann_right")
        left, right = split.left, split.right
        assert isinstance(left, torch.Tensor) and isinstance(right, torch.Tensor)
        norms = right.flatten(1).norm(dim=1) / left.flatten(1).norm(dim=1).clamp(min=1e-12)
        scores = {part: mean(abpc(model, x, a, target=y)) for part, a in
                  (("left", left), ("full", full), ("right", right))}
        alphas.append(split.split_alpha)
        per_seed.append({"mean_alpha": mean(split.split_alpha), "right_over_left": mean(norms),
                         "median_right_over_left": float(norms.median()),
                         "abpc": scores,
                         "left_plus_right_minus_ig": float((left + right - full).abs().max()),
                         "ig_scale": float(full.abs().max())})
    results = {"seeds": list(SEEDS), "n_images": N_IMAGES, "n_steps": STEPS, "ratio": RATIO, "per_seed": per_seed,
               "mean_alpha": sum(s["mean_alpha"] for s in per_seed) / len(per_seed),
               "right_over_left": sum(s["right_over_left"] for s in per_seed) / len(per_seed),
               "abpc": {k: sum(s["abpc"][k] for s in per_seed) / len(per_seed) for k in ("left", "full", "right")}}

    def draw(fig: Any) -> None:
        ax1, ax2 = fig.subplots(1, 2)
        ax1.hist(torch.cat(alphas).numpy(), bins=20)
        ax1.set_xlabel("split point alpha* (output passes 90% of its change)")
        ax1.set_ylabel("digits")
        ax2.bar(["left (Split IG)", "full IG", "right"], [results["abpc"][k] for k in ("left", "full", "right")])
        ax2.set_ylabel("ABPC (higher = more faithful)")
        low = min(results["abpc"].values())
        ax2.set_ylim(low - 0.05, max(results["abpc"].values()) + 0.02)

    results["figure"] = figure(folder / f"{NAME}.png", draw, (9, 3.5))
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print(table(["seed", "mean alpha*", "|right|/|left|", "ABPC left", "ABPC full", "ABPC right", "max |L+R-IG|"],
                [(seed, s["mean_alpha"], s["right_over_left"], s["abpc"]["left"], s["abpc"]["full"],
                  s["abpc"]["right"], f"{s['left_plus_right_minus_ig']:.1e}")
                 for seed, s in zip(results["seeds"], results["per_seed"])]))
    return results


if __name__ == "__main__":
    main()
