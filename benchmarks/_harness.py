"""Timing and table helpers shared by the benchmark scripts. Not part of the test suite."""

from __future__ import annotations

import time
from typing import Callable

import torch


def best_time(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """The fastest of ``repeats`` wall-clock runs after ``warmup`` runs (seconds)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def forward_backward_limit(model: torch.nn.Module, inputs: torch.Tensor, rows: int, target: int = 0,
                           chunks: tuple[int, ...] = (16, 32, 64, 128), repeats: int = 3) -> tuple[float, int]:
    """The raw cost of ``rows`` forward+backward passes at the best chunk size: (seconds, chunk)."""
    pool = inputs.repeat((rows + inputs.shape[0] - 1) // inputs.shape[0], 1, 1, 1)[:rows]

    def run(chunk: int) -> None:
        for start in range(0, rows, chunk):
            x = pool[start:start + chunk].clone().requires_grad_()
            torch.autograd.grad(model(x)[:, target].sum(), x)

    return min((best_time(lambda c=c: run(c), repeats), c) for c in chunks)


def forward_limit(model: torch.nn.Module, inputs: torch.Tensor, rows: int,
                  chunks: tuple[int, ...] = (16, 32, 64, 128, 256), repeats: int = 3) -> tuple[float, int]:
    """The raw cost of ``rows`` forward passes at the best chunk size: (seconds, chunk)."""
    pool = inputs.repeat((rows + inputs.shape[0] - 1) // inputs.shape[0], 1, 1, 1)[:rows]

    def run(chunk: int) -> None:
        with torch.inference_mode():
            for start in range(0, rows, chunk):
                model(pool[start:start + chunk])

    return min((best_time(lambda c=c: run(c), repeats), c) for c in chunks)


def print_table(title: str, rows: list[dict[str, object]]) -> None:
    """Print rows as an aligned Markdown table (pasteable into issue notes)."""
    if not rows:
        return
    keys = list(rows[0])
    cells = [[_fmt(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    print(f"\n### {title}\n")
    print("| " + " | ".join(k.ljust(w) for k, w in zip(keys, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths)) + " |")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:.0f}"
    return "" if value is None else str(value)
