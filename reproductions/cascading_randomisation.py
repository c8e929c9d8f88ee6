"""Check 2 (Adebayo et al. 2018; Kokhlikyan et al. 2021): cascading model parameter randomisation.

The digits CNN's layers are re-initialised from the logits down (fc2, fc1, conv2, conv1),
cumulatively; after each stage Gradient, SmoothGrad, Grad-CAM, IG and Input x Gradient are
recomputed for the same 100 test digits and true classes and compared with the trained
model's maps (Spearman of absolute and of signed maps). Gradient, SmoothGrad and Grad-CAM
should lose their similarity; IG and Input x Gradient keep high |map| similarity (the input
multiplier carries the digit's strokes) while their signed similarity drops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reproductions._common import digits, digits_cnn, out_dir, save
from reproductions._seeds import SEEDS, adebayo_methods, figure, mean, table
from veracity.metrics import model_parameter_randomisation

NAME = "cascading_randomisation"
N_IMAGES = 100


def randomisation(order: str, name: str, folder: Path) -> dict[str, Any]:
    """The MPRT for ``order`` ("top_down" or "independent") over :data:`SEEDS`; saved as ``name``."""
    data = digits()
    x, y = data.test_x[:N_IMAGES], data.test_y[:N_IMAGES]
    methods: dict[str, Any] = {}
    stages: list[str] = []
    for seed in SEEDS:
        model = digits_cnn(seed)
        for method, explain in adebayo_methods(seed).items():
            result = model_parameter_randomisation(model, x, y, explain, order=order, seed=seed)
            stages = list(result.stages)
            entry = methods.setdefault(method, {"abs": [], "signed": []})
            entry["abs"].append([mean(v) for v in result.similarity["spearman_abs"]])
            entry["signed"].append([mean(v) for v in result.similarity["spearman"]])
    for entry in methods.values():  # mean over seeds per stage
        for key in ("abs", "signed"):
            entry[f"{key}_mean"] = [sum(s[i] for s in entry[key]) / len(entry[key]) for i in range(len(stages))]
    results = {"order": order, "stages": stages, "seeds": list(SEEDS), "n_images": N_IMAGES, "methods": methods}

    def draw(fig: Any) -> None:
        axes = fig.subplots(1, 2, sharey=True)
        for ax, key, label in zip(axes, ("abs_mean", "signed_mean"), ("|maps|", "signed maps")):
            for method, entry in methods.items():
                ax.plot(stages, entry[key], marker="o", label=method)
            ax.axhline(0, color="grey", linewidth=0.6)
            ax.set_title(f"Spearman, {label} ({order})", fontsize=9)
            ax.set_xlabel("randomised layer" + (" (cumulative)" if order == "top_down" else " (alone)"))
        axes[0].legend(fontsize=7)

    results["figure"] = figure(folder / f"{name}.png", draw, (10, 3.8))
    save(name, results, folder)
    return results


def print_table(results: dict[str, Any]) -> None:
    rows = [(method, *(f"{a:.2f}/{s:.2f}" for a, s in zip(e["abs_mean"], e["signed_mean"])))
            for method, e in results["methods"].items()]
    print(table(["method (abs/signed Spearman)", *results["stages"]], rows))


def run(folder: Path) -> dict[str, Any]:
    return randomisation("top_down", NAME, folder)


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print_table(results)
    return results


if __name__ == "__main__":
    main()
