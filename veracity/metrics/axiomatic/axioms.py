"""Axiomatic checks: completeness, non-sensitivity and input invariance.

Model evaluations go through the engine (:func:`~veracity._core.engine.outputs_at` and the
shared perturbation engine of the faithfulness metrics). :func:`input_invariance` works on a
deep copy of the model; the caller's model is never modified.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.engine import outputs_at
from veracity._core.inputs import prepare_inputs, sum_per_example
from veracity._core.seeding import make_generator
from veracity._core.validate import check_positive_int, fail
from veracity.metrics._engine.curves import metric_call
from veracity.metrics._engine.explain import inputs_with_attributions
from veracity.metrics._engine.subsets import single_group_outputs, step_groups

__all__ = ["completeness", "non_sensitivity", "input_invariance"]

Model = Callable[..., Tensor]


def completeness(model: Model, inputs: Any, attributions: Any, target: Any = None, *,
                 baselines: Any = None, additional_forward_args: Any = None) -> Tensor:
    """Completeness gap (Sundararajan et al. 2017): ``|sum a - (f(x) - f(x'))|``; lower is better.

    0 for methods that satisfy completeness (IG, DeepLift, Shapley values) up to their
    approximation error. Tuples of inputs, attributions and baselines are accepted.

    Example:
        >>> import torch
        >>> from veracity.metrics import completeness
        >>> model = torch.nn.Linear(3, 1)
        >>> x = torch.rand(2, 3)
        >>> (completeness(model, x, x * model.weight) < 1e-6).all()
        tensor(True)
    """
    tup, attrs, batch = inputs_with_attributions(inputs, attributions)
    call = Call.of(model, tup, target, additional_forward_args)
    values = outputs_at(call, [tup, call.baselines(baselines)])
    total = sum_per_example([a.detach() for a in attrs])
    return (total - (values[0] - values[1])).abs()


def non_sensitivity(model: Model, inputs: Tensor, attributions: Tensor, target: Any = None, *,
                    eps: float = 1e-5, n_samples: int = 1, features_in_step: int = 1,
                    baseline: Any = "black", additional_forward_args: Any = None,
                    softmax: bool = False, perturbations_per_eval: int | None = None,
                    show_progress: bool = False, generator: torch.Generator | None = None,
                    seed: int | None = None) -> Tensor:
    """Non-sensitivity (Nguyen & Rodriguez Martinez 2020): lower is better (0 is ideal).

    Each group of ``features_in_step`` features is replaced by ``baseline`` (``n_samples``
    draws for random baselines); a group is *insensitive* when the output moves by less than
    ``eps``, *unattributed* when its total ``|a|`` is below ``eps``. The score counts the
    groups where the two disagree (zero attribution on a feature that matters, or attribution
    on a feature that does not).

    Example:
        >>> import torch
        >>> from veracity.metrics import non_sensitivity
        >>> model = torch.nn.Linear(3, 1)
        >>> with torch.no_grad():
        ...     _ = model.weight.copy_(torch.tensor([[1.0, 0.0, 2.0]]))
        >>> x = torch.ones(2, 3)
        >>> non_sensitivity(model, x, x * model.weight, baseline=0.0)
        tensor([0., 0.])
    """
    check_positive_int("n_samples", n_samples)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or eps < 0:
        fail("eps", "a non-negative number", eps)
    call = metric_call(model, inputs, attributions.abs() if isinstance(attributions, Tensor)
                       else attributions, target, additional_forward_args, softmax,
                       perturbations_per_eval, show_progress)
    group_of, n_groups, sums = step_groups(call, features_in_step, "morf")
    outputs = single_group_outputs(call, group_of, n_groups, n_samples, baseline,
                                   make_generator(generator, seed))
    change = (outputs - call.original()[:, None, None]).abs().amax(1)
    return ((change < eps) != (sums < eps)).sum(1).float()


def _first_affine(model: nn.Module) -> nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d:
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            return module
    fail("model", "a module whose first layer is a Linear or Conv layer", type(model).__name__)


def input_invariance(model: nn.Module, inputs: Tensor,
                     explain_func: Callable[[nn.Module, Tensor, Any], Tensor], target: Any = None,
                     *, input_shift: float = -1.0, atol: float = 1e-5, rtol: float = 1e-4) -> Tensor:
    """Input invariance (Kindermans et al. 2017): 1.0 where the explanation ignores a mean shift.

    A copy of the model gets its first Linear/Conv bias lowered by ``W @ shift`` so that it
    computes the same function of ``x + input_shift`` as the original of ``x``; the
    explanation ``explain_func(model, inputs, target)`` should then be unchanged (within
    ``atol`` / ``rtol``). Higher is better. Zero padding in a first convolution breaks the
    compensation at the border, as in the paper's setting.

    Example:
        >>> import torch
        >>> from veracity.attr import InputXGradient, Saliency
        >>> from veracity.metrics import input_invariance
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
        >>> x = torch.rand(2, 3)
        >>> saliency = lambda m, x, t: Saliency(m).attribute(x, target=t)
        >>> input_x_gradient = lambda m, x, t: InputXGradient(m).attribute(x, target=t)
        >>> input_invariance(model, x, saliency, 0), input_invariance(model, x, input_x_gradient, 0)
        (tensor([1., 1.]), tensor([0., 0.]))
    """
    if not isinstance(model, nn.Module):
        fail("model", "a torch.nn.Module (its first layer is copied and shifted)", model, TypeError)
    tup, _, _ = prepare_inputs(inputs)
    x = tup[0]
    shifted = copy.deepcopy(model)
    layer = _first_affine(shifted)
    with torch.no_grad():
        weight = layer.weight
        compensation = input_shift * weight.sum(dim=tuple(range(1, weight.dim())))
        if layer.bias is None:
            layer.bias = nn.Parameter(torch.zeros_like(compensation))
        layer.bias -= compensation
    original = explain_func(model, x, target)
    moved = explain_func(shifted, x + input_shift, target)
    close = torch.isclose(moved, original, atol=atol, rtol=rtol)
    return close.reshape(close.shape[0], -1).all(1).float()
