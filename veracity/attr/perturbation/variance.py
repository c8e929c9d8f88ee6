"""Lower-variance Shapley estimators, with a standard error per feature group.

* Permutation sampling (:class:`~veracity.attr.ShapleyValueSampling`) with
  ``variance_reduction="antithetic"``: permutations come in pairs, an order and its reverse
  (the pairwise-interaction part of a feature's marginal contributions cancels within a pair),
  and the pairs in blocks in which every feature takes every mirrored position pair
  ``{j, n-1-j}`` once; ``"stratified"``: blocks of ``n`` orders forming a randomised Latin
  square (every feature at every position once). Designs and the stratified standard errors
  are in :mod:`._designs`.
* KernelShap with ``paired_sampling=True`` (Covert & Lee, "Improving KernelSHAP", AISTATS
  2021): coalitions drawn from the Shapley kernel together with their complements, the
  constrained least-squares fit (sum of values pinned to ``F(x) - F(x')``), and standard errors
  from the estimator's influence function (the sandwich covariance of the fit).

Both can stop early once every feature's standard error is below ``target_std_error``: samples
are drawn in rounds (each round through the engine in chunks) until then or ``n_samples``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from veracity._core.batch_scores import OutputMode, scores
from veracity._core.call import Call
from veracity._core.validate import check_choice, fail
from veracity.attr.perturbation._designs import block_rows, design, round_sizes, stratified_error
from veracity.attr.perturbation._engine import presence_builder
from veracity.attr.perturbation._groups import FeatureGroups

REDUCTIONS = ("antithetic", "stratified")   # and None: Captum's plain sampling
_FIRST_ROUND_BLOCKS = 8


def check_error_options(target_std_error: Any) -> None:
    if target_std_error is not None and (isinstance(target_std_error, bool) or
                                         not isinstance(target_std_error, (int, float)) or target_std_error <= 0):
        fail("target_std_error", "a positive number or None", target_std_error)


def _rounds(n_samples: int, block: int) -> list[int]:
    """Blocks per round: a first round, then doubling, ``n_samples`` permutations in all."""
    total = max(1, n_samples // block)
    sizes, done, size = [], 0, min(total, _FIRST_ROUND_BLOCKS)
    while done < total:
        sizes.append(min(size, total - done))
        done += sizes[-1]
        size = done
    return sizes


def permutation_shapley(call: Call, base: tuple[Tensor, ...], groups: FeatureGroups, n_samples: int,
                        reduction: str | None, target_std_error: float | None, perturbations_per_eval: int | None,
                        show_progress: bool, desc: str, generator: torch.Generator | None,
                        mode: OutputMode) -> tuple[Tensor, Tensor, int]:
    """Shapley values ``(rows, n)``, their standard errors and the number of orders evaluated.

    The design (:mod:`._designs`) gives rows of base orders; an antithetic row is evaluated as
    the order and its reverse and contributes the mean of the two marginal contributions.
    """
    if reduction is not None:
        check_choice("variance_reduction", reduction, REDUCTIONS)
    n = groups.n_features
    antithetic = reduction == "antithetic"
    per_row = 2 if antithetic else 1
    m = block_rows(n, reduction)
    device = call.inputs[0].device
    inner = max(n - 1, 1)
    row_values: list[Tensor] = []
    row_strata: list[Tensor] = []
    ends: Tensor | None = None
    for size in round_sizes(max(1, n_samples // per_row), m):
        base_orders, strata = design(size, n, reduction, generator)
        orders = (torch.stack([base_orders, base_orders.flip(1)], 1).reshape(-1, n) if antithetic
                  else base_orders).to(device)
        ranks = orders.argsort(1)
        count = orders.shape[0]
        first = 2 if ends is None else 0

        def presence(start: int, stop: int, ranks: Tensor = ranks, first: int = first, count: int = count) -> Tensor:
            point = torch.arange(start, stop, device=device)
            inside = (point - first).clamp(min=0)
            sample = (inside // inner).clamp(max=count - 1)
            members = inside % inner + 1
            if first:
                members = torch.where(point == 0, 0, torch.where(point == 1, n, members))
            return ranks[sample] < members.unsqueeze(1)

        values = scores(call, first + count * (n - 1), presence_builder(call, base, groups, presence),
                        perturbations_per_eval, show_progress, desc, groups.ids, mode=mode, every_output=True)
        if ends is None:
            ends = values[:2]
        assert ends is not None
        width = values.shape[1]
        path = torch.cat([ends[0].expand(count, 1, width), values[first:].view(count, n - 1, width),
                          ends[1].expand(count, 1, width)], dim=1)
        marginal = path[:, 1:] - path[:, :-1]                              # (count, n, rows), by order
        per_order = torch.zeros_like(marginal).scatter_(1, orders.unsqueeze(2).expand_as(marginal), marginal)
        row_values.append(per_order.view(size, per_row, n, width).mean(1))
        row_strata.append(strata)
        stacked = torch.cat(row_values)
        std_error = stratified_error(stacked, torch.cat(row_strata), m)
        if target_std_error is not None and bool((std_error <= target_std_error).all()):
            break
    stacked = torch.cat(row_values)
    estimate = stacked.mean(0)
    std_error = stratified_error(stacked, torch.cat(row_strata), m)
    return estimate.t(), std_error.t(), stacked.shape[0] * per_row


def shapley_kernel_sizes(n: int) -> Tensor:
    """Probabilities of coalition sizes 1..n-1 under the Shapley kernel."""
    k = torch.arange(1, n, dtype=torch.float64)
    probs = (n - 1) / (k * (n - k))
    return probs / probs.sum()


def paired_kernel_shap(call: Call, base: tuple[Tensor, ...], groups: FeatureGroups, n_samples: int,
                       target_std_error: float | None, perturbations_per_eval: int | None, show_progress: bool,
                       desc: str, generator: torch.Generator | None,
                       mode: OutputMode) -> tuple[Tensor, Tensor, int]:
    """KernelShap from complementary pairs of coalitions: values ``(rows, n)``, standard errors,
    and the number of coalitions evaluated (the two ends included)."""
    n = groups.n_features
    device = call.inputs[0].device
    if n < 2:
        fail("feature_mask", "at least 2 feature groups for paired_sampling=True", f"{n} group")
    probs = shapley_kernel_sizes(n)
    pairs_total = max(1, (n_samples - 2) // 2)
    zs: list[Tensor] = []
    gains: list[Tensor] = []
    ends: Tensor | None = None
    estimate = std_error = torch.zeros(0)
    for pairs in _rounds(pairs_total, 1):
        sizes = torch.multinomial(probs, pairs, replacement=True, generator=generator) + 1
        members = torch.rand(pairs, n, generator=generator).argsort(1).argsort(1) < sizes.unsqueeze(1)
        coalitions = torch.stack([members, ~members], 1).reshape(-1, n)
        first = 2 if ends is None else 0
        if first:
            coalitions = torch.cat([torch.ones(1, n, dtype=torch.bool), torch.zeros(1, n, dtype=torch.bool),
                                    coalitions])
        chosen = coalitions.to(device)

        def rows(start: int, stop: int, chosen: Tensor = chosen) -> Tensor:
            return chosen[start:stop]

        values = scores(call, chosen.shape[0], presence_builder(call, base, groups, rows),
                        perturbations_per_eval, show_progress, desc, groups.ids, mode=mode, every_output=True)
        if ends is None:
            ends = values[:2].double()
        assert ends is not None
        zs.append(coalitions[first:].double().view(pairs, 2, n))
        gains.append((values[first:].double() - ends[1]).view(pairs, 2, -1))
        estimate, std_error = _constrained_fit(torch.cat(zs), torch.cat(gains), ends[0] - ends[1])
        if target_std_error is not None and bool((std_error <= target_std_error).all()):
            break
    evaluated = 2 + 2 * sum(z.shape[0] for z in zs)
    return estimate.t(), std_error.t(), evaluated


def _constrained_fit(z: Tensor, gain: Tensor, total: Tensor) -> tuple[Tensor, Tensor]:
    """min E[(gain - z.phi)^2] s.t. sum(phi) = total, from pairs ``z (m, 2, n)``, ``gain (m, 2, rows)``.

    Returns ``phi`` and its standard errors, both ``(n, rows)``, the errors from the sandwich
    covariance of the pair-level influence terms (Covert & Lee 2021, section 4).
    """
    m, _, n = z.shape
    a_pair = torch.einsum("pki,pkj->pij", z, z) / 2                     # (m, n, n)
    b_pair = torch.einsum("pki,pkr->pir", z, gain) / 2                  # (m, n, rows)
    a = a_pair.mean(0)
    b = b_pair.mean(0)
    a_inv = torch.linalg.pinv(a)
    ones = torch.ones(n, 1, dtype=z.dtype)
    a_inv_one = a_inv @ ones
    project = a_inv - a_inv_one @ a_inv_one.t() / (ones.t() @ a_inv_one)
    phi = project @ b + a_inv_one / (ones.t() @ a_inv_one) * total.unsqueeze(0)
    if m < 2:
        return phi, torch.full_like(phi, float("inf"))
    influence = b_pair - torch.einsum("pij,jr->pir", a_pair, phi)       # (m, n, rows)
    centred = influence - influence.mean(0)
    mapped = torch.einsum("ij,pjr->pir", project, centred)
    variance = (mapped ** 2).sum(0) / (m - 1) / m
    return phi, variance.sqrt()


def paired_attribute(method: Any, call: Call, baselines: Any, feature_mask: Any, n_samples: int,
                     perturbations_per_eval: int | None, return_input_shape: bool, show_progress: bool,
                     generator: torch.Generator | None, return_std_error: bool,
                     target_std_error: float | None) -> Any:
    """KernelShap's ``attribute`` with paired sampling (the shell around :func:`paired_kernel_shap`)."""
    from veracity._core.validate import check_positive_int
    from veracity.attr.perturbation._groups import prepare_feature_mask

    check_positive_int("n_samples", n_samples)
    check_error_options(target_std_error)
    base = call.baselines(baselines)
    groups = prepare_feature_mask(feature_mask, call.inputs)
    mode = OutputMode()
    estimate, std_error, _ = paired_kernel_shap(call, base, groups, n_samples, target_std_error,
                                                perturbations_per_eval, show_progress,
                                                f"{method.get_name()} attribution", generator, mode)
    rows = estimate.shape[0]
    estimate, std_error = estimate.to(torch.float32 if call.inputs[0].dtype != torch.float64 else torch.float64), \
        std_error.to(torch.float32 if call.inputs[0].dtype != torch.float64 else torch.float64)

    def shaped(values: Tensor) -> Any:
        if not return_input_shape:
            return values.reshape(call.batch if rows % call.batch == 0 else rows, -1) if mode.output_shape else values
        return call.finish(_per_output(groups.spread(values, call.inputs), call.batch, mode))

    result = shaped(estimate)
    return (result, shaped(std_error)) if return_std_error else result


def _per_output(attributions: tuple[Tensor, ...], batch: int, mode: OutputMode) -> tuple[Tensor, ...]:
    if not mode.output_shape:
        return attributions
    return tuple(a.reshape(batch, *mode.output_shape, *a.shape[1:]) for a in attributions)
