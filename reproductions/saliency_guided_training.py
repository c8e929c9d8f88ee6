"""Check 11 (Ismail et al. 2021): saliency-guided training.

The digits CNN trained as usual against the same CNN trained with
``veracity.training.saliency_guided_step`` (the k = 50% lowest-gradient pixels masked with
random values, lambda = 1; Adam 1e-2, batch 64, 30 epochs), 2 seeds. Clean test accuracy
should stay within 2-3 points; after replacing the top 10% / 20% most salient pixels (each
model's own |gradient|) with random values, the saliency-guided model's accuracy should
fall further: its saliency points at the features it uses.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reproductions._common import accuracy, digits, digits_cnn, out_dir, save
from reproductions._seeds import SEEDS, figure, table
from veracity.attr import Saliency
from veracity.data.digits import DigitsCNN
from veracity.training import mask_lowest_saliency, saliency_guided_step

NAME = "saliency_guided_training"
FRACTION = 0.5
LAM = 1.0
EPOCHS = 30
REMOVED = (0.1, 0.2, 0.3, 0.5)


@lru_cache(maxsize=None)
def sgt_model(seed: int) -> nn.Module:
    """The digits CNN trained with saliency-guided training under ``seed``."""
    data = digits()
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = DigitsCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(data.train_y), generator=generator)
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            saliency_guided_step(model, optimizer, data.train_x[idx], data.train_y[idx], FRACTION, LAM,
                                 generator=generator)
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def masked_accuracy(model: nn.Module, removed: float, seed: int) -> float:
    """Test accuracy after the ``removed`` share of most salient pixels (|gradient| of the true
    class) of each test digit is replaced by uniform values in the digit's range."""
    data = digits()
    saliency = Saliency(model).attribute(data.test_x, target=data.test_y, abs=True)
    masked = mask_lowest_saliency(data.test_x, -saliency, removed, "random",
                                  generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return float((model(masked).argmax(1) == data.test_y).float().mean())


def run(folder: Path) -> dict[str, Any]:
    data = digits()
    per_seed = []
    for seed in SEEDS:
        models = {"standard": digits_cnn(seed), "saliency_guided": sgt_model(seed)}
        per_seed.append({name: {"clean": accuracy(m, data),
                                "masked": {str(r): masked_accuracy(m, r, seed) for r in REMOVED}}
                         for name, m in models.items()})
    mean = {name: {"clean": sum(p[name]["clean"] for p in per_seed) / len(per_seed),
                   "masked": {str(r): sum(p[name]["masked"][str(r)] for p in per_seed) / len(per_seed)
                              for r in REMOVED}}
            for name in ("standard", "saliency_guided")}
    results: dict[str, Any] = {"seeds": list(SEEDS), "fraction": FRACTION, "lam": LAM, "epochs": EPOCHS,
                               "per_seed": per_seed, "mean": mean}

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        for name in mean:
            ax.plot([0, *REMOVED], [mean[name]["clean"], *(mean[name]["masked"][str(r)] for r in REMOVED)],
                    marker="o", label=name)
        ax.set_xlabel("share of most salient pixels replaced by noise")
        ax.set_ylabel("test accuracy (lower = the saliency found what the model uses)")
        ax.legend(fontsize=8)

    results["figure"] = figure(folder / f"{NAME}.png", draw)
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print(table(["training", "seed", "clean acc", *(f"top {int(r * 100)}% removed" for r in REMOVED)],
                [(name, seed, p[name]["clean"], *(p[name]["masked"][str(r)] for r in REMOVED))
                 for seed, p in zip(results["seeds"], results["per_seed"]) for name in p]))
    return results


if __name__ == "__main__":
    main()
