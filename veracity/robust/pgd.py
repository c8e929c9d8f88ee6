"""Projected Gradient Descent (Madry et al. 2018), Captum's ``PGD``."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.inputs import format_like, prepare_additional_args
from veracity._core.progress import progress_bar
from veracity._core.validate import check_choice, check_positive_int
from veracity.robust.fgsm import FGSM
from veracity.robust.perturbation import _BoundedAttack, check_number, prepare_attack_inputs, prepare_mask


def project(origin: Tensor, moved: Tensor, radius: float, norm: str) -> Tensor:
    """``moved`` pulled back into the ``norm`` ball of ``radius`` around ``origin`` (per example;
    for L2 by ``torch.renorm``, which lands just inside the sphere, as Captum's)."""
    diff = moved - origin
    if norm == "Linf":
        return origin + diff.clamp(-radius, radius)
    return origin + torch.renorm(diff, 2, 0, radius)


def random_ball_point(origin: Tensor, radius: float, norm: str, mask: Tensor,
                      generator: torch.Generator | None) -> Tensor:
    """A point drawn uniformly from the ``norm`` ball of ``radius`` around each example."""
    if norm == "Linf":
        offset = (torch.rand(origin.shape, generator=generator, dtype=origin.dtype, device=origin.device) * 2 - 1)
        return origin + radius * offset * mask
    direction = torch.randn(origin.shape, generator=generator, dtype=origin.dtype, device=origin.device)
    flat = direction.reshape(origin.shape[0], -1)
    unit = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
    length = torch.rand(origin.shape[0], generator=generator, dtype=origin.dtype, device=origin.device)
    length = radius * length ** (1.0 / flat.shape[1])
    return origin + (unit * length.unsqueeze(1)).reshape(origin.shape) * mask


class PGD(_BoundedAttack):
    """Iterated FGSM steps of ``step_size``, each projected back into the ``norm`` ball
    (``"Linf"`` or ``"L2"``) of ``radius`` around the inputs and clamped to the bounds, from the
    inputs or (``random_start``) a uniform point of the ball. As in Captum, the step is the
    signed gradient for both norms, and each step is projected before it is clamped. ``seed``
    (an addition) makes the random start reproducible; ``show_progress`` shows a bar over the
    steps.

    Example:
        >>> model = torch.nn.Linear(2, 2, bias=False)
        >>> with torch.no_grad():
        ...     _ = model.weight.copy_(torch.tensor([[1.0, -1.0], [0.0, 0.0]]))
        >>> pgd = PGD(model, loss_func=lambda out, t: out[:, t], lower_bound=-1, upper_bound=1)
        >>> pgd.perturb(torch.zeros(1, 2), radius=0.25, step_size=0.1, step_num=5, target=0).tolist()
        [[0.25, -0.25]]
    """

    def __init__(self, forward_func: Callable, loss_func: Callable | None = None,
                 lower_bound: float = float("-inf"), upper_bound: float = float("inf")) -> None:
        super().__init__(forward_func, loss_func, lower_bound, upper_bound)
        self.fgsm = FGSM(forward_func, loss_func, lower_bound, upper_bound)

    def perturb(self, inputs: Any, radius: float, step_size: float, step_num: int, target: Any,
                additional_forward_args: Any = None, targeted: bool = False, random_start: bool = False,
                norm: str = "Linf", mask: Any = None, *, seed: int | None = None,
                show_progress: bool = False) -> Any:
        """The perturbed inputs after ``step_num`` steps, shaped like ``inputs``."""
        radius = check_number("radius", radius)
        step_size = check_number("step_size", step_size)
        check_positive_int("step_num", step_num, 0)
        check_choice("norm", norm, ("Linf", "L2"))
        tup, was_tuple, _ = prepare_attack_inputs(inputs, self.lower_bound, self.upper_bound)
        masks = prepare_mask(mask, tup)
        args = prepare_additional_args(additional_forward_args)
        self.fgsm.forward_func, self.fgsm.loss_func = self.forward_func, self.loss_func
        current = tuple(t.detach() for t in tup)
        if random_start:
            generator = None if seed is None else torch.Generator(tup[0].device).manual_seed(seed)
            current = tuple(self.bound(random_ball_point(t, radius, norm, m, generator))
                            for t, m in zip(current, masks))
        with progress_bar(step_num, show_progress, "PGD") as bar:
            for _ in range(step_num):
                moved = self.fgsm.step(current, step_size, target, args, targeted, masks, bounded=False)
                current = tuple(self.bound(project(t, m, radius, norm)) for t, m in zip(tup, moved))
                bar.update()
        return format_like(was_tuple, current)
