"""Check 4 (Adebayo et al. 2018): the data randomisation test.

The digits CNN is trained a second time on permuted training labels (Adam 3e-3, batch 64,
until it memorises them: checked every 50 epochs, at least 300 and at most 800 epochs) and
its maps of 100 test digits are compared with the normally trained model's (Spearman of
|maps|). Gradient, SmoothGrad and Grad-CAM should be dissimilar (they
depend on what the model learned); IG and Input x Gradient stay similar (the input
multiplier).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from reproductions._common import accuracy as accuracy_of
from reproductions._common import digits, digits_cnn, out_dir, save
from reproductions._seeds import SEEDS, adebayo_methods, figure, mean, table
from veracity.data.digits import DigitsCNN
from veracity.metrics import data_randomisation_test

NAME = "data_randomisation"
N_IMAGES = 100
EPOCHS = 300  # at least; then until the permuted labels are memorised
MAX_EPOCHS = 800
MEMORISED = 0.99
LR = 3e-3
_TRAINED: dict[tuple[int, bytes], nn.Module] = {}
EPOCHS_USED: dict[tuple[int, bytes], int] = {}


def train_on(labels: Tensor, seed: int) -> nn.Module:
    """The digits CNN trained on ``labels`` (Adam 3e-3, batch 64, 300 epochs, then on until it fits
    ``MEMORISED`` of them, checked every 50 epochs, at most ``MAX_EPOCHS``); cached per labels."""
    key = (seed, labels.numpy().tobytes())
    if key not in _TRAINED:
        data = digits()
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        model = DigitsCNN()
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        model.train()
        for epoch in range(1, MAX_EPOCHS + 1):
            order = torch.randperm(len(labels), generator=generator)
            for start in range(0, len(order), 64):
                idx = order[start:start + 64]
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(data.train_x[idx]), labels[idx]).backward()
                optimizer.step()
            if epoch >= EPOCHS and epoch % 50 == 0:
                model.eval()
                with torch.no_grad():
                    fitted = float((model(data.train_x).argmax(1) == labels).float().mean())
                model.train()
                if fitted >= MEMORISED:
                    break
        EPOCHS_USED[key] = epoch
        model.eval()
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        _TRAINED[key] = model
    return _TRAINED[key]


def run(folder: Path) -> dict[str, Any]:
    data = digits()
    x, y = data.test_x[:N_IMAGES], data.test_y[:N_IMAGES]
    methods: dict[str, dict[str, list[float]]] = {}
    accuracy: list[dict[str, float]] = []
    for seed in SEEDS:
        model = digits_cnn(seed)
        used: list[Tensor] = []

        def train_func(labels: Tensor, seed: int = seed, used: list[Tensor] = used) -> nn.Module:
            used.append(labels)
            return train_on(labels, seed)

        for method, explain in adebayo_methods(seed).items():
            result = data_randomisation_test(model, train_func, data.train_y, x, y, explain, seed=seed)
            entry = methods.setdefault(method, {"abs": [], "signed": []})
            entry["abs"].append(mean(result.similarity["spearman_abs"]))
            entry["signed"].append(mean(result.similarity["spearman"]))
        random_model = train_on(used[0], seed)
        with torch.no_grad():
            train_hits = random_model(data.train_x).argmax(1) == used[0]
            accuracy.append({"epochs": EPOCHS_USED[(seed, used[0].numpy().tobytes())],
                             "random_train_acc": float(train_hits.float().mean()),
                             "random_test_acc": accuracy_of(random_model, data),
                             "normal_test_acc": accuracy_of(model, data)})
    for entry in methods.values():
        entry["abs_mean"] = [sum(entry["abs"]) / len(entry["abs"])]
        entry["signed_mean"] = [sum(entry["signed"]) / len(entry["signed"])]
    results = {"seeds": list(SEEDS), "n_images": N_IMAGES, "methods": methods, "accuracy": accuracy}

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        names = list(methods)
        ax.bar([i - 0.2 for i in range(len(names))], [methods[m]["abs_mean"][0] for m in names], 0.4, label="|maps|")
        ax.bar([i + 0.2 for i in range(len(names))], [methods[m]["signed_mean"][0] for m in names], 0.4, label="signed")
        ax.set_xticks(range(len(names)), names, fontsize=8)
        ax.set_ylabel("Spearman: normal vs random-label model")
        ax.legend(fontsize=8)

    results["figure"] = figure(folder / f"{NAME}.png", draw)
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print(table(["seed", "epochs", "random-label train acc", "random-label test acc", "normal test acc"],
                [(s, a["epochs"], a["random_train_acc"], a["random_test_acc"], a["normal_test_acc"])
                 for s, a in zip(results["seeds"], results["accuracy"])]))
    print(table(["method", "Spearman |maps|", "Spearman signed"],
                [(m, e["abs_mean"][0], e["signed_mean"][0]) for m, e in results["methods"].items()]))
    return results


if __name__ == "__main__":
    main()
