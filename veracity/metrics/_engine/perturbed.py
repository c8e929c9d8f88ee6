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

from veracity._core.call import Call
from veracity._core.engine import Points, forward_points, points_per_chunk, run_chunks
from veracity._core.seeding import derived_point_generator
from veracity._core.targets import TargetIndex
from veracity._core.validate import check_choice, check_positive_int
from veracity.metrics._engine.explain import (
    ExplainFunc,
    as_explain_func,
    check_attributions,
    check_input_tensor,
    explain_checked,
    repeat_target,
)

PerturbFn = Callable[[int, Tensor], Tensor]
ConsumeFn = Callable[[int, int, Tensor, Tensor, "Tensor | None"], None]


def uniform_noise(radius: float, seed: int) -> PerturbFn:
    """``x + U[-radius, radius]`` per feature (the L-infinity ball of Yeh et al.)."""
    def perturb(point: int, x: Tensor) -> Tensor:
        g = derived_point_generator(seed, point, x.device)
        return x + (torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype) * 2 - 1) * radius
    return perturb


def gaussian_noise(std: float, seed: int, mean: float = 0.0) -> PerturbFn:
    """``x + N(mean, std^2)`` per feature."""
    def perturb(point: int, x: Tensor) -> Tensor:
        g = derived_point_generator(seed, point, x.device)
        return x + torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype) * std + mean
    return perturb


def model_outputs(model: Any, inputs: Tensor) -> Tensor:
    """Raw model outputs for ``inputs`` through the engine (no gradients)."""
    parts: list[Tensor] = []
    points = Points.of(1, (inputs,), lambda start, stop: (inputs,))
    forward_points(Call(model, (inputs,), False, inputs.shape[0], TargetIndex()), points,
                   lambda s, e, values: parts.append(values[0]), raw=True)
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


def per_example_norm(x: Tensor, lead: int, norm: str = "fro") -> Tensor:
    """``fro`` (L2), ``l1`` or ``inf`` norm over everything after the first ``lead`` dimensions."""
    flat = x.reshape(*x.shape[:lead], -1)
    if norm == "inf":
        return flat.abs().amax(-1)
    return flat.abs().sum(-1) if norm == "l1" else flat.norm(dim=-1)


def perturbation_scores(model: Any, inputs: Tensor, target: Any, explain_func: Any,
                        n_samples: int, perturb: PerturbFn,
                        score: Callable[[Tensor, Tensor, Tensor, Tensor | None], Tensor],
                        *, reduce: str = "max", attributions: Tensor | None = None,
                        nan_when_prediction_changes: bool = False, with_outputs: bool = False,
                        max_examples_per_batch: int | None = None,
                        show_progress: bool = False) -> Tensor:
    """The shared body: ``score(original_maps, perturbed, maps, outputs) -> (k, batch)`` per
    chunk of perturbed copies, reduced over the ``n_samples`` copies by max or mean (NaNs,
    e.g. from a changed prediction, are skipped; all-NaN gives NaN)."""
    inputs = check_input_tensor(inputs)
    check_positive_int("n_samples", n_samples)
    check_choice("reduce", reduce, ("max", "mean"))
    explain = as_explain_func(explain_func)
    original = (explain_checked(explain, model, inputs, target) if attributions is None
                else check_attributions(attributions, inputs))
    need_outputs = with_outputs or nan_when_prediction_changes
    predicted = model_outputs(model, inputs).argmax(-1) if nan_when_prediction_changes else None
    scores = torch.empty(n_samples, inputs.shape[0], device=inputs.device)

    def consume(start: int, stop: int, perturbed: Tensor, maps: Tensor, outputs: Tensor | None) -> None:
        values = score(original, perturbed, maps, outputs).to(scores.dtype)
        if predicted is not None and outputs is not None:
            values = torch.where(outputs.argmax(-1) == predicted, values, torch.nan)
        scores[start:stop] = values

    explain_perturbed(explain, model, inputs, target, n_samples, perturb, consume,
                      with_outputs=need_outputs, chunk_rows=max_examples_per_batch,
                      show_progress=show_progress)
    if reduce == "mean":
        return scores.nanmean(0)
    missing = scores.isnan()
    best = scores.masked_fill(missing, -torch.inf).amax(0)
    return best.masked_fill(missing.all(0), torch.nan)
