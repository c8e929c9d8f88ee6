"""Attacks on explanations (Ghorbani, Abid & Zou, "Interpretation of Neural Networks is
Fragile", AAAI 2019): perturb an image inside an L-inf ball so that the predicted label stays
while the explanation moves: away from its top-k pixels (``"top_k"``), its center of mass away
(``"mass_center"``) or its mass into a chosen region (``"targeted"``).

Steps are signed gradients of the objective ``D`` of the saliency image ``I``; iterates whose
label changed are never returned (the iteration goes on from them), and each example keeps
its best iterate. Second derivatives of ReLU networks vanish almost everywhere, so ``D``'s
gradient is taken on a surrogate with ReLU replaced by ``Softplus(beta)`` (same weights);
maps and labels are always evaluated on the original model.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from veracity._core.attack import explanation_maps, model_outputs, objective_input_gradient
from veracity._core.progress import progress_bar
from veracity._core.validate import check_choice, check_positive_int, fail
from veracity.robust.fragility_metrics import (
    center_of_mass,
    center_shift,
    saliency_image,
    spearman,
    top_k_intersection,
    top_k_mask,
)
from veracity.robust.perturbation import check_bounds, check_number, prepare_attack_inputs

METHODS = ("saliency", "input_x_gradient", "integrated_gradients", "smoothgrad")
ATTACKS = ("top_k", "mass_center", "targeted")


@dataclass(frozen=True)
class FragilityResult:
    """The perturbed images and, per example, how far the explanation moved: top-k
    intersection (1 = unchanged), Spearman rank correlation, center-of-mass shift in pixels,
    whether the label was kept and the L-inf size of the perturbation; the saliency images of
    the original and perturbed inputs for figures."""

    perturbed: Tensor
    original_map: Tensor
    perturbed_map: Tensor
    top_k_intersection: Tensor
    spearman: Tensor
    center_shift: Tensor
    label_kept: Tensor
    linf: Tensor

    def summary(self) -> dict[str, float]:
        """Means over the examples."""
        return {"top_k_intersection": float(self.top_k_intersection.mean()), "spearman": float(self.spearman.mean()),
                "center_shift": float(self.center_shift.mean()), "label_kept": float(self.label_kept.float().mean()),
                "linf": float(self.linf.max())}


def softplus_surrogate(model: nn.Module, beta: float = 10.0) -> nn.Module:
    """A copy of ``model`` with every ``nn.ReLU`` module replaced by ``nn.Softplus(beta)`` (the
    user's model is not changed). Functional ``relu`` calls are not reached.

    Example:
        >>> surrogate = softplus_surrogate(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
        >>> type(surrogate[1]).__name__
        'Softplus'
    """
    copied = copy.deepcopy(model)
    for module in list(copied.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(module, child_name, nn.Softplus(beta=beta))
    return copied


class _Setup:
    """Everything an attack run shares: labels, the original map, the map arguments."""

    def __init__(self, model: nn.Module, inputs: Tensor, method: str, k: int, baselines: Tensor | None,
                 n_steps: int, nt_samples: int, stdevs: float, seed: int) -> None:
        self.model, self.method, self.k = model, check_choice("method", method, METHODS), k
        generator = torch.Generator(inputs.device).manual_seed(seed)
        noise = stdevs * torch.randn((nt_samples, *inputs.shape), generator=generator, dtype=inputs.dtype,
                                     device=inputs.device) if method == "smoothgrad" else None
        self.map_kwargs: dict[str, Any] = {"baselines": baselines, "n_steps": n_steps, "noise": noise}
        self.labels = model_outputs(model, (inputs,), ()).argmax(1)
        self.original = self.image(inputs)

    def image(self, x: Tensor, model: nn.Module | None = None) -> Tensor:
        return saliency_image(explanation_maps(model or self.model, x, self.labels, self.method,
                                               **self.map_kwargs).detach())

    def kept(self, x: Tensor) -> Tensor:
        return model_outputs(self.model, (x,), ()).argmax(1) == self.labels

    def keep_best(self, candidate: Tensor, criterion: str, region: Tensor | None, best: Tensor,
                  best_score: Tensor) -> Tensor:
        """Per example, ``candidate`` replaces ``best`` (in place) when it keeps the label and
        scores lower by ``criterion``; returns the updated best scores."""
        score = _criterion(criterion, self.original, self.image(candidate), self.k, region)
        score = torch.where(self.kept(candidate), score, torch.full_like(score, float("inf")))
        better = score < best_score
        best[better] = candidate[better]
        return torch.where(better, score, best_score)

    def result(self, inputs: Tensor, best: Tensor) -> FragilityResult:
        image = self.image(best)
        return FragilityResult(best, self.original, image, top_k_intersection(self.original, image, self.k),
                               spearman(self.original, image), center_shift(self.original, image), self.kept(best),
                               (best - inputs).flatten(1).abs().max(1).values)


def _criterion(attack: str, original: Tensor, image: Tensor, k: int, region: Tensor | None) -> Tensor:
    """Lower is a more successful attack."""
    if attack == "top_k":
        return top_k_intersection(original, image, k)
    if attack == "mass_center":
        return -center_shift(original, image)
    assert region is not None
    return -(image * region).flatten(1).sum(1)


def _prepare(model: Any, inputs: Any, epsilon: float, k: int, lower_bound: float, upper_bound: float
             ) -> tuple[Tensor, float, float]:
    if not isinstance(model, nn.Module):
        fail("model", "a torch.nn.Module", model, TypeError)
    epsilon = check_number("epsilon", epsilon)
    lower, upper = check_bounds(lower_bound, upper_bound)
    if not isinstance(inputs, Tensor):
        fail("inputs", "one image tensor (batch, channels, height, width)", inputs, TypeError)
    (x,), _, _ = prepare_attack_inputs(inputs, lower, upper)
    if x.dim() != 4:
        fail("inputs", "images shaped (batch, channels, height, width)", x)
    check_positive_int("k", k)
    if k > x.shape[2] * x.shape[3]:
        fail("k", f"at most the number of pixels ({x.shape[2] * x.shape[3]})", str(k))
    return x.detach(), lower, upper


def explanation_attack(model: nn.Module, inputs: Tensor, *, attack: str = "top_k", method: str = "saliency",
                       epsilon: float = 0.1, step_size: float = 0.01, steps: int = 100, k: int = 8,
                       surrogate_beta: float | None = 10.0, target_region: Tensor | None = None,
                       lower_bound: float = 0.0, upper_bound: float = 1.0, baselines: Tensor | None = None,
                       n_steps: int = 16, nt_samples: int = 8, stdevs: float = 0.1, seed: int = 0,
                       show_progress: bool = False) -> FragilityResult:
    """Attack the explanation ``method`` (``"saliency"``, ``"input_x_gradient"``,
    ``"integrated_gradients"`` with ``n_steps`` from ``baselines``, ``"smoothgrad"`` with
    ``nt_samples`` fixed noise draws of ``stdevs``) of each image's predicted label with
    ``steps`` signed steps of ``step_size`` inside the L-inf ball of ``epsilon`` and the bounds.
    ``attack``: ``"top_k"`` (``D = -sum_{top-k of I(x)} I(x_t)``), ``"mass_center"``
    (``D = |C(I(x_t)) - C(I(x))|^2``) or ``"targeted"`` (``D = sum_{target_region} I(x_t)``,
    ``target_region`` a 0/1 ``(height, width)`` mask). ``surrogate_beta=None`` differentiates
    the model itself (a ReLU network then stalls: its map's input gradient is zero).

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> model, x = toy_cnn(batch=2)
        >>> x = x.sigmoid()
        >>> result = explanation_attack(model, x, epsilon=0.05, step_size=0.01, steps=5, k=6)
        >>> bool(result.label_kept.all()), float(result.linf.max()) <= 0.05 + 1e-6
        (True, True)
    """
    x0, lower, upper = _prepare(model, inputs, epsilon, k, lower_bound, upper_bound)
    step_size = check_number("step_size", step_size)
    check_positive_int("steps", steps, 0)
    check_choice("attack", attack, ATTACKS)
    setup = _Setup(model, x0, method, k, baselines, n_steps, nt_samples, stdevs, seed)
    region = None
    if attack == "targeted":
        if target_region is None or tuple(target_region.shape) != tuple(x0.shape[2:]):
            fail("target_region", f"a 0/1 mask shaped (height, width) = {tuple(x0.shape[2:])}", target_region)
        region = target_region.to(x0.dtype)
    surrogate = model if surrogate_beta is None else softplus_surrogate(model, check_number("surrogate_beta",
                                                                                           surrogate_beta))
    original_mask = top_k_mask(setup.original, k)
    original_center = center_of_mass(setup.original)

    def objective(maps: Tensor, _: Tensor) -> Tensor:
        image = saliency_image(maps)
        if attack == "top_k":
            return -(image * original_mask).flatten(1).sum(1)
        if attack == "mass_center":
            return ((center_of_mass(image) - original_center) ** 2).sum(1)
        assert region is not None
        return (image * region).flatten(1).sum(1)

    best = x0.clone()
    best_score = _criterion(attack, setup.original, setup.original, k, region)
    current = x0
    with progress_bar(steps, show_progress, f"{attack} attack") as bar:
        for _ in range(steps):
            direction = objective_input_gradient(surrogate, current, setup.labels, method, objective,
                                                 **setup.map_kwargs)
            moved = current + step_size * direction.sign()
            current = torch.clamp(x0 + (moved - x0).clamp(-epsilon, epsilon), lower, upper)
            best_score = setup.keep_best(current, attack, region, best, best_score)
            bar.update()
    return setup.result(x0, best)


def random_sign_perturbation(model: nn.Module, inputs: Tensor, *, epsilon: float = 0.1, draws: int = 100,
                             criterion: str = "top_k", method: str = "saliency", k: int = 8,
                             target_region: Tensor | None = None, lower_bound: float = 0.0,
                             upper_bound: float = 1.0, baselines: Tensor | None = None, n_steps: int = 16,
                             nt_samples: int = 8, stdevs: float = 0.1, seed: int = 0,
                             show_progress: bool = False) -> FragilityResult:
    """The random baseline of the same size: ``epsilon * sign(N(0, 1))`` perturbations
    (clamped to the bounds), ``draws`` of them under ``seed``; each example keeps the draw
    that keeps its label and is best by ``criterion`` (an attack's name).

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> model, x = toy_cnn(batch=2)
        >>> result = random_sign_perturbation(model, x.sigmoid(), epsilon=0.05, draws=3, k=6)
        >>> tuple(result.top_k_intersection.shape)
        (2,)
    """
    x0, lower, upper = _prepare(model, inputs, epsilon, k, lower_bound, upper_bound)
    check_positive_int("draws", draws)
    check_choice("criterion", criterion, ATTACKS)
    region = None if target_region is None else target_region.to(x0.dtype)
    if criterion == "targeted" and region is None:
        fail("target_region", "a 0/1 (height, width) mask for the targeted criterion", target_region)
    setup = _Setup(model, x0, method, k, baselines, n_steps, nt_samples, stdevs, seed)
    generator = torch.Generator(x0.device).manual_seed(seed + 1)
    best = x0.clone()
    best_score = torch.full((x0.shape[0],), float("inf"), dtype=x0.dtype, device=x0.device)
    with progress_bar(draws, show_progress, "random signs") as bar:
        for _ in range(draws):
            noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device).sign()
            candidate = torch.clamp(x0 + epsilon * noise, lower, upper)
            best_score = setup.keep_best(candidate, criterion, region, best, best_score)
            bar.update()
    return setup.result(x0, best)


