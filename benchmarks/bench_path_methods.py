"""Guided IG and Blur IG (50 steps) against the raw cost of their forward+backward passes.

There is no Captum anchor for these methods, so the reference is the limit: Guided IG needs 50
sequential forward+backward passes of the batch (each step's point depends on the previous
gradient), Blur IG ``50 x batch`` independent rows (at the best chunk size). The target is a
ratio to the limit of at most 1.3. IG (50 steps) is listed for comparison.

Run: .venv/bin/python benchmarks/bench_path_methods.py [--quick]
"""

from __future__ import annotations

import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, forward_backward_limit, print_table  # noqa: E402
from models import images, resnet_like  # noqa: E402

from veracity import attr as vattr  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)
STEPS = 50


def sequential_limit(model: torch.nn.Module, x: torch.Tensor, steps: int, target: int, repeats: int) -> float:
    """``steps`` forward+backward passes of the whole batch, one after the other."""
    def run() -> None:
        for _ in range(steps):
            point = x.clone().requires_grad_()
            torch.autograd.grad(model(point)[:, target].sum(), point)
    return best_time(run, repeats)


def main(quick: bool = False) -> None:
    batch = 2 if quick else 16
    steps = 4 if quick else STEPS
    repeats = 1 if quick else int(os.environ.get("BENCH_REPEATS", "3"))
    model = resnet_like()
    x = images(batch)
    target = 3
    guided_limit = sequential_limit(model, x, steps, target, repeats)
    rows_limit, best_chunk = forward_backward_limit(model, x, rows=batch * steps, target=target, repeats=repeats,
                                                    chunks=(16, 32, 64, 128) if not quick else (8,))
    cases = [
        ("GuidedIntegratedGradients", guided_limit, f"{steps} sequential passes of {batch}",
         lambda: vattr.GuidedIntegratedGradients(model).attribute(x, target=target, n_steps=steps)),
        ("BlurIntegratedGradients", rows_limit, f"{batch * steps} rows, chunk {best_chunk}",
         lambda: vattr.BlurIntegratedGradients(model).attribute(x, target=target, n_steps=steps, max_sigma=10.0)),
        ("IntegratedGradients (for comparison)", rows_limit, f"{batch * steps} rows, chunk {best_chunk}",
         lambda: vattr.IntegratedGradients(model).attribute(x, target=target, n_steps=steps)),
    ]
    rows = []
    for name, limit, what, call in cases:
        seconds = best_time(call, repeats)
        rows.append({"method": f"{name} n_steps={steps}", "veracity s": seconds, "limit s": limit,
                     "limit is": what, "ratio to limit (target <= 1.3)": seconds / limit})
    print_table(f"Path methods, batch {batch}, 3x64x64 ResNet-like{' (quick)' if quick else ''}", rows)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
