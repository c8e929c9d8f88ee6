"""Captum-compatible metrics: ``infidelity``, ``infidelity_perturb_func_decorator``, ``sensitivity_max``.

Same signatures, defaults and numbers as ``captum.metrics`` 0.9 for the same perturbations:
the user's ``perturb_func`` is called with the same arguments, in the same groups of
``max_examples_per_batch // batch`` samples and the same row order (each example repeated
``repeat_interleave``-style), so it consumes randomness exactly as under Captum. What differs
is inside: the model runs through the engine in memory-budgeted chunks (rows reordered
point-major), and ``f(inputs)`` is evaluated once instead of once per group.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.engine import Points, forward_points, outputs_at
from veracity._core.inputs import as_tuple, prepare_additional_args, prepare_inputs
from veracity._core.targets import prepare_target
from veracity._core.validate import check_optional_positive_int, check_positive_int, fail
from veracity.metrics._explain import inputs_with_attributions

__all__ = ["infidelity", "infidelity_perturb_func_decorator", "sensitivity_max"]

TensorOrTuple = Tensor | tuple[Tensor, ...]


def _safe_div(numerator: Tensor, denominator: Tensor | float) -> Tensor:
    if isinstance(denominator, (int, float)):
        return numerator / (denominator if denominator != 0 else 1.0)
    return numerator / torch.where(denominator != 0, denominator, torch.ones_like(denominator))


def _baseline_tuple(baselines: Any, count: int) -> tuple[Any, ...]:
    items = baselines if isinstance(baselines, tuple) else (baselines,)
    if len(items) != count or not all(isinstance(b, (Tensor, int, float)) for b in items):
        fail("baselines", f"a number, a tensor or a tuple of {count} of them", baselines, TypeError)
    return items


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
                references = _baseline_tuple(baselines, len(originals))
            perturbations = tuple(
                _safe_div(x - p, x - b) if multiply_by_inputs else x - p
                for x, p, b in zip(originals, perturbed, references))
            return perturbations, perturbed
        return with_perturbations
    return decorate


def _group_sizes(n_samples: int, batch: int, max_examples_per_batch: int | None) -> list[int]:
    """Samples per ``perturb_func`` call, exactly as Captum splits them."""
    check_positive_int("n_perturb_samples", n_samples)
    check_optional_positive_int("max_examples_per_batch", max_examples_per_batch)
    per = n_samples if max_examples_per_batch is None else min(
        max(max_examples_per_batch // batch, 1), n_samples)
    sizes = [per] * (n_samples // per)
    return sizes + ([n_samples % per] if n_samples % per else [])


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
    references = None if baselines is None else _baseline_tuple(baselines, len(tup))
    target_index = prepare_target(target, batch)
    args = prepare_additional_args(additional_forward_args)
    sizes = _group_sizes(n_perturb_samples, batch, max_examples_per_batch)
    with torch.no_grad():
        original = outputs_at(forward_func, [tup], target_index, args)[0]
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
            forward_points(forward_func, points, lambda s, e, v, out=values: out.append(v),
                           target=target_index, additional_forward_args=args)
            changes = (original[:, None] - torch.cat(values).T).double()
            explained = sum((a.repeat_interleave(k, 0) * p).reshape(batch * k, -1).sum(1)
                            for a, p in zip(attrs, perturbations)).view(batch, k).double()
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


def default_perturb_func(inputs: TensorOrTuple, perturb_radius: float = 0.02) -> tuple[Tensor, ...]:
    """Uniform noise in the L-infinity ball of ``perturb_radius``, drawn as Captum draws it."""
    tup, _ = as_tuple(inputs)
    return tuple(x + torch.empty(x.size(), dtype=torch.float32).uniform_(-perturb_radius, perturb_radius)
                 .to(x.device) for x in tup)


def _expanded_kwargs(kwargs: dict[str, Any], inputs: tuple[Tensor, ...], k: int) -> dict[str, Any]:
    """Captum's expansion of ``target``, ``additional_forward_args`` and ``baselines``."""
    out = copy.deepcopy(kwargs)
    if out.get("additional_forward_args") is not None:
        out["additional_forward_args"] = tuple(
            a.repeat_interleave(k, 0) if isinstance(a, Tensor) and a.dim() > 0 else a
            for a in prepare_additional_args(out["additional_forward_args"]))
    target = out.get("target")
    if isinstance(target, list):
        out["target"] = [t for t in target for _ in range(k)]
    elif isinstance(target, Tensor) and target.numel() > 1:
        out["target"] = target.repeat_interleave(k, 0)
    if "baselines" in kwargs:
        references = _baseline_tuple(kwargs["baselines"], len(inputs))
        if isinstance(references[0], Tensor) and references[0].shape == inputs[0].shape:
            out["baselines"] = tuple(
                b.repeat_interleave(k, 0) if isinstance(b, Tensor) and b.shape[0] == x.shape[0]
                and b.shape[0] > 1 else b for x, b in zip(inputs, references))
    return out


def sensitivity_max(explanation_func: Callable[..., TensorOrTuple], inputs: TensorOrTuple,
                    perturb_func: Callable[..., TensorOrTuple] = default_perturb_func,
                    perturb_radius: float = 0.02, n_perturb_samples: int = 10,
                    norm_ord: str = "fro", max_examples_per_batch: int | None = None,
                    **kwargs: Any) -> Tensor:
    """Max-sensitivity (Yeh et al. 2019), Captum's ``sensitivity_max``: lower is better.

    ``max_s ||Phi(x + d_s) - Phi(x)|| / ||Phi(x)||`` over ``n_perturb_samples`` perturbations
    (uniform in the L-infinity ball of ``perturb_radius`` by default); zero norms count as 1.
    ``explanation_func`` is called as Captum calls it (the original inputs as a tuple, the
    perturbed ones in ``perturb_func``'s form, ``kwargs`` expanded per sample) and is not run
    under inference mode, so gradient methods work. Returns ``(batch,)``.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> from veracity.metrics import sensitivity_max
        >>> model = torch.nn.Linear(3, 2)
        >>> sensitivity_max(Saliency(model).attribute, torch.rand(2, 3), target=0)
        tensor([0., 0.])
    """
    tup, _, batch = prepare_inputs(inputs)
    sizes = _group_sizes(n_perturb_samples, batch, max_examples_per_batch)
    takes_radius = len(inspect.signature(perturb_func).parameters) > 1
    with torch.no_grad():
        reference, _ = as_tuple(explanation_func(tup, **kwargs), "explanation_func's result")
        flat = torch.cat([r.reshape(batch, -1) for r in reference], 1)
        norm = torch.norm(flat, p=norm_ord, dim=1, keepdim=True)
        norm = torch.where(norm == 0, torch.ones_like(norm), norm)
        best: Tensor | None = None
        expanded_kwargs: dict[int, dict[str, Any]] = {}
        for k in sizes:
            expanded = tuple(x.repeat_interleave(k, 0) for x in tup)
            call_in = expanded[0] if len(expanded) == 1 else expanded
            perturbed = perturb_func(call_in, perturb_radius) if takes_radius else perturb_func(call_in)
            if k not in expanded_kwargs:
                expanded_kwargs = {k: _expanded_kwargs(kwargs, tup, k)}
            explained, _ = as_tuple(explanation_func(perturbed, **expanded_kwargs[k]),
                                    "explanation_func's result")
            change = torch.cat([(r.repeat_interleave(k, 0) - e).reshape(batch * k, -1)
                                for r, e in zip(reference, explained)], 1)
            change_norm = torch.norm(change, p=norm_ord, dim=1, keepdim=True)
            value = (change_norm / norm.repeat_interleave(k, 0)).view(batch, k).max(1).values
            best = value if best is None else torch.max(best, value)
    assert best is not None
    return best
