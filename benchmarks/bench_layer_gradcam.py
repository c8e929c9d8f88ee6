"""Score-CAM: pytorch-grad-cam's default ScoreCAM vs veracity's LayerScoreCam, in one process.

Runs in the separate venv that has torchvision and grad-cam (see bench_layer.py, which calls
this script as a subprocess); prints one JSON line. Not part of the test suite.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, forward_limit  # noqa: E402
from models import images, resnet_like  # noqa: E402

from veracity.attr import LayerScoreCam  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)


def main() -> None:
    from pytorch_grad_cam import ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    model, x, target = resnet_like(), images(16), 3
    layer = model.block2  # 32 channels, 32x32 maps

    def grad_cam() -> object:
        with ScoreCAM(model=model, target_layers=[layer]) as cam, contextlib.redirect_stderr(io.StringIO()):
            return cam(input_tensor=x, targets=[ClassifierOutputTarget(target)] * x.shape[0])

    def veracity() -> object:
        return LayerScoreCam(model, layer).attribute(x, target=target, score="channel_softmax",
                                                     upsample_to_input=True)

    limit, chunk = forward_limit(model, x, rows=x.shape[0] * 32, repeats=repeats)
    print(json.dumps({"torch": torch.__version__, "gradcam_s": best_time(grad_cam, repeats),
                      "veracity_s": best_time(veracity, repeats), "limit_s": limit, "limit_chunk": chunk}))


if __name__ == "__main__":
    main()
