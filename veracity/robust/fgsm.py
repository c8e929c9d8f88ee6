"""Fast Gradient Sign Method (Goodfellow et al. 2015), Captum's ``FGSM``."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.attack import loss_input_gradients
from veracity._core.inputs import format_like, prepare_additional_args
from veracity.robust.perturbation import (
    _BoundedAttack,
    check_number,
    loss_of,
    prepare_attack_inputs,
    prepare_mask,
)


class FGSM(_BoundedAttack):
    """One signed-gradient step: ``x + epsilon * sign(grad_x loss(model(x), target))`` (minus
    for ``targeted``), only where ``|grad| > zero_thresh`` and ``mask`` is one, clamped to
    ``[lower_bound, upper_bound]``. The default loss is ``-log(output[target])`` (outputs read
    as probabilities), as in Captum. Inputs outside the bounds are refused.

    Example:
        >>> model = torch.nn.Linear(2, 2, bias=False)
        >>> with torch.no_grad():
        ...     _ = model.weight.copy_(torch.tensor([[1.0, -1.0], [0.0, 0.0]]))
        >>> fgsm = FGSM(model, loss_func=lambda out, t: out[:, t])
        >>> fgsm.perturb(torch.zeros(1, 2), epsilon=0.1, target=0).tolist()
        [[0.10000000149011612, -0.10000000149011612]]
    """

    def __init__(self, forward_func: Callable, loss_func: Callable | None = None,
                 lower_bound: float = float("-inf"), upper_bound: float = float("inf")) -> None:
        super().__init__(forward_func, loss_func, lower_bound, upper_bound)
        self.zero_thresh = 1e-6

    def step(self, inputs: tuple[Tensor, ...], epsilon: float, target: Any, args: tuple[Any, ...], targeted: bool,
             masks: tuple[Tensor, ...], bounded: bool = True) -> tuple[Tensor, ...]:
        """One FGSM step on already checked inputs; ``bounded=False`` skips the clamp (PGD
        clamps after its projection)."""
        grads, _ = loss_input_gradients(self.forward_func, inputs, args,
                                        loss_of(self.loss_func, target, inputs[0].shape[0]))
        sign = -1.0 if targeted else 1.0
        moved = tuple(torch.where(g.abs() > self.zero_thresh, x + sign * epsilon * g.sign() * m, x)
                      for x, g, m in zip(inputs, grads, masks))
        return tuple(self.bound(x) for x in moved) if bounded else moved

    def perturb(self, inputs: Any, epsilon: float, target: Any, additional_forward_args: Any = None,
                targeted: bool = False, mask: Any = None) -> Any:
        """The perturbed inputs, shaped like ``inputs`` (tensor or tuple)."""
        epsilon = check_number("epsilon", epsilon)
        tup, was_tuple, _ = prepare_attack_inputs(inputs, self.lower_bound, self.upper_bound)
        masks = prepare_mask(mask, tup)
        result = self.step(tup, epsilon, target, prepare_additional_args(additional_forward_args), targeted, masks)
        return format_like(was_tuple, result)
