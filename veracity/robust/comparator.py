"""Captum's ``AttackComparator``: a metric of the model's outputs under a set of attacks and
perturbations, per batch and as a running summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.inputs import prepare_additional_args
from veracity._core.validate import check_positive_int, fail
from veracity.robust._batching import grouped_outputs
from veracity.robust.perturbation import Perturbation

ORIGINAL = "Original"


def _combine(results: list[Any], how: Callable[[Tensor], Tensor]) -> Any:
    """Element-wise reduction of metric results (tensors, numbers, or tuples of them)."""
    first = results[0]
    if isinstance(first, tuple):
        combined = [_combine([r[i] for r in results], how) for i in range(len(first))]
        return type(first)(*combined) if hasattr(first, "_fields") else tuple(combined)
    if isinstance(first, Tensor):
        return how(torch.stack([r.to(torch.float64 if not r.is_floating_point() else r.dtype) for r in results]))
    return float(how(torch.tensor([float(r) for r in results], dtype=torch.float64)))


def _batch_mean(result: Any) -> Any:
    """A tensor metric averaged over its first (batch) dimension, as Captum's summary does."""
    if isinstance(result, tuple):
        parts = [_batch_mean(r) for r in result]
        return type(result)(*parts) if hasattr(result, "_fields") else tuple(parts)
    if isinstance(result, Tensor) and result.dim() > 0:
        return result.float().mean(0) if not result.is_floating_point() else result.mean(0)
    return result


@dataclass
class _Attack:
    attack: Any
    num_attempts: int
    apply_before_preproc: bool
    attack_kwargs: dict[str, Any]
    additional_attack_arg_names: list[str]


@dataclass
class _RunningMean:
    values: list[Any] = field(default_factory=list)

    def mean(self) -> Any:
        return _combine(self.values, lambda t: t.mean(0))


class AttackComparator:
    """Evaluates ``metric(model_out, **kwargs)`` on the original inputs and under every added
    attack (a :class:`Perturbation` or any callable such as a torchvision transform), with
    ``num_attempts`` repeats for random attacks (mean, max, min over attempts). ``summary()``
    keeps the running mean over evaluated batches, each batch's tensor results averaged over
    dimension 0, with Captum's keys (``"<name> Mean Attempt"`` etc. when ``num_attempts > 1``).

    Example:
        >>> from veracity.robust import FGSM
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Softmax(1))
        >>> comparator = AttackComparator(model, lambda out, target: (out.argmax(1) == target).float())
        >>> comparator.add_attack(FGSM(model), "FGSM", attack_kwargs={"epsilon": 0.0},
        ...                       additional_attack_arg_names=["target"])
        >>> result = comparator.evaluate(torch.randn(3, 2), target=torch.tensor([0, 1, 0]))
        >>> sorted(result), torch.equal(result["Original"], result["FGSM"]["mean"])
        (['FGSM', 'Original'], True)
    """

    def __init__(self, forward_func: Callable, metric: Callable[..., Any], preproc_fn: Callable | None = None) -> None:
        if not callable(metric):
            fail("metric", "a callable metric(model_out, **kwargs)", metric, TypeError)
        self.forward_func = forward_func
        self.metric = metric
        self.preproc_fn = preproc_fn
        self.attacks: dict[str, _Attack] = {}
        self.summary_results: dict[str, _RunningMean] = {}

    def add_attack(self, attack: Perturbation | Callable, name: str | None = None, num_attempts: int = 1,
                   apply_before_preproc: bool = True, attack_kwargs: dict[str, Any] | None = None,
                   additional_attack_arg_names: list[str] | None = None) -> None:
        """Add an attack, evaluated by every later ``evaluate`` call."""
        if not callable(attack):
            fail("attack", "a Perturbation or a callable", attack, TypeError)
        name = name if name is not None else type(attack).__name__
        if name in self.attacks or name == ORIGINAL:
            fail("name", f"a name not used yet (taken: {[ORIGINAL, *self.attacks]})", repr(name))
        check_positive_int("num_attempts", num_attempts)
        self.attacks[name] = _Attack(attack, num_attempts, apply_before_preproc, dict(attack_kwargs or {}),
                                     list(additional_attack_arg_names or []))

    def _preproc(self, value: Any) -> Any:
        return self.preproc_fn(value) if self.preproc_fn is not None else value

    def evaluate(self, inputs: Any, additional_forward_args: Any = None, perturbations_per_eval: int = 1,
                 **kwargs: Any) -> dict[str, Any]:
        """The metric on the original inputs (``"Original"``) and per attack ``{"mean"}`` (plus
        ``"max"``, ``"min"`` over attempts when ``num_attempts > 1``); updates the summary."""
        args = prepare_additional_args(additional_forward_args)
        perturbed: list[Any] = [self._preproc(inputs)]
        owners: list[str] = [ORIGINAL]
        for name, spec in self.attacks.items():
            extra = {k: kwargs[k] for k in spec.additional_attack_arg_names if k in kwargs}
            for _ in range(spec.num_attempts):
                source = inputs if spec.apply_before_preproc else perturbed[0]
                call = spec.attack.perturb if isinstance(spec.attack, Perturbation) else spec.attack
                value = call(source, **spec.attack_kwargs, **extra)
                perturbed.append(self._preproc(value) if spec.apply_before_preproc else value)
                owners.append(name)
        outputs = grouped_outputs(self.forward_func, perturbed, args, perturbations_per_eval)
        metrics = [self.metric(out, **kwargs) for out in outputs]
        result: dict[str, Any] = {ORIGINAL: metrics[0]}
        self._record(ORIGINAL, metrics[0])
        for name, spec in self.attacks.items():
            attempts = [m for m, owner in zip(metrics, owners) if owner == name]
            if spec.num_attempts == 1:
                result[name] = {"mean": attempts[0]}
                self._record(name, attempts[0])
                continue
            stats = {"mean": _combine(attempts, lambda t: t.mean(0)),
                     "max": _combine(attempts, lambda t: t.max(0).values),
                     "min": _combine(attempts, lambda t: t.min(0).values)}
            result[name] = stats
            for key, label in (("mean", "Mean"), ("max", "Max"), ("min", "Min")):
                self._record(f"{name} {label} Attempt", stats[key])
        return result

    def _record(self, key: str, value: Any) -> None:
        self.summary_results.setdefault(key, _RunningMean()).values.append(_batch_mean(value))

    def summary(self) -> dict[str, dict[str, Any]]:
        """Running mean of each key's batch-averaged results since construction or ``reset``."""
        return {key: {"mean": running.mean()} for key, running in self.summary_results.items()}

    def reset(self) -> None:
        """Forget the batches summarised so far."""
        self.summary_results = {}
