"""Explanations (and model outputs) of many perturbed copies of a batch, in budgeted chunks.

Robustness metrics and SmoothMPRT need the explanation of ``n_points`` perturbed copies of
the batch. The copies are described as engine :class:`Points` (built lazily, point-major),
split into chunks by the memory budget, and each chunk is explained by ONE call of the
(batched) explanation function on the stacked copies, not one call per sample.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.evaluate import Points, forward_points, points_per_chunk, run_chunks
from veracity.metrics._explain import ExplainFunc, explain_checked, repeat_target

PerturbFn = Callable[[int, Tensor], Tensor]
ConsumeFn = Callable[[int, int, Tensor, Tensor, "Tensor | None"], None]


def point_generator(seed: int, point: int, device: torch.device) -> torch.Generator:
    """A generator for one point: draws do not depend on how the points are chunked."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + point)


def uniform_noise(radius: float, seed: int) -> PerturbFn:
    """``x + U[-radius, radius]`` per feature (the L-infinity ball of Yeh et al.)."""
    def perturb(point: int, x: Tensor) -> Tensor:
        g = point_generator(seed, point, x.device)
        return x + (torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype) * 2 - 1) * radius
    return perturb


def gaussian_noise(std: float, seed: int, mean: float = 0.0) -> PerturbFn:
    """``x + N(mean, std^2)`` per feature."""
    def perturb(point: int, x: Tensor) -> Tensor:
        g = point_generator(seed, point, x.device)
        return x + torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype) * std + mean
    return perturb


def model_outputs(model: Any, inputs: Tensor) -> Tensor:
    """Raw model outputs for ``inputs`` through the engine (no gradients)."""
    parts: list[Tensor] = []
    points = Points.of(1, (inputs,), lambda start, stop: (inputs,))
    forward_points(model, points, lambda s, e, values: parts.append(values[0]))
    return parts[0]


def explain_perturbed(
    explain: ExplainFunc,
    model: Any,
    inputs: Tensor,
    target: Any,
    n_points: int,
    perturb: PerturbFn,
    consume: ConsumeFn,
    *,
    with_outputs: bool = False,
    chunk_rows: int | None = None,
    chunk_name: str = "max_examples_per_batch",
    show_progress: bool = False,
    desc: str = "perturbed explanations",
) -> None:
    """Explain ``n_points`` perturbed copies of ``inputs``; ``consume`` gets them per chunk.

    ``consume(start, stop, perturbed, explanations, outputs)`` receives tensors shaped
    ``(stop - start, batch, ...)``; ``outputs`` are the model's raw outputs on the perturbed
    copies when ``with_outputs`` is set, else None.
    """
    batch = inputs.shape[0]

    def build(start: int, stop: int) -> tuple[Tensor, ...]:
        return (torch.cat([perturb(p, inputs) for p in range(start, stop)]),)

    points = Points.of(n_points, (inputs,), build)
    size = points_per_chunk(points, chunk_rows, chunk_name)

    def step(start: int, stop: int) -> None:
        k = stop - start
        (stacked,) = build(start, stop)
        explanations = explain_checked(explain, model, stacked, repeat_target(target, batch, k))
        outputs = model_outputs(model, stacked) if with_outputs else None
        consume(start, stop, stacked.reshape(k, *inputs.shape),
                explanations.reshape(k, *inputs.shape),
                None if outputs is None else outputs.reshape(k, batch, *outputs.shape[1:]))

    run_chunks(points, size, show_progress, desc, step)
