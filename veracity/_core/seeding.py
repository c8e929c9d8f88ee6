"""Reproducible randomness that does not depend on the chunk size.

Stochastic methods draw one seed per point up front from the user's generator (or torch's
global generator); each point's noise then comes from its own generator. Results are the
same for every chunk size and survive a retried chunk.
"""

from __future__ import annotations

import torch
from torch import Tensor

from veracity._core.validate import check_non_negative, fail


def make_generator(generator: torch.Generator | None, seed: int | None) -> torch.Generator | None:
    """The user's generator, or a fresh one seeded with ``seed``, or None (torch's global RNG)."""
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            fail("generator", "a torch.Generator or None", generator, TypeError)
        return generator
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            fail("seed", "an integer or None", seed, TypeError)
        return torch.Generator().manual_seed(seed)
    return None


def point_seeds(n_points: int, generator: torch.Generator | None) -> list[int]:
    return torch.randint(0, 2**62, (n_points,), generator=generator).tolist()


def point_generator(seed: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def derived_point_generator(seed: int, point: int, device: torch.device) -> torch.Generator:
    """A generator for point ``point`` derived from one base ``seed`` (no seeds drawn up front):
    draws do not depend on how the points are chunked."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + point)


def random_uniform(shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor) -> Tensor:
    """U[0, 1) drawn on the generator's device, then moved to ``like``'s device and dtype."""
    device = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, device=device).to(like.device, like.dtype)


def gaussian_like(like: Tensor, stdev: float, generator: torch.Generator) -> Tensor:
    """``N(0, stdev^2)`` noise of ``like``'s shape, dtype and device."""
    return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype) * stdev


def per_input(name: str, value: float | tuple[float, ...], count: int) -> tuple[float, ...]:
    """A number for every input: a single number is used for all."""
    check_non_negative(name, value)
    if isinstance(value, (tuple, list)):
        if len(value) != count:
            fail(name, f"a number or a tuple of {count} numbers, one per input", value)
        return tuple(float(v) for v in value)
    return (float(value),) * count
