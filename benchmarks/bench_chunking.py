"""Chunk auto-tuning: the tuned run against every fixed chunk size, on a narrow and a wide CNN.

The narrow model is the benchmarks' ResNet-like CNN (32 channels after a 2x max-pool, so its
blocks run at 32x32); the wide one keeps 32 channels at the full 64x64 resolution, about 0.5 MB of
activations per row per layer, where input bytes mislead the 1 MiB budget most. For each
gradient, perturbation and metric workload (batch 4, 3x64x64, 2 threads) the table has one
column per fixed size (rows per model call, pinned with ``memory_budget(bytes, tune=False)``),
the tuned run with a remembered decision ("tuned s") and with an empty cache, tuning included
("cold s"), and ``tuned / best`` (target: within 1.05).

Run: ``.venv/bin/python benchmarks/bench_chunking.py`` (about 10 minutes on a quiet machine;
BENCH_REPEATS, default 3). ``--smoke`` runs tiny sizes in seconds to check the script works.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import print_table  # noqa: E402
from models import resnet_like, wide_resnet_like  # noqa: E402

import veracity  # noqa: E402
from veracity import attr  # noqa: E402
from veracity._core.chunking import forget_tuned_sizes  # noqa: E402
from veracity.metrics import faithfulness_correlation, pixel_flipping  # noqa: E402

SMOKE = "--smoke" in sys.argv
REPEATS = 1 if SMOKE else int(os.environ.get("BENCH_REPEATS", "3"))
FIXED_ROWS = (4, 8, 16) if SMOKE else (4, 8, 16, 32, 64)
BATCH = 4


def workloads(model: nn.Module, x: torch.Tensor) -> list[tuple[str, Callable[[], object]]]:
    """Gradient, perturbation and metric workloads, none with an explicit chunk argument."""
    side = x.shape[-1]
    cell = side // 8
    cells = torch.arange(side) // cell
    groups = (cells.view(-1, 1) * 8 + cells.view(1, -1)).view(1, 1, side, side)  # 64 superpixels
    saliency = torch.rand(x.shape[0], 1, side, side, generator=torch.Generator().manual_seed(1))
    steps = 8 if SMOKE else 50
    return [
        (f"IntegratedGradients n_steps={steps}",
         lambda: attr.IntegratedGradients(model).attribute(x, target=0, n_steps=steps)),
        (f"NoiseTunnel(Saliency) nt_samples={steps}",
         lambda: attr.NoiseTunnel(attr.Saliency(model)).attribute(
             x, target=0, nt_samples=steps, stdevs=0.1, generator=torch.Generator().manual_seed(0))),
        ("Occlusion window 8 stride 4",
         lambda: attr.Occlusion(model).attribute(x, target=0, sliding_window_shapes=(3, 8, 8),
                                                 strides=(3, 4, 4))),
        ("FeatureAblation 64 groups",
         lambda: attr.FeatureAblation(model).attribute(x, target=0, feature_mask=groups)),
        ("pixel_flipping features_in_step=64",
         lambda: pixel_flipping(model, x, saliency, target=0, features_in_step=side * side // 64)),
        (f"faithfulness_correlation {steps} runs",
         lambda: faithfulness_correlation(model, x, saliency, target=0, nr_runs=steps,
                                          subset_size=side * side // 16, seed=0)),
    ]


def timed_row(name: str, run: Callable[[], object], row_bytes: int) -> dict[str, object]:
    """Seconds at each fixed size, tuned (remembered) and cold; the ratio tuned / best fixed.

    The configurations are timed round-robin (one call of each per round, the best of the
    rounds kept), so that the slow drift of a shared machine touches all of them alike.
    """
    def fixed(rows: int) -> Callable[[], object]:
        def call() -> object:
            with veracity.memory_budget(rows * row_bytes, tune=False):
                return run()
        return call

    def tuned() -> object:
        with veracity.memory_budget(tune=True):
            return run()

    def cold() -> object:
        forget_tuned_sizes()
        return tuned()

    configs = {**{f"{rows} rows s": fixed(rows) for rows in FIXED_ROWS}, "tuned s": tuned, "cold s": cold}
    forget_tuned_sizes()
    for call in configs.values():  # warm-up round; the tuned call makes the decision it then reuses
        call()
    best = dict.fromkeys(configs, float("inf"))
    for _ in range(REPEATS):
        for label, call in configs.items():
            began = time.perf_counter()
            call()
            best[label] = min(best[label], time.perf_counter() - began)
    row: dict[str, object] = {"workload": name, **best}
    best_rows = min(FIXED_ROWS, key=lambda rows: best[f"{rows} rows s"])
    row["best rows"] = best_rows
    row["tuned / best"] = best["tuned s"] / best[f"{best_rows} rows s"]
    row["cold / best"] = best["cold s"] / best[f"{best_rows} rows s"]
    return row


def main() -> None:
    torch.set_num_threads(2)
    side, channels = (16, 8) if SMOKE else (64, 32)
    x = torch.rand(BATCH, 3, side, side, generator=torch.Generator().manual_seed(0))
    row_bytes = x[0].numel() * x.element_size()
    narrow = resnet_like() if not SMOKE else wide_resnet_like(channels=4)
    models = [("narrow (ResNet-like, pooled)", narrow), ("wide (32 channels, full resolution)",
                                                         wide_resnet_like(channels=channels))]
    for label, model in models:
        rows = [timed_row(name, run, row_bytes) for name, run in workloads(model, x)]
        print_table(f"Chunk sizes, {label}, batch {BATCH}, 3x{side}x{side}, 2 threads", rows)


if __name__ == "__main__":
    main()
