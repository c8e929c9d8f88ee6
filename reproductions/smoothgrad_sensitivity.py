"""Check 7 (Yeh et al. 2019): SmoothGrad lowers max-sensitivity and infidelity.

On the ReLU digits CNN (2 seeds, 100 test digits): SmoothGrad (20 samples, sigma 0.2)
against plain Saliency (the signed gradient): max-sensitivity (r = 0.1, 10 samples) and
infidelity (Gaussian sigma 0.2, 50 samples, normalize=True) should both be lower.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reproductions import _smoothness as sm
from reproductions._common import out_dir, save
from reproductions._seeds import SEEDS, figure, table

NAME = "smoothgrad_sensitivity"


def run(folder: Path) -> dict[str, Any]:
    per_seed = []
    for seed in SEEDS:
        s = sm.scores(seed, "relu")
        per_seed.append({metric: {m: s[metric][m] for m in ("Saliency", "SmoothGrad")}
                         for metric in ("infidelity", "sensitivity_max")})
    results: dict[str, Any] = {"seeds": list(SEEDS), "per_seed": per_seed,
                               "mean": {metric: {m: sum(p[metric][m] for p in per_seed) / len(per_seed)
                                                 for m in ("Saliency", "SmoothGrad")}
                                        for metric in ("infidelity", "sensitivity_max")}}

    def draw(fig: Any) -> None:
        axes = fig.subplots(1, 2)
        for ax, metric in zip(axes, ("sensitivity_max", "infidelity")):
            ax.bar(["Saliency", "SmoothGrad"], [results["mean"][metric][m] for m in ("Saliency", "SmoothGrad")])
            ax.set_title(f"{metric} (lower is better)", fontsize=9)

    results["figure"] = figure(folder / f"{NAME}.png", draw, (7, 3))
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print(table(["seed", "sens_max Saliency", "sens_max SmoothGrad", "infidelity Saliency", "infidelity SmoothGrad"],
                [(seed, p["sensitivity_max"]["Saliency"], p["sensitivity_max"]["SmoothGrad"],
                  p["infidelity"]["Saliency"], p["infidelity"]["SmoothGrad"])
                 for seed, p in zip(results["seeds"], results["per_seed"])]))
    return results


if __name__ == "__main__":
    main()
