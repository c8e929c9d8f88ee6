"""Check 10 (Ghorbani et al. 2019, "Interpretation of Neural Networks is Fragile"): inside an
L-inf ball of 0.1 (pixels in [0, 1]) the digits CNN keeps its label while its gradient
saliency map moves, far more than under random sign noise of the same size.

40 correctly classified test digits; iterative attacks of 100 signed steps of 0.01 with a
Softplus(beta=10) surrogate for the attack direction; maps and labels on the ReLU model. The
top-k attack (k=8 of 64 pixels) is compared by top-8 intersection, the mass-center attack by
center-of-mass shift, both against the best of 100 random sign draws for that criterion
(and a single draw). The same top-k attack without the surrogate shows the stall: the
ReLU network's saliency has a zero input gradient, so the image never moves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from reproductions._common import accuracy, digits, digits_cnn, out_dir, save
from reproductions._seeds import figure
from veracity.robust import FragilityResult, explanation_attack, random_sign_perturbation

NAME = "fragility"
EPSILON, STEP, STEPS, K, BETA, IMAGES, DRAWS = 0.1, 0.01, 100, 8, 10.0, 40, 100


def _row(result: FragilityResult) -> dict[str, float]:
    return result.summary()


def _figure(images: torch.Tensor, rows: dict[str, FragilityResult], path: Path) -> None:
    shown = 4
    columns = [("digit", images[:, 0]), ("saliency", rows["top_k"].original_map)]
    columns += [(f"{name} attack", result.perturbed_map) for name, result in rows.items()]

    def draw(fig: Any) -> None:
        axes = fig.subplots(shown, len(columns))
        for i in range(shown):
            for j, (title, maps) in enumerate(columns):
                axes[i, j].imshow(maps[i].detach().numpy(), cmap="gray" if j == 0 else "hot")
                axes[i, j].set_xticks([])
                axes[i, j].set_yticks([])
                if i == 0:
                    axes[i, j].set_title(title, fontsize=9)
        fig.suptitle(f"Saliency before and after attacks (eps={EPSILON}, labels kept)", fontsize=10)

    figure(path, draw, (2.0 * len(columns), 2.0 * shown), dpi=110)


def run(folder: Path | None = None, seed: int = 0) -> dict[str, Any]:
    folder = out_dir(folder)
    model, data = digits_cnn(seed), digits(0)
    with torch.no_grad():
        correct = model(data.test_x).argmax(1) == data.test_y
    images = data.test_x[correct][:IMAGES]
    common = {"epsilon": EPSILON, "k": K, "seed": seed}
    attack = {**common, "step_size": STEP, "steps": STEPS, "surrogate_beta": BETA}
    results = {
        "random_single": random_sign_perturbation(model, images, draws=1, **common),
        "random_best_top_k": random_sign_perturbation(model, images, draws=DRAWS, criterion="top_k", **common),
        "random_best_mass_center": random_sign_perturbation(model, images, draws=DRAWS, criterion="mass_center",
                                                            **common),
        "top_k": explanation_attack(model, images, attack="top_k", **attack),
        "mass_center": explanation_attack(model, images, attack="mass_center", **attack),
        "top_k_without_surrogate": explanation_attack(model, images, attack="top_k",
                                                      **{**attack, "steps": 10, "surrogate_beta": None}),
    }
    measured: dict[str, Any] = {name: _row(result) for name, result in results.items()}
    measured["unmoved_without_surrogate"] = bool(torch.equal(results["top_k_without_surrogate"].perturbed, images))
    measured["settings"] = {"epsilon": EPSILON, "step_size": STEP, "steps": STEPS, "k": K, "beta": BETA,
                            "images": int(len(images)), "random_draws": DRAWS, "seed": seed,
                            "test_accuracy": accuracy(model, data)}
    _figure(images, {"top_k": results["top_k"], "mass_center": results["mass_center"]}, folder / f"{NAME}.png")
    save(NAME, measured, folder)
    return measured


def table(measured: dict[str, Any]) -> str:
    lines = ["| perturbation | top-8 intersection | Spearman | center shift (px) | label kept |",
             "|---|---|---|---|---|"]
    for name in ("random_single", "random_best_top_k", "random_best_mass_center", "top_k", "mass_center",
                 "top_k_without_surrogate"):
        row = measured[name]
        lines.append(f"| {name} | {row['top_k_intersection']:.2f} | {row['spearman']:.2f} | "
                     f"{row['center_shift']:.2f} | {row['label_kept']:.2f} |")
    return "\n".join(lines)


def main(folder: Path | None = None) -> None:
    print(table(run(folder)))


if __name__ == "__main__":
    main()
