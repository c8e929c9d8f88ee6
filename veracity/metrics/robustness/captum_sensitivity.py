"""Captum's ``sensitivity_max`` (Yeh et al. 2019): the largest change of the explanation under
small input perturbations.

Same signature, defaults and numbers as ``captum.metrics`` 0.9: ``perturb_func`` and
``explanation_func`` are called with the same arguments, in the same groups of
``max_examples_per_batch // batch`` samples and the same row order
(:mod:`veracity.metrics._engine.captum_batches`), so they consume randomness exactly as under
Captum.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.inputs import as_tuple, prepare_additional_args, prepare_inputs
from veracity.metrics._engine.captum_batches import TensorOrTuple, baseline_tuple, group_sizes

__all__ = ["sensitivity_max"]


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
        references = baseline_tuple(kwargs["baselines"], len(inputs))
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
    sizes = group_sizes(n_perturb_samples, batch, max_examples_per_batch)
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
