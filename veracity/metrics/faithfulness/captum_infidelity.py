"""Captum's ``infidelity`` and ``infidelity_perturb_func_decorator``.

Same signatures, defaults and numbers as ``captum.metrics`` 0.9 for the same perturbations:
the user's ``perturb_func`` is called with the same arguments, in the same groups of
``max_examples_per_batch // batch`` samples and the same row order (each example repeated
``repeat_interleave``-style), so it consumes randomness exactly as under Captum
(:mod:`veracity.metrics._engine.captum_batches`). What differs is inside: the model runs
through the engine in memory-budgeted chunks (rows reordered point-major), and ``f(inputs)``
is evaluated once instead of once per group.
"""

from __future__ import annotations

from typing import Any, Callable, cast

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.engine import Points, forward_points, outputs_at
from veracity._core.inputs import as_tuple
from veracity._core.validate import fail
from veracity.metrics._engine.captum_batches import TensorOrTuple, baseline_tuple, group_sizes
from veracity.metrics._engine.explain import inputs_with_attributions

__all__ = ["infidelity", "infidelity_perturb_func_decorator"]


def _safe_div(numerator: Tensor, denominator: Tensor | float) -> Tensor:
    if isinstance(denominator, (int, float)):
        return numerator / (denominator if denominator != 0 else 1.0)
    return numerator / torch.where(denominator != 0, denominator, torch.ones_like(denominator))


def infidelity_perturb_func_decorator(multiply_by_inputs: bool = True) -> Callable[..., Any]:
    """Turn a function returning perturbed inputs into one returning ``(perturbations, perturbed)``.

    As Captum: the perturbation is ``inputs - perturbed``, divided by ``inputs - baselines``
    (or by ``inputs``; zero denominators become 1) when ``multiply_by_inputs`` (for global
    attributions that already contain the input multiplier).

    Example:
        >>> import torch
        >>> from veracity.metrics import infidelity_perturb_func_decorator
        >>> @infidelity_perturb_func_decorator(multiply_by_inputs=False)
        ... def halve(inputs):
        ...     return inputs * 0.5
        >>> perturbations, perturbed = halve(torch.ones(1, 2))
        >>> perturbations[0]
        tensor([[0.5000, 0.5000]])
    """
    def decorate(perturb_func: Callable[..., Any]) -> Callable[..., Any]:
        def with_perturbations(inputs: TensorOrTuple, baselines: Any = None
                               ) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
            perturbed = perturb_func(inputs, baselines) if baselines is not None \
                else perturb_func(inputs)
            perturbed, _ = as_tuple(perturbed, "perturb_func's result")
            originals, _ = as_tuple(inputs)
            if baselines is None:
                references: tuple[Any, ...] = (0.0,) * len(originals)
            else:
                references = baseline_tuple(baselines, len(originals))
            perturbations = tuple(
                _safe_div(x - p, x - b) if multiply_by_inputs else x - p
                for x, p, b in zip(originals, perturbed, references))
            return perturbations, perturbed
        return with_perturbations
    return decorate


def _point_major(rows: tuple[Tensor, ...], batch: int, k: int) -> Callable[[int, int], tuple[Tensor, ...]]:
    """A ``build`` for rows laid out example-major (``b * k + s``), served point-major."""
    def build(start: int, stop: int) -> tuple[Tensor, ...]:
        return tuple(r.view(batch, k, *r.shape[1:])[:, start:stop].transpose(0, 1)
                     .reshape((stop - start) * batch, *r.shape[1:]) for r in rows)
    return build


def infidelity(forward_func: Callable[..., Tensor], perturb_func: Callable[..., Any],
               inputs: TensorOrTuple, attributions: TensorOrTuple, baselines: Any = None,
               additional_forward_args: Any = None, target: Any = None,
               n_perturb_samples: int = 10, max_examples_per_batch: int | None = None,
               normalize: bool = False) -> Tensor:
    """Infidelity (Yeh et al. 2019), Captum's ``infidelity``: lower is better.

    ``E_I[(I^T Phi - (f(x) - f(x - I)))^2]`` over ``n_perturb_samples`` perturbations from
    ``perturb_func(inputs[, baselines]) -> (perturbations, perturbed_inputs)``; with
    ``normalize`` the attributions are first scaled by the optimal
    ``beta = E[I^T Phi * df] / E[(I^T Phi)^2]``. Returns ``(batch,)``.

    Example:
        >>> import torch
        >>> from veracity.metrics import infidelity
        >>> model = torch.nn.Linear(3, 1)
        >>> def perturb(x):
        ...     noise = torch.randn_like(x)
        ...     return noise, x - noise
        >>> x = torch.rand(2, 3)
        >>> infidelity(model, perturb, x, model.weight.detach().expand(2, 3)).abs().max() < 1e-8
        tensor(True)
    """
    tup, attrs, batch = inputs_with_attributions(inputs, attributions)
    references = None if baselines is None else baseline_tuple(baselines, len(tup))
    call = Call.of(forward_func, tup, target, additional_forward_args)
    sizes = group_sizes(n_perturb_samples, batch, max_examples_per_batch)
    with torch.no_grad():
        original = outputs_at(call, [tup])[0]
        totals = [torch.zeros(batch, dtype=torch.float64, device=tup[0].device) for _ in range(3)]
        for k in sizes:
            expanded = tuple(x.repeat_interleave(k, 0) for x in tup)
            ref = None if references is None else tuple(
                b.repeat_interleave(k, 0) if isinstance(b, Tensor) and b.shape[0] == x.shape[0]
                and b.shape[0] > 1 else b for x, b in zip(tup, references))
            call_in = expanded[0] if len(expanded) == 1 else expanded
            call_ref = None if ref is None else (ref[0] if len(ref) == 1 else ref)
            result = perturb_func(call_in, call_ref) if call_ref is not None else perturb_func(call_in)
            if not isinstance(result, tuple) or len(result) != 2:
                fail("perturb_func", "a function returning (perturbations, perturbed_inputs)",
                     result, TypeError)
            perturbations, _ = as_tuple(result[0], "perturbations")
            perturbed, _ = as_tuple(result[1], "perturbed_inputs")
            if len(perturbations) != len(tup) or len(perturbed) != len(tup) or any(
                    p.shape[1:] != q.shape[1:] for p, q in zip(perturbations, perturbed)):
                fail("perturb_func", "perturbations and perturbed inputs of matching shapes, "
                     "one per input", result)
            values: list[Tensor] = []
            points = Points.of(k, tup, _point_major(perturbed, batch, k))
            forward_points(call, points, lambda s, e, v, out=values: out.append(v))  # type: ignore[misc]  # default-arg lambda
            changes = (original[:, None] - torch.cat(values).T).double()
            explained = cast(Tensor, sum((a.repeat_interleave(k, 0) * p).reshape(batch * k, -1).sum(1)
                                         for a, p in zip(attrs, perturbations))).view(batch, k).double()
            parts: tuple[Tensor, ...]
            if normalize:
                parts = (explained.pow(2), explained * changes, changes.pow(2))
            else:
                parts = ((explained - changes).pow(2),)
            for total, part in zip(totals, parts):
                total += part.sum(1)
    if normalize:
        beta = _safe_div(totals[1], totals[0])
        value = beta * beta * totals[0] - 2 * beta * totals[1] + totals[2]
    else:
        value = totals[0]
    return (value / n_perturb_samples).to(attrs[0].dtype)
