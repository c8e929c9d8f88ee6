"""How Captum's metrics split their samples and read ``baselines``, shared by ``infidelity``
and ``sensitivity_max`` so that a user's ``perturb_func`` is called exactly as under Captum."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from veracity._core.validate import check_optional_positive_int, check_positive_int, fail

TensorOrTuple = Tensor | tuple[Tensor, ...]


def baseline_tuple(baselines: Any, count: int) -> tuple[Any, ...]:
    items = baselines if isinstance(baselines, tuple) else (baselines,)
    if len(items) != count or not all(isinstance(b, (Tensor, int, float)) for b in items):
        fail("baselines", f"a number, a tensor or a tuple of {count} of them", baselines, TypeError)
    return items


def group_sizes(n_samples: int, batch: int, max_examples_per_batch: int | None) -> list[int]:
    """Samples per ``perturb_func`` call, exactly as Captum splits them."""
    check_positive_int("n_perturb_samples", n_samples)
    check_optional_positive_int("max_examples_per_batch", max_examples_per_batch)
    per = n_samples if max_examples_per_batch is None else min(
        max(max_examples_per_batch // batch, 1), n_samples)
    sizes = [per] * (n_samples // per)
    return sizes + ([n_samples % per] if n_samples % per else [])
