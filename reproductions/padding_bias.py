"""Check 14 ("Mind the Pad", Alsallakh et al. 2021): uneven padding leaves a spatial bias.

8x8 digits are placed at random positions on S x S blank canvases, S = 16 (every stride-2
layer pads unevenly: (16 + 2 - 3) mod 2 = 1) and S = 17 (even all the way: 17 -> 9 -> 5 -> 3),
and a CNN of three 3x3 stride-2 convolutions (padding 1, ReLU) with global average pooling is
trained on each, 3 seeds. Measured: the padding detector's verdict per layer, the relative
left-right and top-bottom asymmetry of layer 1's mean feature map over the test canvases, and
the mean-filter asymmetry of layers 2-3. A foveation map (the true-class logit with one digit
pasted at every position of a blank canvas) is drawn for seed 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from reproductions._common import digits, out_dir, save
from reproductions._seeds import figure
from veracity.spatial import filter_asymmetry, foveation_map, map_asymmetry, mean_feature_maps, padding_report

NAME = "padding_bias"
SIZES = (16, 17)
SEEDS = (0, 1, 2)
EPOCHS = 15


def network(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 16, 3, 2, 1), nn.ReLU(),
                         nn.Conv2d(16, 16, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(16, 10))


def canvases(images: Tensor, size: int, generator: torch.Generator) -> Tensor:
    out = torch.zeros(len(images), 1, size, size)
    rows = torch.randint(0, size - 7, (len(images),), generator=generator)
    cols = torch.randint(0, size - 7, (len(images),), generator=generator)
    for k in range(len(images)):
        out[k, :, rows[k]:rows[k] + 8, cols[k]:cols[k] + 8] = images[k]
    return out


def train(size: int, seed: int) -> tuple[nn.Sequential, Tensor, float]:
    data = digits(0)
    generator = torch.Generator().manual_seed(seed)
    train_x, test_x = canvases(data.train_x, size, generator), canvases(data.test_x, size, generator)
    model = network(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), 64):
            index = order[start:start + 64]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(train_x[index]), data.train_y[index]).backward()
            optimizer.step()
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    with torch.no_grad():
        accuracy = float((model(test_x).argmax(1) == data.test_y).float().mean())
    return model, test_x, accuracy


def measure(size: int, seed: int) -> dict[str, Any]:
    model, test_x, accuracy = train(size, seed)
    maps = mean_feature_maps(model, test_x, ["1"])
    asym = map_asymmetry(maps["1"])
    report = [r for r in padding_report(model, (1, size, size)) if r.axis == 0]
    return {"size": size, "seed": seed, "accuracy": accuracy, "layer1_left_right": asym["left_right"],
            "layer1_top_bottom": asym["top_bottom"],
            "filter_asymmetry_layers_2_3": (filter_asymmetry(model[2]) + filter_asymmetry(model[4])) / 2,
            "uneven_layers": [r.layer for r in report if r.uneven], "input_sizes": [r.input_size for r in report],
            "_model": model, "_map": maps["1"]}


def run(folder: Path) -> dict[str, Any]:
    runs = [measure(size, seed) for size in SIZES for seed in SEEDS]
    figure_name = _figure(folder, runs)
    for entry in runs:
        entry.pop("_model")
        entry.pop("_map")
    summary = {}
    for size in SIZES:
        chosen = [r for r in runs if r["size"] == size]
        summary[str(size)] = {key: sum(abs(r[key]) for r in chosen) / len(chosen)
                              for key in ("layer1_left_right", "layer1_top_bottom", "filter_asymmetry_layers_2_3")}
        summary[str(size)]["accuracy"] = sum(r["accuracy"] for r in chosen) / len(chosen)
    results = {"sizes": list(SIZES), "seeds": list(SEEDS), "epochs": EPOCHS, "runs": runs,
               "mean_abs": summary, "figure": figure_name}
    save(NAME, results, folder)
    return results


def _figure(folder: Path, runs: list[dict[str, Any]]) -> str | None:
    first = [r for r in runs if r["seed"] == 0]
    data = digits(0)

    def draw(fig: Any) -> None:
        for row, r in zip(fig.subplots(2, 3), first):
            size = r["size"]
            image = row[0].imshow(r["_map"].numpy(), cmap="viridis")
            row[0].set_title(f"S={size}: layer-1 mean feature map", fontsize=8)
            fig.colorbar(image, ax=row[0], fraction=0.046)
            mean = r["_model"][2].weight.double().mean((0, 1)).numpy()
            bound = abs(mean).max()
            image = row[1].imshow(mean, cmap="RdBu_r", vmin=-bound, vmax=bound)
            row[1].set_title(f"S={size}: layer-2 mean filter", fontsize=8)
            fig.colorbar(image, ax=row[1], fraction=0.046)
            fovea = foveation_map(r["_model"], torch.zeros(1, size, size), data.test_x[0],
                                  target=int(data.test_y[0]))
            image = row[2].imshow(fovea.numpy(), cmap="magma")
            row[2].set_title(f"S={size}: foveation (digit {int(data.test_y[0])} logit)", fontsize=8)
            fig.colorbar(image, ax=row[2], fraction=0.046)
            for ax in row:
                ax.set_xticks([])
                ax.set_yticks([])

    return figure(folder / f"{NAME}.png", draw, (9, 5.6), dpi=110)


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print("| S | seed | accuracy | layer-1 L-R | layer-1 T-B | mean-filter asym (2-3) | uneven layers |")
    print("|---|---|---|---|---|---|---|")
    for r in results["runs"]:
        print(f"| {r['size']} | {r['seed']} | {r['accuracy']:.3f} | {r['layer1_left_right']:+.3f} | "
              f"{r['layer1_top_bottom']:+.3f} | {r['filter_asymmetry_layers_2_3']:.3f} | {r['uneven_layers']} |")
    for size, s in results["mean_abs"].items():
        print(f"S={size}: mean |L-R| {s['layer1_left_right']:.3f}, |T-B| {s['layer1_top_bottom']:.3f}, "
              f"filter asymmetry {s['filter_asymmetry_layers_2_3']:.3f}, accuracy {s['accuracy']:.3f}")
    return results


if __name__ == "__main__":
    main()
