"""Detector explanations (DExT, seed Q): veracity's explain_detections vs Captum, in one process.

Every (image, detection, quantity) of a batch is explained: the class score and x1, y1, x2, y2
of 3 detections on each of 8 images (120 maps) on the 32x32 TinyDetector. veracity stacks all
rows into one call of the method (the engine chunks them). Captum is run twice on the same
maps: as DExT does it, one ``attribute`` call per decision with a forward that returns that
slot's quantity ("loop"), and with the same stacking as veracity over the flattened head and
per-row targets ("stacked"). The limit is the raw cost of the forward(+backward) passes the
method needs at the best chunk size (for Occlusion: each image's perturbations once, which is
what veracity evaluates, since identical rows are deduplicated). Not part of the test suite.

    .venv/bin/python benchmarks/bench_detection.py [--quick]
"""

from __future__ import annotations

import os
import sys
import warnings

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, forward_backward_limit, forward_limit, print_table  # noqa: E402

from veracity.attr import IntegratedGradients, Occlusion, Saliency  # noqa: E402
from veracity.detection import (  # noqa: E402
    QUANTITIES,
    Detections,
    DetectorOutputs,
    TinyDetector,
    detection_targets,
    explain_detections,
)

warnings.filterwarnings("ignore")
torch.set_num_threads(2)


class Flat(nn.Module):
    """The head flattened to (batch, slots * (4 + classes)) for Captum's integer targets."""

    def __init__(self, head: DetectorOutputs) -> None:
        super().__init__()
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x).flatten(1)


def main(quick: bool) -> None:
    import captum.attr as ca

    repeats = 1 if quick else 3
    n_images, steps, side = (1, 4, 8) if quick else (8, 32, 4)
    torch.manual_seed(0)
    head = DetectorOutputs(TinyDetector(width=16).eval())
    flat = Flat(head)
    images = torch.rand(n_images, 1, 32, 32)
    found = [Detections.of([[4.0, 4, 12, 12], [14.0, 14, 26, 26], [2.0, 20, 10, 30]], labels=[1, 5, 9],
                           slots=[9 + i, 36 + i, 41 + i]) for i in range(n_images)]
    columns = 4 + 10
    pairs = [(i, s * columns + c) for i, d in enumerate(found) for s, c in detection_targets(d)]
    stacked = images[torch.tensor([i for i, _ in pairs])]
    flat_targets = [t for _, t in pairs]
    rows = len(pairs)
    window = {"sliding_window_shapes": (1, side, side), "strides": (1, side // 2, side // 2)}
    windows = ((32 - side) // (side // 2) + 1) ** 2
    cases = {
        "Saliency": (Saliency, ca.Saliency, {"abs": True}, {"abs": True}, 1, True),
        "IG": (IntegratedGradients, ca.IntegratedGradients, {"n_steps": steps}, {"n_steps": steps}, steps, True),
        "Occlusion": (Occlusion, ca.Occlusion, window, window, windows + 1, False),
    }
    table = []
    for name, (ours, theirs, our_kwargs, their_kwargs, points, needs_grad) in cases.items():
        def veracity(ours=ours, our_kwargs=our_kwargs) -> object:  # type: ignore[no-untyped-def]
            return explain_detections(ours(head), images, found, **our_kwargs)

        def captum_stacked(theirs=theirs, their_kwargs=their_kwargs) -> object:  # type: ignore[no-untyped-def]
            return theirs(flat).attribute(stacked, target=flat_targets, **their_kwargs)

        def captum_loop(theirs=theirs, their_kwargs=their_kwargs) -> object:  # type: ignore[no-untyped-def]
            return [theirs(flat).attribute(images[i:i + 1], target=t, **their_kwargs) for i, t in pairs]

        ours_map = torch.cat([m.reshape(-1, 1, 32, 32) for m in veracity()])
        theirs_map = captum_stacked()
        # gradients: one pass per (row, point); forward-only: identical rows are evaluated once
        # (DetectorOutputs deduplicates), so one image's perturbations serve all its maps
        limit = (forward_backward_limit(flat, images, rows * points, target=0, repeats=repeats)[0] if needs_grad
                 else forward_limit(flat, images, n_images * points, repeats=repeats)[0])
        v, stacked_s = best_time(veracity, repeats), best_time(captum_stacked, repeats)
        loop_s = best_time(captum_loop, repeats)
        table.append({"method": name, "maps": rows, "veracity_s": v, "captum_stacked_s": stacked_s,
                      "captum_loop_s": loop_s, "limit_s": limit, "stacked/veracity": stacked_s / v,
                      "loop/veracity": loop_s / v, "veracity/limit": v / limit,
                      "max_abs_diff": float((ours_map - theirs_map).abs().max())})
    print_table(f"Detector explanations: {rows} maps ({len(QUANTITIES)} per detection), TinyDetector 32x32",
                table)


if __name__ == "__main__":
    main("--quick" in sys.argv)
