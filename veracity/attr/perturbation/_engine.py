"""The one perturbation engine: explained scores of many perturbed copies of a batch.

Every method of the family describes its perturbations as points (a feature removed, a
coalition of features present, a window occluded, a random mask) and gets back the explained
scalar of every point and example as one ``(n_points, batch)`` tensor, evaluated through
:func:`veracity._core.evaluate.forward_points` in chunks (``perturbations_per_eval`` copies
per model call, or as many as the memory budget allows). What each method does with the
scores (differences, Shapley weights, a surrogate fit) is cheap next to the model calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.evaluate import Points, forward_points, warn_if_training
from veracity._core.inputs import prepare_additional_args, prepare_baselines, prepare_inputs
from veracity._core.targets import TargetIndex, prepare_target
from veracity._core.validate import check_optional_positive_int
from veracity.attr.perturbation._groups import FeatureGroups

BuildFn = Callable[[int, int], tuple[Tensor, ...]]


@dataclass(frozen=True)
class Call:
    """One ``attribute`` call's normalised arguments."""

    inputs: tuple[Tensor, ...]
    was_tuple: bool
    batch: int
    baselines: tuple[Tensor, ...]
    target: TargetIndex
    args: tuple[Any, ...]


def prepare_call(forward_func: Any, inputs: Any, baselines: Any, target: Any,
                 additional_forward_args: Any, perturbations_per_eval: Any) -> Call:
    """Normalise the arguments every perturbation method takes; warn about training mode."""
    tup, was_tuple, batch = prepare_inputs(inputs)
    check_optional_positive_int("perturbations_per_eval", perturbations_per_eval)
    warn_if_training(forward_func)
    return Call(tup, was_tuple, batch, prepare_baselines(baselines, tup), prepare_target(target, batch),
                prepare_additional_args(additional_forward_args))


def blend(x: Tensor, replacement: Tensor, keep: Tensor) -> Tensor:
    """``x`` where ``keep``, else ``replacement``, stacked point-major: ``(k * batch, ...)``.

    ``x`` and ``replacement`` are ``(batch or 1, ...)``; ``keep`` is ``(k, batch or 1, ...)``,
    boolean (exact selection) or real in [0, 1] (a soft mask: a convex combination).
    """
    x0, r0 = x.unsqueeze(0), replacement.unsqueeze(0)
    if keep.dtype == torch.bool:
        mixed = torch.where(keep, x0, r0)
    else:
        mixed = r0 + keep.to(x.dtype) * (x0 - r0)
    k, batch = keep.shape[0], x.shape[0]
    return mixed.expand(k, batch, *x.shape[1:]).reshape(k * batch, *x.shape[1:])


def presence_builder(call: Call, groups: FeatureGroups, presence: Callable[[int, int], Tensor]) -> BuildFn:
    """Points whose features are present (input value) or absent (baseline value).

    ``presence(start, stop)`` gives the points' coalitions, ``(k, n_features)`` or
    ``(k, batch, n_features)`` booleans.
    """

    def build(start: int, stop: int) -> tuple[Tensor, ...]:
        keeps = groups.keep(presence(start, stop))
        return tuple(blend(x, b, keep) for x, b, keep in zip(call.inputs, call.baselines, keeps))

    return build


def scores(forward_func: Any, call: Call, n_points: int, build: BuildFn, perturbations_per_eval: int | None,
           show_progress: bool, desc: str) -> Tensor:
    """The explained scalar of every point and example, ``(n_points, batch)``, at least float32."""
    result: list[Tensor] = []

    def consume(start: int, stop: int, values: Tensor) -> None:
        result.append(values.to(torch.promote_types(values.dtype, torch.float32)))

    rows = None if perturbations_per_eval is None else perturbations_per_eval * call.batch
    forward_points(forward_func, Points.of(n_points, call.inputs, build), consume, target=call.target,
                   additional_forward_args=call.args, chunk_rows=rows, chunk_name="perturbations_per_eval",
                   show_progress=show_progress, desc=desc)
    return torch.cat(result)


def coalition_matrix(codes: Tensor, n_features: int) -> Tensor:
    """Bit ``f`` of each integer code says whether feature ``f`` is present: ``(k, n_features)``."""
    bits = torch.arange(n_features, device=codes.device)
    return (codes.unsqueeze(1) >> bits) & 1 == 1
