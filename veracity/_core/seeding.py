"""Reproducible randomness that does not depend on the chunk size.

Stochastic methods draw one seed per point up front from the user's generator (or torch's
global generator); each point's noise then comes from its own generator. Results are the
same for every chunk size and survive a retried chunk.
"""

from __future__ import annotations

import torch
from torch import Tensor


def point_seeds(n_points: int, generator: torch.Generator | None) -> list[int]:
    return torch.randint(0, 2**62, (n_points,), generator=generator).tolist()


def point_generator(seed: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def gaussian_like(like: Tensor, stdev: float, generator: torch.Generator) -> Tensor:
    """``N(0, stdev^2)`` noise of ``like``'s shape, dtype and device."""
    return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype) * stdev


def per_input(name: str, value: float | tuple[float, ...], count: int) -> tuple[float, ...]:
    """A number for every input: a single number is used for all."""
    from veracity._core.validate import check_non_negative, fail

    check_non_negative(name, value)
    if isinstance(value, (tuple, list)):
        if len(value) != count:
            fail(name, f"a number or a tuple of {count} numbers, one per input", value)
        return tuple(float(v) for v in value)
    return (float(value),) * count
