"""Similarity explanations (veracity.similarity) vs Captum 0.9 and the paper's loops vs the limit.

Run: .venv/bin/python benchmarks/bench_similarity.py [--quick]   (needs captum==0.9.0).
The embedding model is the ResNet-like CNN (its 10 outputs as the embedding), 3x64x64 views;
view 2 is view 1 flipped. Cases:

* ConditionalOcclusion (16x16 windows, stride 8: 49 windows, batch 8): Captum's Occlusion on
  the same scorer ``x -> cos(g(x), g(x2))`` at its best ``perturbations_per_eval``, and the
  paper's loop (a clone per window, 32 rows per model call);
* PairwiseOcclusion (100 erasures, batch 4): no anchor (the paper's uses torchvision);
* InteractionCAM (batch 16, layer block2): the paper's hook-based Grad-CAM module replayed
  with plain autograd (one forward per view, one backward).

The limit is the raw cost of the model evaluations each needs (forward rows at the best chunk,
or forward+backward for the CAM). ratio = anchor / veracity; limit ratio = veracity / limit.
"""

from __future__ import annotations

import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, forward_limit, print_table  # noqa: E402
from models import images, resnet_like  # noqa: E402

from veracity.similarity import ConditionalOcclusion, InteractionCAM, PairwiseOcclusion  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)
QUICK = "--quick" in sys.argv
REPEATS = 1 if QUICK else int(os.environ.get("BENCH_REPEATS", "3"))


def paper_occlusion(model: torch.nn.Module, x1: torch.Tensor, x2: torch.Tensor, window: int, stride: int,
                    batch_size: int = 32) -> torch.Tensor:
    """The reference code's loop, batched over examples: a zeroed clone per window, 32 rows per call."""
    count = (x1.shape[-1] - window) // stride + 1
    with torch.no_grad():
        reference, base = model(x2), None
        base = torch.nn.functional.cosine_similarity(model(x1), reference, dim=1)
        occluded = []
        for i in range(count):
            for j in range(count):
                copy = x1.clone()
                copy[:, :, i * stride:i * stride + window, j * stride:j * stride + window] = 0
                occluded.append(copy)
        stacked = torch.cat(occluded)
        scores = torch.cat([torch.nn.functional.cosine_similarity(
            model(stacked[s:s + batch_size]), reference.repeat(count * count, 1)[s:s + batch_size], dim=1)
            for s in range(0, stacked.shape[0], batch_size)])
    return base.repeat(count * count) - scores


def paper_interaction_cam(model: torch.nn.Module, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Features at block2 captured by a hook, cosine of the embeddings, one backward."""
    feats: list[torch.Tensor] = []
    handle = model.block2.register_forward_hook(lambda m, i, o: feats.append(o))
    try:
        score = torch.nn.functional.cosine_similarity(model(x1), model(x2), dim=1)
        grads = torch.autograd.grad(score.sum(), feats)
    finally:
        handle.remove()
    joint = feats[0].mean((2, 3)) * feats[1].mean((2, 3))
    return (feats[0].detach() * joint[:, :, None, None] * grads[0].clamp(min=0)).sum(1)


def main() -> None:
    from captum.attr import Occlusion

    model = resnet_like()
    size, batch = (32, 2) if QUICK else (64, 8)
    x1 = images(batch)[..., :size, :size].contiguous()
    x2 = x1.flip(-1)
    window, stride = (8, 8) if QUICK else (16, 8)
    n_windows = ((size - window) // stride + 1) ** 2
    limit, best_rows = forward_limit(model, x1, rows=(n_windows + 2) * batch, repeats=REPEATS)
    with torch.no_grad():
        reference = model(x2)

    def scorer(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cosine_similarity(model(x), reference.repeat(x.shape[0] // batch, 1), dim=1)

    per_eval = max(1, best_rows // batch)
    ours = best_time(lambda: ConditionalOcclusion(model).attribute(x1, x2, (3, window, window),
                                                                   strides=(3, stride, stride)), REPEATS)
    captum = best_time(lambda: Occlusion(scorer).attribute(x1, sliding_window_shapes=(3, window, window),
                                                           strides=(3, stride, stride),
                                                           perturbations_per_eval=per_eval), REPEATS)
    paper = best_time(lambda: paper_occlusion(model, x1, x2, window, stride), REPEATS)
    rows = [{"case": f"ConditionalOcclusion {n_windows} windows x {batch}", "veracity_s": ours,
             "anchor": "captum Occlusion(scorer)", "anchor_s": captum, "ratio": captum / ours,
             "limit_s": limit, "limit_ratio": ours / limit},
            {"case": "", "veracity_s": ours, "anchor": "paper loop", "anchor_s": paper, "ratio": paper / ours,
             "limit_s": limit, "limit_ratio": ours / limit}]

    n_erasures, pair_batch = (10, 2) if QUICK else (100, 4)
    pair_limit, _ = forward_limit(model, x1[:pair_batch], rows=2 * (n_erasures + 1) * pair_batch, repeats=REPEATS)
    pair = best_time(lambda: PairwiseOcclusion(model).attribute(
        x1[:pair_batch], x2[:pair_batch], n_erasures=n_erasures, generator=torch.Generator().manual_seed(0)), REPEATS)
    rows.append({"case": f"PairwiseOcclusion {n_erasures} erasures x {pair_batch}", "veracity_s": pair,
                 "anchor": "-", "limit_s": pair_limit, "limit_ratio": pair / pair_limit})

    cam_batch = 2 if QUICK else 16
    cam_x1, cam_x2 = images(cam_batch)[..., :size, :size], images(cam_batch, seed=1)[..., :size, :size]
    cam = best_time(lambda: InteractionCAM(model, model.block2).attribute(cam_x1, cam_x2), REPEATS)
    replay = best_time(lambda: paper_interaction_cam(model, cam_x1, cam_x2), REPEATS)
    rows.append({"case": f"InteractionCAM x {cam_batch}", "veracity_s": cam, "anchor": "paper module (autograd)",
                 "anchor_s": replay, "ratio": replay / cam, "limit_s": replay, "limit_ratio": cam / replay})
    print_table("veracity.similarity (ResNet-like embeddings" + (", quick)" if QUICK else ")"), rows)


if __name__ == "__main__":
    main()
