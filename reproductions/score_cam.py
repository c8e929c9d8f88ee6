"""Check 8 (Wang et al. 2020): Score-CAM against Grad-CAM on the digits CNN's last conv layer.

200 test digits, their true class, CAMs at conv2 (4x4) upsampled bilinearly to 8x8. Average
Drop (lower is better) and Average Increase (higher) of the class probability on
``x * cam01``; deletion (lower) and insertion (higher) AUC of the probability (64 steps,
zero fill). Score-CAM should drop less than Grad-CAM and a random map, and beat the random
map on deletion and insertion. Score-CAM needs no gradients: it also runs under
``torch.no_grad()`` with the same result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from reproductions._common import digits, digits_cnn, out_dir, save
from reproductions._seeds import SEEDS, figure, grad_cam, mean, table
from veracity.attr import LayerScoreCam
from veracity.metrics import average_drop, average_increase, deletion, insertion

NAME = "score_cam"
N_IMAGES = 200


def score_cam(model: Any, x: Tensor, y: Tensor, score: str) -> Tensor:
    return LayerScoreCam(model, model.conv2).attribute(x, target=y, score=score, upsample_to_input=True,
                                                       interpolate_mode="bilinear")


def run(folder: Path) -> dict[str, Any]:
    data = digits()
    x, y = data.test_x[:N_IMAGES], data.test_y[:N_IMAGES]
    per_seed = []
    for seed in SEEDS:
        model = digits_cnn(seed)
        maps = {"ScoreCAM (paper: probability increase)": score_cam(model, x, y, "increase"),
                "ScoreCAM (channel softmax)": score_cam(model, x, y, "channel_softmax"),
                "GradCAM": grad_cam(model, x, y),
                "random map": torch.rand(x.shape, generator=torch.Generator().manual_seed(seed))}
        with torch.no_grad():
            no_grad = score_cam(model, x, y, "increase")
        scores = {name: {"average_drop": mean(average_drop(model, x, m, target=y)),
                         "average_increase": mean(average_increase(model, x, m, target=y)),
                         "deletion": mean(deletion(model, x, m, target=y, softmax=True, n_steps=64)),
                         "insertion": mean(insertion(model, x, m, target=y, softmax=True, n_steps=64))}
                  for name, m in maps.items()}
        per_seed.append({"scores": scores, "no_grad_max_diff": float((no_grad - maps[next(iter(maps))]).abs().max())})
    names = list(per_seed[0]["scores"])
    keys = ("average_drop", "average_increase", "deletion", "insertion")
    results: dict[str, Any] = {"seeds": list(SEEDS), "n_images": N_IMAGES, "per_seed": per_seed,
                               "mean": {n: {k: sum(p["scores"][n][k] for p in per_seed) / len(per_seed) for k in keys}
                                        for n in names}}

    def draw(fig: Any) -> None:
        axes = fig.subplots(1, 4)
        for ax, key in zip(axes, keys):
            ax.bar(range(len(names)), [results["mean"][n][key] for n in names])
            ax.set_xticks(range(len(names)), ["ScoreCAM", "ScoreCAM-sm", "GradCAM", "random"], rotation=45, fontsize=7)
            ax.set_title(key, fontsize=9)

    results["figure"] = figure(folder / f"{NAME}.png", draw, (11, 3.2))
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print(table(["method", "AvgDrop %", "AvgInc %", "deletion AUC", "insertion AUC"],
                [(n, s["average_drop"], s["average_increase"], s["deletion"], s["insertion"])
                 for n, s in results["mean"].items()]))
    return results


if __name__ == "__main__":
    main()
