"""Continuity (along translations) and consistency (same explanation, same prediction?);
shared machinery as :mod:`.sensitivity`."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from veracity._core.validate import check_positive_int, fail
from veracity.metrics._engine.explain import (
    as_explain_func,
    check_attributions,
    check_input_tensor,
    explain_checked,
)
from veracity.metrics._engine.perturbed import model_outputs, per_example_norm, perturbation_scores

__all__ = ["continuity", "consistency"]


def _translate(x: Tensor, shift: int, fill: Tensor) -> Tensor:
    """Shift the last dimension right by ``shift``; vacated positions take ``fill``."""
    moved = torch.empty_like(x)
    moved[..., shift:] = x[..., : x.shape[-1] - shift]
    moved[..., :shift] = fill
    return moved


def continuity(model: Any, inputs: Tensor, target: Any, explain_func: Any, *, n_steps: int = 4,
               step: int = 1, **kwargs: Any) -> Tensor:
    """Continuity (Montavon et al., "Methods for interpreting and understanding deep neural
    networks", 2018): ``max_t ||Phi(x_t) - Phi(x)||_1 / ||x_t - x||_2`` along translations
    ``x_t`` of the input by ``t * step`` positions along its last axis (width), ``t = 1..n_steps``,
    vacated positions filled with the example's minimum (Quantus's "black"). Translation
    copies whose input does not change are skipped (NaN). Lower is better.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> continuity(torch.nn.Linear(6, 2), torch.randn(3, 6), 0, Saliency)  # constant gradient
        tensor([0., 0., 0.])
    """
    x = check_input_tensor(inputs)
    check_positive_int("n_steps", n_steps)
    check_positive_int("step", step)
    if n_steps * step >= x.shape[-1]:
        fail("n_steps", f"translations shorter than the last axis ({x.shape[-1]})",
             f"n_steps * step = {n_steps * step}")
    fill = x.reshape(x.shape[0], -1).amin(1).reshape(-1, *([1] * (x.dim() - 1)))
    kwargs.pop("seed", None)

    def score(original: Tensor, perturbed: Tensor, maps: Tensor, outputs: Tensor | None) -> Tensor:
        moved = per_example_norm(perturbed - x, 2)
        change = per_example_norm(maps - original, 2, "l1")
        return torch.where(moved > 0, change / moved, torch.nan)

    return perturbation_scores(model, x, target, explain_func, n_steps,
                               lambda point, z: _translate(z, (point + 1) * step, fill), score,
                               **kwargs)


def _top_n_sign(maps: Tensor, top_n: int) -> Tensor:
    """Discretised explanation: the top-n features by |Phi| (sorted positions) and their signs."""
    flat = maps.reshape(maps.shape[0], -1)
    positions = flat.abs().topk(top_n, dim=1).indices.sort(dim=1).values
    signs = flat.gather(1, positions).sign().long()
    return torch.cat([positions, signs], 1)


def consistency(model: Any, inputs: Tensor, target: Any, explain_func: Any, *, top_n: int = 5,
                attributions: Tensor | None = None) -> Tensor:
    """Consistency (Dasgupta et al., "Framework for Evaluating Faithfulness of Local
    Explanations", ICML 2022), per example: among the *other* examples of the batch whose
    discretised explanation equals this one's (same top-``top_n`` features by |Phi|, same
    signs), the share predicted as the same class. NaN when no other example shares the
    explanation. Higher is better.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> model = torch.nn.Linear(4, 2)
        >>> consistency(model, torch.randn(5, 4), 0, Saliency, top_n=2).shape
        torch.Size([5])
    """
    x = check_input_tensor(inputs)
    check_positive_int("top_n", top_n)
    if top_n > x[0].numel():
        fail("top_n", f"at most the number of features ({x[0].numel()})", str(top_n))
    maps = (explain_checked(as_explain_func(explain_func), model, x, target) if attributions is None
            else check_attributions(attributions, x))
    keys = _top_n_sign(maps, top_n)
    predicted = model_outputs(model, x).reshape(x.shape[0], -1).argmax(1)
    same_explanation = (keys[:, None, :] == keys[None, :, :]).all(-1)
    same_explanation.fill_diagonal_(False)
    same_prediction = predicted[:, None] == predicted[None, :]
    matches = same_explanation.sum(1)
    agree = (same_explanation & same_prediction).sum(1)
    share = agree.to(maps.dtype) / matches.clamp_min(1)
    return torch.where(matches > 0, share, torch.nan)
