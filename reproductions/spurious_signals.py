"""Seed H (Adebayo, Muelly, Abelson, Kim, ICLR 2022): can post hoc explanations detect a
model's reliance on a spurious signal?

For each artifact (a 2x2 patch in the top-left corner, a one-pixel stripe down column 0, a
+0.25 tint of the top half; see :mod:`veracity.spurious.artifacts`) the artifact is planted
on every training digit of class 0 (rate 1, no other class), a *spurious* digits CNN is
trained on that set and a *normal* one on the clean digits (same seed,
15 epochs; half the other reproductions' 30, to keep the four trainings in the time budget). Reliance
is checked on the test digits: the artifact pulls other digits to class 0 for the spurious
model only. Six methods explain each model's own prediction on ``N_IMAGES`` test digits with
the artifact and without it, and the paper's three metrics are reported:

* KSSD: the spurious model's maps against the planted pixels (rank accuracy, chance
  ``|mask|/64``; and SSIM, the paper's, with a random-map level), beside the same score of the
  normal model's maps (a model that ignores the artifact);
* CCM: SSIM of the two models' maps with the artifact (low = cause for concern);
* FAM: SSIM of the two models' maps without it (low = false alarm).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from reproductions._common import digits, digits_cnn, out_dir, save
from reproductions._seeds import grad_cam, integrated_gradients, smoothgrad, table
from veracity.attr import GuidedBackprop, InputXGradient, Saliency
from veracity.data.digits import train_digits_cnn
from veracity.spurious import (
    ARTIFACTS,
    artifact_reliance,
    evaluate_methods,
    known_spurious_signal_detection,
    spurious_digits,
)

NAME = "spurious_signals"
N_IMAGES = 100
TARGET_CLASS = 0
EPOCHS = 15
SEED = 0


def methods() -> dict[str, Any]:
    """Gradient, IG (32 steps, zero baseline), Input x Gradient, SmoothGrad (signed gradient, 25
    samples, sigma 0.15), Guided Backprop, Grad-CAM (conv2, upsampled)."""
    return {"Gradient": Saliency, "IG": integrated_gradients(32), "InputXGradient": InputXGradient,
            "SmoothGrad": smoothgrad(samples=25, seed=SEED), "GuidedBackprop": GuidedBackprop, "GradCAM": grad_cam}


def _frozen(model: nn.Module) -> nn.Module:
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def _mean(values: Tensor) -> float:
    return float(values.double().nanmean())


def _figures(folder: Path, all_scores: dict[str, Any], example_maps: dict[str, Tensor]) -> str | None:
    """``spurious_signals.png`` (the metrics, :func:`veracity.spurious.plot.plot_scores`) and
    ``spurious_signals_maps.png`` (patch examples); None when matplotlib is missing."""
    try:
        from veracity.spurious.plot import plot_maps, plot_scores
        plot_scores(all_scores).savefig(folder / f"{NAME}.png", dpi=100)
    except ImportError:  # pragma: no cover - the plot extra
        return None
    shown = {k: v for k, v in example_maps.items() if k not in ("input", "masks")}
    plot_maps(example_maps["input"], example_maps["masks"], shown).savefig(folder / f"{NAME}_maps.png", dpi=100)
    return f"{NAME}.png"


def run(folder: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"n_images": N_IMAGES, "target_class": TARGET_CLASS, "seed": SEED,
                               "epochs": EPOCHS, "artifacts": {}}
    all_scores: dict[str, Any] = {}
    example_maps: dict[str, Tensor] = {}
    for kind in ARTIFACTS:
        data = spurious_digits(kind, TARGET_CLASS, rate=1.0, seed=SEED, data=digits())
        # the normal model: train_digits_cnn on the clean digits, same seed and epochs (cached per process)
        spurious = _frozen(train_digits_cnn(data.contaminated(), seed=SEED, epochs=EPOCHS))
        normal = digits_cnn(SEED, epochs=EPOCHS)
        test = data.test
        x, masks, clean = test.images[:N_IMAGES], test.masks[:N_IMAGES], test.clean[:N_IMAGES]
        scores = evaluate_methods(methods(), spurious, normal, x, masks, clean, measure="rank_accuracy", seed=SEED)
        all_scores[kind] = scores
        rows: dict[str, Any] = {}
        for name, s in scores.items():
            rows[name] = {
                "kssd_rank": _mean(s.kssd), "kssd_rank_normal": _mean(
                    known_spurious_signal_detection(s.maps["normal_with"], masks, "rank_accuracy")),
                "kssd_ssim": _mean(known_spurious_signal_detection(s.maps["spurious_with"], masks, "ssim")),
                "kssd_ssim_normal": _mean(known_spurious_signal_detection(s.maps["normal_with"], masks, "ssim")),
                "ccm": _mean(s.ccm), "fam": _mean(s.fam)}
        random_maps = torch.rand(x.shape, generator=torch.Generator().manual_seed(SEED))
        reliance = {model_name: vars(artifact_reliance(model, data))
                    for model_name, model in (("spurious", spurious), ("normal", normal))}
        results["artifacts"][kind] = {
            "reliance": reliance, "methods": rows, "mask_pixels": float(masks.flatten(1).sum(1).float().mean()),
            "chance_rank": _mean(masks.flatten(1).sum(1).float() / 64),
            "random_rank": _mean(next(iter(scores.values())).kssd_random),
            "random_ssim": _mean(known_spurious_signal_detection(random_maps, masks, "ssim"))}
        if kind == "patch":
            example_maps = {"input": x[:3], "masks": masks[:3],
                            **{f"{n} (spur.)": s.maps["spurious_with"][:3] for n, s in scores.items()
                               if n in ("Gradient", "IG", "GradCAM")},
                            **{f"{n} (normal)": s.maps["normal_with"][:3] for n, s in scores.items()
                               if n in ("Gradient", "IG", "GradCAM")}}

    results["figure"] = _figures(folder, all_scores, example_maps)
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print(table(["artifact", "model", "clean acc", "artifact acc", "others->class 0 clean", "others->class 0 artifact"],
                [(kind, m, r["clean_accuracy"], r["artifact_accuracy"], r["to_target_clean"],
                  r["to_target_artifact"])
                 for kind, entry in results["artifacts"].items() for m, r in entry["reliance"].items()]))
    print(table(["artifact", "method", "KSSD rank", "(normal)", "chance", "KSSD SSIM", "(normal)", "random",
                 "CCM", "FAM"],
                [(kind, name, r["kssd_rank"], r["kssd_rank_normal"], entry["chance_rank"], r["kssd_ssim"],
                  r["kssd_ssim_normal"], entry["random_ssim"], r["ccm"], r["fam"])
                 for kind, entry in results["artifacts"].items() for name, r in entry["methods"].items()]))
    return results


if __name__ == "__main__":
    main()
