"""Model outputs for many perturbed versions of one input, ``perturbations_per_eval`` per call."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.attack import raw_outputs
from veracity._core.inputs import repeat_args
from veracity._core.validate import check_positive_int, fail


def as_model_inputs(value: Any) -> tuple[Any, ...]:
    """A tuple is unpacked into the model's positional arguments; anything else is one argument."""
    return value if isinstance(value, tuple) else (value,)


def _is_tensors(value: Any) -> bool:
    parts = as_model_inputs(value)
    return all(isinstance(p, Tensor) and p.dim() > 0 for p in parts)


def grouped_outputs(forward_func: Callable[..., Any], perturbed: list[Any], args: tuple[Any, ...],
                    perturbations_per_eval: int) -> list[Any]:
    """The model's outputs for each entry of ``perturbed``: entries are stacked along the batch
    dimension, up to ``perturbations_per_eval`` of them per model call (they must then be tensors
    or tuples of tensors of the same shapes), and the outputs split back."""
    check_positive_int("perturbations_per_eval", perturbations_per_eval)
    if perturbations_per_eval == 1 or len(perturbed) <= 1:
        return [raw_outputs(forward_func, as_model_inputs(p), args) for p in perturbed]
    if not all(_is_tensors(p) for p in perturbed):
        fail("perturbations_per_eval", "1 unless the (preprocessed) inputs are tensors or tuples of tensors",
             str(perturbations_per_eval))
    batch = as_model_inputs(perturbed[0])[0].shape[0]
    results: list[Any] = []
    for start in range(0, len(perturbed), perturbations_per_eval):
        group = [as_model_inputs(p) for p in perturbed[start:start + perturbations_per_eval]]
        stacked = tuple(torch.cat(parts) for parts in zip(*group))
        output = raw_outputs(forward_func, stacked, repeat_args(args, batch, len(group)))
        if not isinstance(output, Tensor) or output.dim() == 0 or output.shape[0] != batch * len(group):
            fail("forward_func", f"a tensor output with one row per input row ({batch * len(group)})", output)
        results.extend(output.split(batch))
    return results
