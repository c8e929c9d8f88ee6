"""Check 17 (Borisov et al. 2021): the RBM ensemble of explanations, with flip detection.

For 100 test digits: Saliency, IG, Input x Gradient, SmoothGrad and Occlusion (2x2) maps,
negatives clamped and min-max normalised per map; per digit a Bernoulli RBM with one hidden
unit is fitted on the pixels (``BernoulliRBM(n_components=1, lr=1e-3, n_iter=300,
batch_size=15)`` semantics). Its raw map may come out inverted (the hidden unit encodes
"unimportant"); flip detection against the mean ensemble resolves that. Expected: the
flip-detected RBM's deletion AUC is at most the mean ensemble's (lower is better), and the
raw RBM's is far worse on the inverted digits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from reproductions._common import digits, digits_cnn, out_dir, save
from reproductions._seeds import SEEDS, figure, mean, table
from veracity.attr import InputXGradient, IntegratedGradients, NoiseTunnel, Occlusion, Saliency
from veracity.ensemble import mean_ensemble, rank_mean_ensemble, rbm_ensemble
from veracity.metrics import deletion, insertion

NAME = "rbm_ensemble"
N_IMAGES = 100


def run(folder: Path) -> dict[str, Any]:
    data = digits()
    x, y = data.test_x[:N_IMAGES], data.test_y[:N_IMAGES]
    per_seed = []
    example = None
    for seed in SEEDS:
        model = digits_cnn(seed)
        base = {"Saliency": Saliency(model).attribute(x, target=y),
                "IG": IntegratedGradients(model).attribute(x, target=y, n_steps=50),
                "InputXGradient": InputXGradient(model).attribute(x, target=y),
                "SmoothGrad": NoiseTunnel(Saliency(model)).attribute(
                    x, nt_samples=50, stdevs=0.15, target=y, generator=torch.Generator().manual_seed(seed)),
                "Occlusion": Occlusion(model).attribute(x, sliding_window_shapes=(1, 2, 2), target=y)}
        stacked = list(base.values())
        rbm = rbm_ensemble(stacked, seed=seed)
        maps = {**base, "mean": mean_ensemble(stacked), "rank mean": rank_mean_ensemble(stacked),
                "RBM raw": rbm.raw, "RBM flipped (1 - raw)": 1 - rbm.raw, "RBM flip detection": rbm.attributions,
                "random": torch.rand(x.shape, generator=torch.Generator().manual_seed(seed))}
        scores = {name: {"deletion": mean(deletion(model, x, m, target=y, softmax=True, n_steps=64)),
                         "insertion": mean(insertion(model, x, m, target=y, softmax=True, n_steps=64))}
                  for name, m in maps.items()}
        per_seed.append({"scores": scores, "flipped_share": float(rbm.flipped.float().mean())})
        if example is None:
            example = {name: maps[name][0, 0] for name in ("mean", "RBM raw", "RBM flip detection")}
    names = list(per_seed[0]["scores"])
    results: dict[str, Any] = {
        "seeds": list(SEEDS), "n_images": N_IMAGES, "per_seed": per_seed,
        "flipped_share": sum(p["flipped_share"] for p in per_seed) / len(per_seed),
        "mean": {n: {k: sum(p["scores"][n][k] for p in per_seed) / len(per_seed) for k in ("deletion", "insertion")}
                 for n in names}}

    def draw(fig: Any) -> None:
        axes = fig.subplots(1, 4)
        assert example is not None
        for ax, (name, image) in zip(axes[:3], example.items()):
            ax.imshow(image.numpy(), cmap="viridis")
            ax.set_title(name, fontsize=8)
            ax.axis("off")
        axes[3].barh(range(len(names)), [results["mean"][n]["deletion"] for n in names])
        axes[3].set_yticks(range(len(names)), names, fontsize=6)
        axes[3].set_title("deletion AUC (lower better)", fontsize=8)

    results["figure"] = figure(folder / f"{NAME}.png", draw, (11, 3))
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print(table(["map", "deletion AUC", "insertion AUC"],
                [(n, s["deletion"], s["insertion"]) for n, s in results["mean"].items()]))
    print(f"share of digits whose raw RBM map was flipped: {results['flipped_share']:.2f}")
    return results


if __name__ == "__main__":
    main()
