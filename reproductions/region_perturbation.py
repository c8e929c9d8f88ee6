"""Check 9 (Samek et al. 2017): region perturbation, MoRF and LeRF, and AOPC.

200 test digits, their true class's logit. The 16 non-overlapping 2x2 regions are ranked by
summed attribution and replaced, one per step, by black (0, Quantus' default, the cross-check
methods.md names) and, separately, by uniform noise (the paper's choice). AOPC (mean drop of
the output over the 16 steps, MoRF) should order IG ~ Input x Gradient >= Gradient
(|gradient|, the paper's "sensitivity") >> a random ordering, and the LeRF curve should stay
above the MoRF curve. On digits the noise fill is itself the largest perturbation (noise on
the black background draws new strokes), whatever the order; the README reports both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from reproductions._common import digits, digits_cnn, out_dir, save
from reproductions._seeds import SEEDS, figure, table
from veracity.attr import InputXGradient, IntegratedGradients, Saliency
from veracity.metrics import region_perturbation

NAME = "region_perturbation"
N_IMAGES = 200
PATCH = 2
REGIONS = 16
FILLS: dict[str, Any] = {"black": 0.0, "uniform": "uniform"}


def run(folder: Path) -> dict[str, Any]:
    data = digits()
    x, y = data.test_x[:N_IMAGES], data.test_y[:N_IMAGES]
    per_seed = []
    curves: dict[str, Any] = {}
    for seed in SEEDS:
        model = digits_cnn(seed)
        maps = {"IG": IntegratedGradients(model).attribute(x, target=y, n_steps=50),
                "InputXGradient": InputXGradient(model).attribute(x, target=y),
                "Gradient": Saliency(model).attribute(x, target=y, abs=True),
                "random": torch.rand(x.shape, generator=torch.Generator().manual_seed(seed))}
        entry: dict[str, Any] = {}
        for fill, baseline in FILLS.items():
            for name, m in maps.items():
                row = {}
                for order in ("morf", "lerf"):
                    result = region_perturbation(model, x, m, target=y, patch_size=PATCH, regions_evaluation=REGIONS,
                                                 order=order, baseline=baseline, seed=seed, return_curve=True)
                    row[f"aopc_{order}"] = float(result.score.mean())
                    row[f"curve_{order}"] = [float(v) for v in result.curve.mean(0)]
                entry[f"{name} [{fill}]"] = row
                if seed == SEEDS[0] and fill == "black":
                    curves[name] = row
        per_seed.append(entry)
    names = list(per_seed[0])
    results: dict[str, Any] = {
        "seeds": list(SEEDS), "n_images": N_IMAGES, "per_seed": per_seed,
        "aopc_morf": {n: sum(p[n]["aopc_morf"] for p in per_seed) / len(per_seed) for n in names},
        "aopc_lerf": {n: sum(p[n]["aopc_lerf"] for p in per_seed) / len(per_seed) for n in names},
        "lerf_above_morf": {n: all(lo >= mo for p in per_seed for lo, mo in
                                   zip(p[n]["curve_lerf"][1:], p[n]["curve_morf"][1:])) for n in names}}

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        for name, row in curves.items():
            line = ax.plot(row["curve_morf"], label=f"{name} MoRF")[0]
            ax.plot(row["curve_lerf"], linestyle="--", color=line.get_color(), label=f"{name} LeRF")
        ax.set_xlabel("regions replaced (2x2, black)")
        ax.set_ylabel("mean logit of the true class")
        ax.legend(fontsize=7, ncol=2)

    results["figure"] = figure(folder / f"{NAME}.png", draw)
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print(table(["method", "AOPC MoRF (higher better)", "AOPC LeRF (lower better)", "LeRF curve above MoRF"],
                [(n, results["aopc_morf"][n], results["aopc_lerf"][n], results["lerf_above_morf"][n])
                 for n in results["aopc_morf"]]))
    return results


if __name__ == "__main__":
    main()
