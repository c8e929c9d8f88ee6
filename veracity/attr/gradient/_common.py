"""Shared pieces of the gradient family: gradients at the inputs, input checks."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.engine import Points, gradient_points, warn_if_training
from veracity._core.inputs import prepare_additional_args, prepare_inputs
from veracity._core.targets import TargetIndex, prepare_target


def prepare_call(
    forward_func: Callable[..., Any], inputs: Any, target: Any, additional_forward_args: Any
) -> tuple[tuple[Tensor, ...], bool, int, TargetIndex, tuple[Any, ...]]:
    """Normalise the arguments every gradient method takes; warn about training mode."""
    tup, was_tuple, batch = prepare_inputs(inputs, need_float=True)
    warn_if_training(forward_func)
    return tup, was_tuple, batch, prepare_target(target, batch), prepare_additional_args(additional_forward_args)


def gradients_at(
    forward_func: Callable[..., Any],
    inputs: tuple[Tensor, ...],
    target: TargetIndex,
    args: tuple[Any, ...],
) -> tuple[Tensor, ...]:
    """Gradient of the explained scalar of each example with respect to its inputs."""
    result: list[tuple[Tensor, ...]] = []
    points = Points.of(1, inputs, lambda start, stop: inputs)
    gradient_points(forward_func, points, lambda s, e, grads, scalars: result.append(grads),
                    target=target, additional_forward_args=args)
    return result[0]


def accumulate_weighted(totals: list[Tensor], weights: Tensor, grads: tuple[Tensor, ...]) -> None:
    """``totals[i] += sum_k weights[k] * grads[i][k]`` for gradients stacked point-major."""
    k = weights.shape[0]
    for total, grad in zip(totals, grads):
        stacked = grad.reshape(k, -1).to(total.dtype)
        total += torch.mv(stacked.t(), weights.to(total.dtype)).view_as(total)
