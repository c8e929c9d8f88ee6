"""Seed Q (DExT, Padmanabhan et al. 2023): explain every decision of a detector, on digits.

A :class:`~veracity.detection.TinyDetector` is trained on 2000 synthetic scenes (1-3 digits of
8 or 12 px on a 32x32 canvas); on held-out scenes (test digits) its correct detections (IoU >=
0.5, right class) are explained, each by its pre-NMS slot, for the class score and the four box
coordinates, with Gradient, Input x Gradient, IG, SmoothGrad, Guided Backprop, SmoothGrad +
GBP (the paper's best), Occlusion, FeatureAblation (4x4 patches) and a random map.

Measured per method and quantity:
- the fraction of |attribution| inside the detected box (chance: the box's share of the image);
- DExT's bounded deletion: pixels removed (set to 0) in order of |attribution|, the same slot
  tracked; for the class decision the AUC of its score, for the box decision (maps of the four
  coordinates summed) the AUC of the IoU of the slot's box with the original box. Lower is more
  faithful;
- where the coordinate maps look: the centroid of |attribution| relative to the box, so x1's
  map should sit left of x2's and y1's above y2's (an observation of DExT's figures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor

from reproductions._common import out_dir, save
from reproductions._seeds import figure, table
from veracity.attr import (
    FeatureAblation,
    GuidedBackprop,
    InputXGradient,
    IntegratedGradients,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from veracity.detection import (
    QUANTITIES,
    Detections,
    DetectorOutputs,
    box_iou,
    box_mass_fraction,
    detect,
    explain_detections,
    make_scenes,
    plot_detection_explanations,
    train_tiny_detector,
)
from veracity.metrics import deletion

NAME = "detector_explanations"
SEED = 0
N_TRAIN, EPOCHS, N_TEST, N_DETECTIONS, DELETION_STEPS = 2000, 10, 60, 24, 32
PATCHES = (torch.arange(32).view(1, 32, 1) // 4 * 8 + torch.arange(32).view(1, 1, 32) // 4)


def methods(head: DetectorOutputs) -> dict[str, Callable[[Tensor, list[Detections]], list[Tensor]]]:
    def run(method: Any, **kwargs: Any) -> Callable[[Tensor, list[Detections]], list[Tensor]]:
        return lambda x, found: explain_detections(method, x, found, **kwargs)

    def noise() -> torch.Generator:
        return torch.Generator().manual_seed(SEED)

    return {
        "Gradient": run(Saliency(head)),
        "InputXGradient": run(InputXGradient(head)),
        "IG": run(IntegratedGradients(head), n_steps=32),
        "SmoothGrad": lambda x, f: explain_detections(NoiseTunnel(Saliency(head)), x, f, nt_samples=16,
                                                      stdevs=0.15, abs=False, generator=noise()),
        "GBP": run(GuidedBackprop(head)),
        "SmoothGrad+GBP": lambda x, f: explain_detections(NoiseTunnel(GuidedBackprop(head)), x, f,
                                                          nt_samples=16, stdevs=0.15, generator=noise()),
        "Occlusion": run(Occlusion(head), sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2)),
        "FeatureAblation": run(FeatureAblation(head), feature_mask=PATCHES),
        "random map": lambda x, f: [torch.rand((len(d), len(QUANTITIES), *x.shape[1:]),
                                               generator=torch.Generator().manual_seed(SEED + i))
                                    for i, d in enumerate(f)],
    }


def correct_detections(head: DetectorOutputs, scenes: Any) -> tuple[list[Detections], dict[str, float]]:
    """The detections that match a ground-truth box (IoU >= 0.5, same label); precision and recall."""
    found = detect(head, scenes.images, score_threshold=0.5)
    kept, hits = [], 0
    for d, boxes, labels in zip(found, scenes.boxes, scenes.labels):
        iou = box_iou(d.boxes, boxes) if len(d) and len(boxes) else torch.zeros(len(d), len(boxes))
        good = torch.tensor([bool(((iou[j] >= 0.5) & (labels == d.labels[j])).any()) for j in range(len(d))],
                            dtype=torch.bool)
        hits += int(good.sum())
        kept.append(Detections(d.boxes[good], d.scores[good], d.labels[good], d.slots[good]))
    total_found, total_true = sum(len(d) for d in found), sum(len(b) for b in scenes.boxes)
    return kept, {"precision": hits / max(total_found, 1), "recall": hits / max(total_true, 1),
                  "detections": total_found, "objects": total_true}


def first_detections(scenes: Any, found: list[Detections], limit: int) -> tuple[Tensor, list[Detections]]:
    """The images holding the first ``limit`` correct detections (whole images, in order)."""
    images, chosen, count = [], [], 0
    for image, d in zip(scenes.images, found):
        if len(d) and count < limit:
            images.append(image)
            chosen.append(d)
            count += len(d)
    return torch.stack(images), chosen


def centroid_offset(maps: list[Tensor], found: list[Detections]) -> Tensor:
    """Per detection and quantity the |attribution| centroid relative to the box:
    ``((cx - x1) / w, (cy - y1) / h)``, shape ``(detections, quantities, 2)``."""
    rows = []
    for m, d in zip(maps, found):
        heat = m.abs().sum(2)  # (K, Q, H, W)
        height, width = heat.shape[-2:]
        ys = torch.arange(height, dtype=heat.dtype) + 0.5
        xs = torch.arange(width, dtype=heat.dtype) + 0.5
        total = heat.sum((-2, -1)).clamp(min=1e-12)
        cx = (heat.sum(-2) * xs).sum(-1) / total
        cy = (heat.sum(-1) * ys).sum(-1) / total
        box = d.boxes[:, None, :]
        rows.append(torch.stack([(cx - box[..., 0]) / (box[..., 2] - box[..., 0]),
                                 (cy - box[..., 1]) / (box[..., 3] - box[..., 1])], -1))
    return torch.cat(rows)


def deletion_scores(head: DetectorOutputs, images: Tensor, found: list[Detections],
                    maps: list[Tensor]) -> dict[str, float]:
    """Bounded deletion AUCs: class score of the slot, and IoU of the slot's box with the original."""
    class_auc, box_auc = [], []
    for x, d, m in zip(images, found, maps):
        rows = x[None].expand(len(d), *x.shape)
        score_map = m[:, 0].abs()
        targets = [(int(s), 4 + int(c)) for s, c in zip(d.slots, d.labels)]
        class_auc.append(deletion(head, rows, score_map, target=targets, n_steps=DELETION_STEPS))
        for j in range(len(d)):
            slot, original = int(d.slots[j]), d.boxes[j:j + 1]

            def iou_with_original(output: Tensor, slot: int = slot, original: Tensor = original) -> Tensor:
                return box_iou(output[:, slot, :4], original)[:, 0]

            box_auc.append(deletion(head, x[None], m[j:j + 1, 1:].abs().sum(1), target=iou_with_original,
                                    n_steps=DELETION_STEPS))
    return {"class_deletion": float(torch.cat(class_auc).mean()), "box_deletion": float(torch.cat(box_auc).mean())}


def run(folder: Path) -> dict[str, Any]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread is faster on a shared CPU
    try:
        return _run(folder)
    finally:
        torch.set_num_threads(threads)


def _run(folder: Path) -> dict[str, Any]:
    detector = train_tiny_detector(make_scenes(N_TRAIN, seed=SEED), epochs=EPOCHS, seed=SEED)
    for parameter in detector.parameters():
        parameter.requires_grad_(False)
    head = DetectorOutputs(detector)
    test = make_scenes(N_TEST, split="test", seed=SEED + 1)
    found, quality = correct_detections(head, test)
    images, chosen = first_detections(test, found, N_DETECTIONS)
    box_share = float(torch.cat([(d.boxes[:, 2] - d.boxes[:, 0]) * (d.boxes[:, 3] - d.boxes[:, 1])
                                 for d in chosen]).mean()) / (32 * 32)
    results: dict[str, Any] = {"seed": SEED, "detector": quality, "explained_detections": sum(len(d) for d in chosen),
                               "quantities": list(QUANTITIES), "box_share_of_image": box_share, "methods": {}}
    all_maps = {}
    for name, explain in methods(head).items():
        maps = explain(images, chosen)
        all_maps[name] = maps
        mass = torch.cat(box_mass_fraction(maps, chosen)).nanmean(0)
        offset = centroid_offset(maps, chosen).mean(0)
        results["methods"][name] = {
            "mass_in_box": dict(zip(QUANTITIES, mass.tolist())),
            "centroid_x_in_box": dict(zip(QUANTITIES, offset[:, 0].tolist())),
            "centroid_y_in_box": dict(zip(QUANTITIES, offset[:, 1].tolist())),
            **deletion_scores(head, images, chosen, maps)}
    results["figure"] = _figure(folder, images, chosen, all_maps)
    save(NAME, results, folder)
    return results


def _figure(folder: Path, images: Tensor, chosen: list[Detections], all_maps: dict[str, list[Tensor]]) -> str | None:
    try:
        plot_detection_explanations(images[0], chosen[0], all_maps["SmoothGrad+GBP"][0],
                                    title="SmoothGrad+GBP", path=folder / f"{NAME}.png")
    except ImportError:  # pragma: no cover - the plot extra
        return None
    names = [n for n in all_maps if n != "random map"]

    def draw(fig: Any) -> None:
        from matplotlib.patches import Rectangle

        axes = fig.subplots(len(names), len(QUANTITIES))
        for r, name in enumerate(names):
            for c, quantity in enumerate(QUANTITIES):
                ax = axes[r, c]
                ax.imshow(all_maps[name][0][0, c].abs().sum(0).numpy(), cmap="inferno")
                x1, y1, x2, y2 = (float(v) for v in chosen[0].boxes[0])
                ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor="cyan"))
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(quantity, fontsize=8)
                if c == 0:
                    ax.set_ylabel(name, fontsize=7)

    return figure(folder / f"{NAME}_methods.png", draw, (7.5, 1.4 * len(names)))


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    quality = results["detector"]
    print(f"detector: precision {quality['precision']:.2f}, recall {quality['recall']:.2f}; "
          f"{results['explained_detections']} detections explained; box share of the image "
          f"{results['box_share_of_image']:.3f}")
    print(table(["method", *[f"in box: {q}" for q in QUANTITIES], "class deletion", "box deletion",
                 "x1 cx", "x2 cx", "y1 cy", "y2 cy"],
                [(n, *[m["mass_in_box"][q] for q in QUANTITIES], m["class_deletion"], m["box_deletion"],
                  m["centroid_x_in_box"]["x1"], m["centroid_x_in_box"]["x2"],
                  m["centroid_y_in_box"]["y1"], m["centroid_y_in_box"]["y2"])
                 for n, m in results["methods"].items()]))
    return results


if __name__ == "__main__":
    main()
