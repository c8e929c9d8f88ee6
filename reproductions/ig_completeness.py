"""Check 1 (Captum paper, Miglani et al. 2020): IG completeness on the digits CNN.

Integrated Gradients of the softmax probability of the true class, zero baseline, 100 test
digits: right Riemann sum with 200 steps and Gauss-Legendre with 50. The relative error
``|sum(IG) - (F(x) - F(0))| / |F(x) - F(0)|`` should be below 1e-2, and the attributions must
not depend on ``internal_batch_size`` (None, 7, 64) beyond 1e-5 (checked on 10 digits).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from reproductions._common import digits, digits_cnn, out_dir, save
from reproductions._seeds import SEEDS, figure, softmax_model, table
from veracity.attr import IntegratedGradients

NAME = "ig_completeness"
N_IMAGES = 100
N_CHUNK_CHECK = 10


def run(folder: Path) -> dict[str, Any]:
    data = digits()
    x, y = data.test_x[:N_IMAGES], data.test_y[:N_IMAGES]
    results: dict[str, Any] = {"seeds": list(SEEDS), "n_images": N_IMAGES, "rules": {}}
    errors_for_plot = {}
    for rule, steps in (("riemann_right", 200), ("gausslegendre", 50)):
        per_seed = []
        for seed in SEEDS:
            model = softmax_model(digits_cnn(seed))
            ig = IntegratedGradients(model)
            attr = ig.attribute(x, target=y, n_steps=steps, method=rule)
            with torch.no_grad():
                delta = model(x)[torch.arange(len(y)), y] - model(torch.zeros_like(x))[torch.arange(len(y)), y]
            total = attr.flatten(1).sum(1)
            relative = (total - delta).abs() / delta.abs()
            few = slice(0, N_CHUNK_CHECK)  # internal_batch_size=7 means thousands of model calls: 10 digits
            batches = [ig.attribute(x[few], target=y[few], n_steps=steps, method=rule, internal_batch_size=b)
                       for b in (7, 64)]
            chunk_gap = max(float((b - attr[few]).abs().max()) for b in batches)
            per_seed.append({"mean_sum": float(total.mean()), "mean_delta": float(delta.mean()),
                             "median_relative_error": float(relative.median()),
                             "relative_error_of_means": float((total.mean() - delta.mean()).abs() / delta.mean().abs()),
                             "max_relative_error": float(relative.max()),
                             "share_below_1e-2": float((relative < 1e-2).float().mean()),
                             "chunk_max_abs_diff": chunk_gap})
            errors_for_plot[f"{rule} ({steps}), seed {seed}"] = relative.clamp(min=1e-12).log10()
        results["rules"][rule] = {"n_steps": steps, "per_seed": per_seed}

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        ax.boxplot(list(errors_for_plot.values()), tick_labels=list(errors_for_plot), orientation="horizontal")
        ax.axvline(-2, color="red", linewidth=0.8)
        ax.set_xlabel("log10 relative completeness error per digit (red: 1e-2)")
        ax.tick_params(labelsize=7)

    results["figure"] = figure(folder / f"{NAME}.png", draw, (8, 3))
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    rows = [(rule, r["n_steps"], seed, s["mean_sum"], s["mean_delta"], f"{s['median_relative_error']:.1e}",
             f"{s['max_relative_error']:.1e}", s["share_below_1e-2"], f"{s['chunk_max_abs_diff']:.1e}")
            for rule, r in results["rules"].items() for seed, s in zip(results["seeds"], r["per_seed"])]
    print(table(["rule", "steps", "seed", "mean sum IG", "mean F(x)-F(0)", "median rel err", "max rel err",
                 "share < 1e-2", "max |chunk diff|"], rows))
    return results


if __name__ == "__main__":
    main()
