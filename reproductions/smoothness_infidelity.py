"""Check 6 (Kokhlikyan et al. 2021; Yeh et al. 2019): a smoother network gives more faithful maps.

The digits CNN with ReLU + max-pooling against the same architecture with Softplus(beta=10)
+ log-sum-exp pooling (r=10), trained from scratch (2 seeds, 100 test digits). Infidelity
(Gaussian perturbations, sigma 0.2, 50 samples, optimally rescaled maps) should be lower on
the smooth network for Saliency, IG, Input x Gradient and SmoothGrad, and max-sensitivity
(r = 0.1) lower for Saliency and IG. Also reported, not asserted: the trained ReLU model
converted by ``veracity.training.smooth_model`` without retraining.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reproductions import _smoothness as sm
from reproductions._common import out_dir, save
from reproductions._seeds import SEEDS, figure, table

NAME = "smoothness_infidelity"


def averaged(variant: str) -> dict[str, Any]:
    runs = [sm.scores(seed, variant) for seed in SEEDS]
    out: dict[str, Any] = {"accuracy": sum(r["accuracy"] for r in runs) / len(runs)}
    for metric in ("infidelity", "sensitivity_max"):
        out[metric] = {m: sum(r[metric][m] for r in runs) / len(runs) for m in runs[0][metric]}
        out[f"{metric}_per_seed"] = {m: [r[metric][m] for r in runs] for m in runs[0][metric]}
    return out


def run(folder: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"seeds": list(SEEDS), "n_images": sm.N_IMAGES,
                               "variants": {v: averaged(v) for v in sm.VARIANTS}}
    methods = list(results["variants"]["relu"]["infidelity"])

    def draw(fig: Any) -> None:
        axes = fig.subplots(1, 2)
        for ax, metric in zip(axes, ("infidelity", "sensitivity_max")):
            for i, variant in enumerate(sm.VARIANTS):
                values = [results["variants"][variant][metric][m] for m in methods]
                ax.bar([j + 0.27 * (i - 1) for j in range(len(methods))], values, 0.27, label=variant)
            ax.set_xticks(range(len(methods)), methods, fontsize=7)
            ax.set_title(f"{metric} (lower is better)", fontsize=9)
        axes[0].legend(fontsize=7)

    results["figure"] = figure(folder / f"{NAME}.png", draw, (10, 3.8))
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    v = results["variants"]
    methods = list(v["relu"]["infidelity"])
    print(table(["metric", "method", *sm.VARIANTS],
                [(metric, m, *(v[k][metric][m] for k in sm.VARIANTS))
                 for metric in ("infidelity", "sensitivity_max") for m in methods]
                + [("test accuracy", "", *(v[k]["accuracy"] for k in sm.VARIANTS))]))
    return results


if __name__ == "__main__":
    main()
