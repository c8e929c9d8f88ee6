"""The wide model side by side with Captum 0.9 at its defaults (2 threads).

A ResNet-like CNN with 32 channels at full 64x64 resolution (about 0.5 MB of activations per
row per layer): the workloads where a budget on input bytes once made veracity slower than
Captum (Occlusion, FeatureAblation) and LayerGradCam, which once ran a second forward pass.
The limit: the raw forward passes the method needs (forward+backward for Grad-CAM, whose
backward only has to reach the layer) at the best chunk size.
veracity runs with its defaults (auto-tuned chunks). Run: .venv/bin/python benchmarks/bench_wide.py
"""

from __future__ import annotations

import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, forward_backward_limit, forward_limit, print_table  # noqa: E402
from bench_perturbation import superpixels  # noqa: E402
from models import images, wide_resnet_like  # noqa: E402

from veracity import attr as vattr  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)


def main() -> None:
    import captum.attr as cattr

    model = wide_resnet_like()
    x, x16 = images(4), images(16)
    groups = superpixels()
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    layer = model.blocks[0]
    with torch.inference_mode():  # this machine runs its first second of convolutions slower: warm up first
        for _ in range(100):
            model(x)
    chunks = (4, 8, 16, 32)  # the limit at its best chunk: small chunks win on this model
    cases = [
        ("Occlusion window 8 stride 4, batch 4", forward_limit(model, x, 226 * 4, chunks, repeats)[0],
         lambda: cattr.Occlusion(model).attribute(x, target=0, sliding_window_shapes=(3, 8, 8), strides=(3, 4, 4)),
         lambda: vattr.Occlusion(model).attribute(x, target=0, sliding_window_shapes=(3, 8, 8), strides=(3, 4, 4))),
        ("FeatureAblation 64 groups, batch 4", forward_limit(model, x, 65 * 4, chunks, repeats)[0],
         lambda: cattr.FeatureAblation(model).attribute(x, target=0, feature_mask=groups),
         lambda: vattr.FeatureAblation(model).attribute(x, target=0, feature_mask=groups)),
        ("LayerGradCam, batch 16", forward_backward_limit(model, x16, 16, 0, (16,), repeats)[0],
         lambda: cattr.LayerGradCam(model, layer).attribute(x16, target=0),
         lambda: vattr.LayerGradCam(model, layer).attribute(x16, target=0)),
    ]
    rows = []
    for name, limit, captum_call, veracity_call in cases:
        captum_s = best_time(captum_call, repeats)
        veracity_s = best_time(veracity_call, repeats)
        rows.append({"method": name, "captum s": captum_s, "veracity s": veracity_s,
                     "ratio (captum/veracity)": captum_s / veracity_s, "limit s": limit,
                     "ratio to limit": veracity_s / limit, "captum/limit": captum_s / limit})
    print_table("Wide CNN (32 channels at 64x64), Captum 0.9 defaults vs veracity defaults", rows)


if __name__ == "__main__":
    main()
