"""Seeds O and P: attribution methods scored against exact ground truth on synthetic cells.

Tjoa & Guan (arXiv 2009.02899) draw cells whose ground-truth heatmap is known (0.9 on the
discriminative feature, 0.4 on the rest of the cell, 0 elsewhere), score saliency maps with a
five-band precision / recall / false-positive rate against it, and introduce mabCAM, a
heatmap head trained on the banded ground truth beside the classifier. Their finding: the
post-hoc methods agree poorly with the ground truth, mabCAM much better.

Here: 4 cell classes (the feature's shape), 32x32, 1000 training and 64 test cells, seeds 0 and 1.
A small CNN (:class:`veracity.synthetic.CellsCNN`) is explained by Saliency, Integrated
Gradients, Input x Gradient, Guided Backprop, Grad-CAM and Score-CAM (at ``relu3``, upsampled)
and Occlusion; mabCAM is read from a :class:`~veracity.synthetic.MabCellsNet` trained with
``CE + 1 * CE(bands)``. Beside them: a random map (chance) and the ground-truth map itself.
Each method is scored on the true class with the soft five-band score (11 steps of 0.02, mean
over steps), ROC-AUC and the pointing game against the feature, relevance mass inside the
cell, and Gupta et al.'s completeness (probability of the class with only the top 5/10/20 %
of pixels kept, the rest set to the image's mean) and soundness (that, minus the mean of the
same for masks explaining each wrong class) on the model the method explains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from reproductions._common import out_dir, save
from reproductions._seeds import SEEDS, figure, table
from veracity.attr import (
    GuidedBackprop,
    InputXGradient,
    IntegratedGradients,
    LayerGradCam,
    LayerMabCam,
    LayerScoreCam,
    Occlusion,
    Saliency,
)
from veracity.metrics import (
    five_band_score,
    mask_completeness,
    mask_soundness,
    pointing_game,
    relevance_mass_accuracy,
    roc_auc,
)
from veracity.synthetic import make_cells, train_cells_cnn, train_mab_cells

NAME = "synthetic_cells"
N_TRAIN, N_TEST, SIZE, CLASSES, EPOCHS, MAB_WEIGHT = 1000, 64, 32, 4, 6, 1.0
FRACTIONS = (0.05, 0.1, 0.2)
Explain = Callable[[nn.Module, Tensor, Tensor], Tensor]


def _pixels(a: Tensor) -> Tensor:
    return a.detach().sum(1, keepdim=True)


def methods(truth: Callable[[Tensor], Tensor], seed: int) -> dict[str, tuple[str, Explain]]:
    """name -> (which model: "cnn" or "mab", explain(model, x, target) -> (B, 1, H, W) map)."""
    return {
        "Saliency": ("cnn", lambda m, x, t: _pixels(Saliency(m).attribute(x, target=t))),
        "IntegratedGradients": ("cnn", lambda m, x, t: _pixels(IntegratedGradients(m).attribute(
            x, target=t, n_steps=16))),
        "InputXGradient": ("cnn", lambda m, x, t: _pixels(InputXGradient(m).attribute(x, target=t))),
        "GuidedBackprop": ("cnn", lambda m, x, t: _pixels(GuidedBackprop(m).attribute(x, target=t))),
        "GradCAM": ("cnn", lambda m, x, t: LayerGradCam(m, m.relu3).attribute(
            x, target=t, relu_attributions=True, upsample_to_input=True).detach()),
        "ScoreCAM": ("cnn", lambda m, x, t: LayerScoreCam(m, m.relu3).attribute(
            x, target=t, upsample_to_input=True).detach()),
        "Occlusion": ("cnn", lambda m, x, t: _pixels(Occlusion(m).attribute(
            x, target=t, sliding_window_shapes=(3, 4, 4), strides=(3, 2, 2)))),
        "mabCAM": ("mab", lambda m, x, t: LayerMabCam(m, m.bands).attribute(x)),
        "random map": ("cnn", lambda m, x, t: torch.rand(x.shape[0], 1, *x.shape[2:],
                                                         generator=torch.Generator().manual_seed(seed))),
        "ground truth": ("cnn", lambda m, x, t: truth(x)),
    }


def _mean(values: Tensor) -> float:
    return float(values[~values.isnan()].float().mean())


def run(folder: Path) -> dict[str, Any]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: one thread is as fast, and immune to a busy machine
    try:
        per_seed = [_one_seed(seed) for seed in SEEDS]
    finally:
        torch.set_num_threads(threads)
    names, keys = list(per_seed[0]["scores"]), list(COLUMNS)
    results: dict[str, Any] = {
        "seeds": list(SEEDS), "n_train": N_TRAIN, "n_test": N_TEST, "size": SIZE, "classes": CLASSES,
        "epochs": EPOCHS, "mab_weight": MAB_WEIGHT, "fractions": list(FRACTIONS),
        "per_seed": [{"accuracy": p["accuracy"], "scores": p["scores"]} for p in per_seed],
        "scores": {n: {k: sum(p["scores"][n][k] for p in per_seed) / len(per_seed) for k in keys} for n in names}}
    test, maps = per_seed[0]["test"], per_seed[0]["maps"]
    results["figure"] = figure(folder / f"{NAME}.png", lambda fig: _draw(fig, test, maps), (13, 4.6))
    save(NAME, results, folder)
    return results


def _one_seed(seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    train = make_cells(N_TRAIN, SIZE, CLASSES, seed=seed)
    test = make_cells(N_TEST, SIZE, CLASSES, seed=seed + 1000)
    models = {"cnn": train_cells_cnn(train, seed=seed, epochs=EPOCHS),
              "mab": train_mab_cells(train, seed=seed, epochs=EPOCHS, mab_weight=MAB_WEIGHT)}
    for model in models.values():
        for parameter in model.parameters():
            parameter.requires_grad_(False)
    x, y = test.images, test.labels
    accuracy = {k: float((m(x).argmax(1) == y).float().mean()) for k, m in models.items()}

    def truth(inputs: Tensor) -> Tensor:  # the ground-truth map (of the test cells) as a method
        return test.heatmaps.unsqueeze(1)

    others = torch.stack([(y + j) % CLASSES for j in range(1, CLASSES)], 1)
    scores: dict[str, dict[str, float]] = {}
    maps: dict[str, Tensor] = {}
    for name, (kind, explain) in methods(truth, seed).items():
        model = models[kind]
        a = explain(model, x, y)
        maps[name] = a
        band = five_band_score(a, test.heatmaps, soft_steps=11, soft_delta=0.02)
        scores[name] = {
            "five_band_precision": _mean(band.precision.mean(1)),
            "five_band_recall": _mean(band.recall.mean(1)),
            "five_band_fpr": _mean(band.fpr.mean(1)),
            "feature_auc": _mean(roc_auc(a, test.feature_masks)),
            "feature_pointing_game": _mean(pointing_game(a, test.feature_masks)),
            "cell_relevance_mass": _mean(relevance_mass_accuracy(a, test.cell_masks)),
            "completeness": _mean(mask_completeness(model, x, a, target=y, fractions=FRACTIONS,
                                                    baseline="mean")),
            "soundness": _mean(mask_soundness(model, x, lambda i, t, e=explain, m=model: e(m, i, t), y, others,
                                              fractions=FRACTIONS, baseline="mean")),
        }
    return {"accuracy": accuracy, "scores": scores, "test": test, "maps": maps}


def _draw(fig: Any, test: Any, maps: dict[str, Tensor]) -> None:
    names = [n for n in maps if n != "ground truth"]
    rows, cols = 3, 2 + len(names)
    axes = fig.subplots(rows, cols)
    for r in range(rows):
        cells = [("image", test.images[r].permute(1, 2, 0), None), ("ground truth", test.heatmaps[r], "bwr")]
        for name in names:
            m = maps[name][r, 0]
            cells.append((name, m / m.abs().max().clamp(min=1e-12), "bwr"))
        for c, (title, picture, cmap) in enumerate(cells):
            ax = axes[r, c]
            if cmap is None:
                ax.imshow(picture.clamp(0, 1).numpy())
            else:
                ax.imshow(picture.numpy(), cmap=cmap, vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=7)


COLUMNS = ("five_band_precision", "five_band_recall", "five_band_fpr", "feature_auc", "feature_pointing_game",
           "cell_relevance_mass", "completeness", "soundness")


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    for seed, p in zip(results["seeds"], results["per_seed"]):
        print(f"seed {seed}: test accuracy CNN {p['accuracy']['cnn']:.3f}, mabCAM model {p['accuracy']['mab']:.3f}")
    print(f"mean over seeds {results['seeds']}:")
    print(table(["method", "5-band prec", "5-band rec", "5-band FPR", "feature AUC", "pointing", "cell mass",
                 "complete", "sound"], [(n, *(s[c] for c in COLUMNS)) for n, s in results["scores"].items()]))
    return results


if __name__ == "__main__":
    main()
