"""Layer attribution: veracity vs Captum 0.9 vs the limit on the ResNet-like CNN (2 threads),
and Score-CAM vs pytorch-grad-cam's default ScoreCAM.

Run: .venv/bin/python benchmarks/bench_layer.py   (needs the `bench` extra: captum==0.9.0)

pytorch-grad-cam needs torchvision, which does not import beside the main venv's torch, so its
part runs in a separate venv (``GRADCAM_PYTHON``, default ``.venv-anchors/bin/python``, built by
``make bench-anchors``: torch==2.14.1, torchvision==0.29.1, grad-cam, veracity editable) as a subprocess,
``bench_layer_gradcam.py``, which times both libraries in that one process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, forward_backward_limit, forward_limit, print_table  # noqa: E402
from models import images, resnet_like  # noqa: E402

from veracity import attr as vattr  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)
ANCHORS_PYTHON = os.path.join(os.path.dirname(__file__), "..", ".venv-anchors", "bin", "python")
GRADCAM_PYTHON = os.environ.get("GRADCAM_PYTHON", ANCHORS_PYTHON)


def _row(name: str, anchor: float | None, ours: float, limit: float) -> dict[str, object]:
    return {"method": name, "anchor s": anchor, "veracity s": ours,
            "ratio (anchor/veracity)": None if anchor is None else anchor / ours, "limit s": limit,
            "ratio to limit": ours / limit, "anchor/limit": None if anchor is None else anchor / limit}


def main() -> None:
    import captum.attr as cattr

    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    model, x, target = resnet_like(), images(16), 3
    layer = model.block1
    rows = []
    for name, steps, captum_call, veracity_call in [
        ("LayerConductance n_steps=50 (block1)", 51,
         lambda: cattr.LayerConductance(model, layer).attribute(x, target=target, n_steps=50),
         lambda: vattr.LayerConductance(model, layer).attribute(x, target=target, n_steps=50)),
        ("LayerIntegratedGradients n_steps=50 (block1)", 50,
         lambda: cattr.LayerIntegratedGradients(model, layer).attribute(x, target=target, n_steps=50),
         lambda: vattr.LayerIntegratedGradients(model, layer).attribute(x, target=target, n_steps=50)),
    ]:
        limit, _ = forward_backward_limit(model, x, rows=16 * steps, target=target, repeats=repeats)
        rows.append(_row(name, best_time(captum_call, repeats), best_time(veracity_call, repeats), limit))

    score_limit, _ = forward_limit(model, x, rows=16 * 32, repeats=repeats)
    ours = best_time(lambda: vattr.LayerScoreCam(model, model.block2).attribute(
        x, target=target, score="channel_softmax", upsample_to_input=True), repeats)
    rows.append(_row("LayerScoreCam 32 ch, batch 16 (this venv, torch " + torch.__version__ + ")", None, ours,
                     score_limit))
    try:
        done = subprocess.run([GRADCAM_PYTHON, os.path.join(os.path.dirname(__file__), "bench_layer_gradcam.py")],
                              capture_output=True, text=True, check=True, env={**os.environ})
        other = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(_row(f"Score-CAM vs pytorch-grad-cam ScoreCAM (grad-cam venv, torch {other['torch']})",
                         other["gradcam_s"], other["veracity_s"], other["limit_s"]))
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError) as error:
        print(f"pytorch-grad-cam part skipped: {error}")
    print_table("Layer attribution, batch 16, 3x64x64, ResNet-like (limit: raw forward(+backward) of the same "
                "rows at the best chunk)", rows)


if __name__ == "__main__":
    main()
