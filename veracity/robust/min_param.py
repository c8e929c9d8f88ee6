"""Captum's ``MinParamPerturbation``: the smallest value of an attack's parameter that makes
the model's prediction incorrect, by linear or binary search over a grid of values."""

from __future__ import annotations

from typing import Any, Callable

from torch import Tensor

from veracity._core.inputs import prepare_additional_args
from veracity._core.targets import prepare_target
from veracity._core.validate import check_choice, check_positive_int, fail
from veracity.robust._batching import grouped_outputs
from veracity.robust.perturbation import Perturbation, check_number


def default_correct_fn(model_out: Tensor, target: Any) -> bool:
    """True when every example's argmax over dimension 1 equals its target."""
    if not isinstance(model_out, Tensor) or model_out.dim() != 2:
        fail("correct_fn", "a custom correct_fn for outputs that are not (batch, classes) tensors", model_out)
    index = prepare_target(target, model_out.shape[0]).index
    if index is None:
        fail("target", "class indices (the default correct_fn compares them with the argmax)", target)
    return bool((model_out.argmax(1) == index[:, 0].to(model_out.device)).all())


class MinParamPerturbation:
    """Searches ``arg_min, arg_min + arg_step, ... < arg_max`` for the smallest value of the
    attack's keyword ``arg_name`` whose perturbed input is classified incorrectly
    (``correct_fn(model_out, **correct_fn_kwargs)`` is False; by default: some example's argmax
    differs from ``target``). ``mode="linear"`` tries values in order, ``"binary"`` assumes the
    outcome is monotone in the value. ``perturbations_per_eval`` values (times
    ``num_attempts``) share one model call. Returns ``(perturbed_inputs, value)`` or
    ``(None, None)``.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(1, 2, bias=False)
        >>> with torch.no_grad():
        ...     _ = model.weight.copy_(torch.tensor([[1.0], [0.0]]))
        >>> shift = lambda x, amount: x - amount
        >>> search = MinParamPerturbation(model, shift, "amount", 0.0, 3.0, 0.5)
        >>> search.evaluate(torch.tensor([[1.2]]), target=0)[1]
        1.5
    """

    def __init__(self, forward_func: Callable, attack: Callable | Perturbation, arg_name: str,
                 arg_min: int | float, arg_max: int | float, arg_step: int | float, mode: str = "linear",
                 num_attempts: int = 1, preproc_fn: Callable | None = None, apply_before_preproc: bool = False,
                 correct_fn: Callable | None = None) -> None:
        if not callable(attack):
            fail("attack", "a Perturbation or a callable", attack, TypeError)
        check_number("arg_min", arg_min, None)
        check_number("arg_max", arg_max, None)
        if check_number("arg_step", arg_step, None) <= 0:
            fail("arg_step", "a number > 0", str(arg_step))
        if arg_max <= arg_min:
            fail("arg_max", f"a value > arg_min ({arg_min})", str(arg_max))
        self.forward_func = forward_func
        self.attack = attack
        self.arg_name = arg_name
        self.arg_min, self.arg_max, self.arg_step = arg_min, arg_max, arg_step
        self.mode = check_choice("mode", mode, ("linear", "binary"))
        self.num_attempts = check_positive_int("num_attempts", num_attempts)
        self.preproc_fn = preproc_fn
        self.apply_before_preproc = apply_before_preproc
        self.correct_fn = correct_fn if correct_fn is not None else default_correct_fn

    def values(self) -> list[int | float]:
        """The grid of parameter values searched (``arg_max`` excluded)."""
        count = 0
        while self.arg_min + count * self.arg_step < self.arg_max:
            count += 1
        return [self.arg_min + i * self.arg_step for i in range(count)]

    def _attempts(self, inputs: Any, value: int | float, attack_kwargs: dict[str, Any]) -> list[tuple[Any, Any]]:
        """``num_attempts`` pairs (perturbed input returned to the user, model input)."""
        call = self.attack.perturb if isinstance(self.attack, Perturbation) else self.attack
        preproc = self.preproc_fn if self.preproc_fn is not None else (lambda v: v)
        pairs = []
        for _ in range(self.num_attempts):
            if self.apply_before_preproc:
                perturbed = call(inputs, **attack_kwargs, **{self.arg_name: value})
                pairs.append((perturbed, preproc(perturbed)))
            else:
                perturbed = call(preproc(inputs), **attack_kwargs, **{self.arg_name: value})
                pairs.append((perturbed, perturbed))
        return pairs

    def _first_incorrect(self, inputs: Any, values: list[int | float], args: tuple[Any, ...],
                         per_eval: int, target: Any, attack_kwargs: dict[str, Any],
                         correct_kwargs: dict[str, Any]) -> list[tuple[Any, int | float] | None]:
        """Per value: an incorrectly classified perturbed input, or None."""
        pairs = [self._attempts(inputs, v, attack_kwargs) for v in values]
        flat = [model_input for group in pairs for _, model_input in group]
        outputs = grouped_outputs(self.forward_func, flat, args, per_eval * self.num_attempts)
        kwargs = dict(correct_kwargs)
        if self.correct_fn is default_correct_fn:
            kwargs["target"] = target
        found: list[tuple[Any, int | float] | None] = []
        for i, value in enumerate(values):
            hit = None
            for j, (perturbed, _) in enumerate(pairs[i]):
                if not self.correct_fn(outputs[i * self.num_attempts + j], **kwargs):
                    hit = (perturbed, value)
                    break
            found.append(hit)
        return found

    def evaluate(self, inputs: Any, additional_forward_args: Any = None, target: Any = None,
                 perturbations_per_eval: int = 1, attack_kwargs: dict[str, Any] | None = None,
                 correct_fn_kwargs: dict[str, Any] | None = None) -> tuple[Any, int | float | None]:
        """``(perturbed_inputs, smallest_value)`` of the search, or ``(None, None)``."""
        check_positive_int("perturbations_per_eval", perturbations_per_eval)
        if self.correct_fn is default_correct_fn and target is None:
            fail("target", "class indices when the default correct_fn is used", target)
        args = prepare_additional_args(additional_forward_args)
        grid = self.values()

        def probe(values: list[int | float]) -> list[tuple[Any, int | float] | None]:
            return self._first_incorrect(inputs, values, args, perturbations_per_eval, target,
                                         dict(attack_kwargs or {}), dict(correct_fn_kwargs or {}))

        if self.mode == "linear":
            for start in range(0, len(grid), perturbations_per_eval):
                for hit in probe(grid[start:start + perturbations_per_eval]):
                    if hit is not None:
                        return hit
            return None, None
        low, high, best = 0, len(grid) - 1, None
        while low <= high:  # smallest index whose perturbation is incorrect, the outcome monotone in it
            middle = (low + high) // 2
            (hit,) = probe([grid[middle]])
            if hit is not None:
                best, high = hit, middle - 1
            else:
                low = middle + 1
        return best if best is not None else (None, None)
