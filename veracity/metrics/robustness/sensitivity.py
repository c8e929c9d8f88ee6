"""Robustness: does the explanation stay put when the input barely moves? Lower is better,
except where stated.

Every metric draws ``n_samples`` perturbed copies of the batch (seeded per copy, so results do
not depend on chunking), explains them in memory-budgeted chunks with one call of the batched
explanation per chunk (:mod:`veracity.metrics._engine.perturbed`), and returns one score per example.
``explain_func`` is an ``Attribution`` instance or class, or ``explain(model, inputs, target)``;
``attributions`` (the explanation of ``inputs``) is reused when given. ``max_examples_per_batch``
caps the rows per explanation call (as in Captum's ``sensitivity_max``).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.hooks import HookSet
from veracity._core.validate import check_choice, fail
from veracity.metrics._engine.explain import check_input_tensor
from veracity.metrics._engine.perturbed import (
    gaussian_noise,
    model_outputs,
    per_example_norm,
    perturbation_scores,
    uniform_noise,
)
from veracity.metrics.similarity.correlations import spearman, top_k_overlap

NORMS = ("fro", "inf")

__all__ = [
    "max_sensitivity", "avg_sensitivity", "local_lipschitz_estimate",
    "relative_input_stability", "relative_output_stability", "relative_representation_stability",
    "top_k_intersection_under_perturbation", "rank_correlation_under_perturbation",
]

def _sensitivity(reduce: str, model: Any, inputs: Tensor, target: Any, explain_func: Any,
                 radius: float, n_samples: int, norm: str, normalise: bool,
                 **kwargs: Any) -> Tensor:
    check_choice("norm", norm, NORMS)
    if not isinstance(radius, (int, float)) or radius <= 0:
        fail("radius", "a positive number", radius)

    def score(original: Tensor, perturbed: Tensor, maps: Tensor, outputs: Tensor | None) -> Tensor:
        change = per_example_norm(maps - original, 2, norm)
        if not normalise:
            return change
        size = per_example_norm(original, 1, norm)
        return change / torch.where(size > 0, size, torch.ones_like(size))

    return perturbation_scores(model, inputs, target, explain_func, n_samples,
                               uniform_noise(float(radius), kwargs.pop("seed", 0)), score,
                               reduce=reduce, **kwargs)


def max_sensitivity(model: Any, inputs: Tensor, target: Any, explain_func: Any, *,
                    radius: float = 0.2, n_samples: int = 10, norm: str = "fro",
                    normalise: bool = True, **kwargs: Any) -> Tensor:
    """Max-sensitivity (Yeh et al., "On the (In)fidelity and Sensitivity of Explanations",
    NeurIPS 2019): ``max_j ||Phi(x + d_j) - Phi(x)|| / ||Phi(x)||`` over ``n_samples`` draws of
    ``d_j ~ U[-radius, radius]`` per feature; zero norms count as 1 (as Captum). With
    ``normalise=False`` the raw change. Lower is better. Other keywords: ``attributions``,
    ``seed``, ``nan_when_prediction_changes``, ``max_examples_per_batch``, ``show_progress``.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> model = torch.nn.Linear(4, 2)
        >>> max_sensitivity(model, torch.randn(3, 4), 0, Saliency)  # gradients are constant
        tensor([0., 0., 0.])
    """
    return _sensitivity("max", model, inputs, target, explain_func, radius, n_samples, norm,
                        normalise, **kwargs)


def avg_sensitivity(model: Any, inputs: Tensor, target: Any, explain_func: Any, *,
                    radius: float = 0.2, n_samples: int = 10, norm: str = "fro",
                    normalise: bool = True, **kwargs: Any) -> Tensor:
    """Average sensitivity (Yeh et al. 2019): as :func:`max_sensitivity`, the mean over draws.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> avg_sensitivity(torch.nn.Linear(4, 2), torch.randn(3, 4), 0, Saliency)  # constant gradient
        tensor([0., 0., 0.])
    """
    return _sensitivity("mean", model, inputs, target, explain_func, radius, n_samples, norm,
                        normalise, **kwargs)


def local_lipschitz_estimate(model: Any, inputs: Tensor, target: Any, explain_func: Any, *,
                             std: float = 0.1, n_samples: int = 10, **kwargs: Any) -> Tensor:
    """Local Lipschitz estimate (Alvarez-Melis & Jaakkola 2018): ``max_j ||Phi(x') - Phi(x)||_2 /
    ||x' - x||_2`` over ``x' = x + N(0, std^2)``. Lower is better.

    Example:
        >>> import torch
        >>> from veracity.attr import InputXGradient
        >>> model = torch.nn.Linear(4, 1, bias=False)
        >>> torch.nn.init.ones_(model.weight)
        Parameter containing:
        tensor([[1., 1., 1., 1.]], requires_grad=True)
        >>> score = local_lipschitz_estimate(model, torch.randn(2, 4), None, InputXGradient)
        >>> bool(torch.allclose(score, torch.ones(2)))  # Phi(x) = x
        True
    """
    x = check_input_tensor(inputs)

    def score(original: Tensor, perturbed: Tensor, maps: Tensor, outputs: Tensor | None) -> Tensor:
        return per_example_norm(maps - original, 2) / per_example_norm(perturbed - x, 2)

    return perturbation_scores(model, inputs, target, explain_func, n_samples,
                               gaussian_noise(std, kwargs.pop("seed", 0)), score, **kwargs)


def _relative(x: Tensor, reference: Tensor, eps_min: float) -> Tensor:
    """``(reference - x) / reference`` with zeros in ``reference`` replaced by ``eps_min``."""
    return (reference - x) / (reference + (reference == 0) * eps_min)


def _relative_stability(model: Any, inputs: Tensor, target: Any, explain_func: Any,
                        denominator: Callable[[Tensor, Tensor], Tensor], radius: float,
                        n_samples: int, eps_min: float, nan_when_prediction_changes: bool,
                        **kwargs: Any) -> Tensor:
    def score(original: Tensor, perturbed: Tensor, maps: Tensor, outputs: Tensor | None) -> Tensor:
        numerator = per_example_norm(_relative(maps, original, eps_min), 2)
        assert outputs is not None  # with_outputs=True below
        return numerator / denominator(perturbed, outputs).clamp_min(eps_min)

    return perturbation_scores(model, inputs, target, explain_func, n_samples,
                               uniform_noise(radius, kwargs.pop("seed", 0)), score,
                               nan_when_prediction_changes=nan_when_prediction_changes,
                               with_outputs=True, **kwargs)


def relative_input_stability(model: Any, inputs: Tensor, target: Any, explain_func: Any, *,
                             radius: float = 0.2, n_samples: int = 10, eps_min: float = 1e-6,
                             nan_when_prediction_changes: bool = True, **kwargs: Any) -> Tensor:
    """Relative input stability (Agarwal et al., "Rethinking Stability for Attribution-based
    Explanations", 2022): ``max ||(Phi(x) - Phi(x'))/Phi(x)|| / max(||(x - x')/x||, eps_min)``
    over uniform perturbations that keep the predicted class (others count as NaN; all of them
    changing gives NaN). Zeros in denominators are replaced by ``eps_min``. Lower is better.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> relative_input_stability(torch.nn.Linear(4, 2), torch.randn(3, 4), 0, Saliency).shape
        torch.Size([3])
    """
    x = check_input_tensor(inputs)
    return _relative_stability(
        model, inputs, target, explain_func,
        lambda perturbed, outputs: per_example_norm(_relative(perturbed, x, eps_min), 2),
        radius, n_samples, eps_min, nan_when_prediction_changes, **kwargs)


def relative_output_stability(model: Any, inputs: Tensor, target: Any, explain_func: Any, *,
                              radius: float = 0.2, n_samples: int = 10, eps_min: float = 1e-6,
                              nan_when_prediction_changes: bool = True, **kwargs: Any) -> Tensor:
    """Relative output stability (Agarwal et al. 2022): as :func:`relative_input_stability`
    with the denominator ``max(||h(x) - h(x')||_2, eps_min)`` on the model's outputs (logits).

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> relative_output_stability(torch.nn.Linear(4, 2), torch.randn(3, 4), 0, Saliency).shape
        torch.Size([3])
    """
    logits = model_outputs(model, check_input_tensor(inputs))
    return _relative_stability(
        model, inputs, target, explain_func,
        lambda perturbed, outputs: per_example_norm(outputs - logits, 2),
        radius, n_samples, eps_min, nan_when_prediction_changes, **kwargs)


def _representation(model: Any, layer: nn.Module, x: Tensor) -> Tensor:
    captured: list[Tensor] = []
    with HookSet() as hooks:
        hooks.add(layer.register_forward_hook(lambda m, i, o: captured.append(o.detach())))
        model_outputs(model, x)
    return torch.cat(captured)


def relative_representation_stability(model: nn.Module, inputs: Tensor, target: Any,
                                      explain_func: Any, *, layer: nn.Module | str,
                                      radius: float = 0.2, n_samples: int = 10,
                                      eps_min: float = 1e-6,
                                      nan_when_prediction_changes: bool = True,
                                      **kwargs: Any) -> Tensor:
    """Relative representation stability (Agarwal et al. 2022): the denominator is the
    relative change ``||(L(x) - L(x'))/L(x)||`` of ``layer``'s output (a module or its name),
    captured by a forward hook that is always removed. Lower is better.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
        >>> relative_representation_stability(model, torch.randn(3, 4), 0, Saliency, layer="1").shape
        torch.Size([3])
    """
    if isinstance(layer, str):
        modules = dict(model.named_modules()) if isinstance(model, nn.Module) else {}
        if layer not in modules:
            fail("layer", "a module of the model or its name", repr(layer))
        layer = modules[layer]
    if not isinstance(layer, nn.Module):
        fail("layer", "a module of the model or its name", layer, TypeError)
    x = check_input_tensor(inputs)
    reference = _representation(model, layer, x)
    batch = x.shape[0]

    def denominator(perturbed: Tensor, outputs: Tensor | None) -> Tensor:
        k = perturbed.shape[0]
        rep = _representation(model, layer, perturbed.reshape(k * batch, *x.shape[1:]))
        rep = rep.reshape(k, *reference.shape)
        return per_example_norm(_relative(rep, reference, eps_min), 2)

    return _relative_stability(model, inputs, target, explain_func, denominator, radius,
                               n_samples, eps_min, nan_when_prediction_changes, **kwargs)


def top_k_intersection_under_perturbation(model: Any, inputs: Tensor, target: Any,
                                          explain_func: Any, *, k: int | None = None, std: float = 0.1,
                                          n_samples: int = 10, **kwargs: Any) -> Tensor:
    """Mean share of the ``k`` top-|Phi| features kept under ``x + N(0, std^2)`` noise
    (Ghorbani et al., "Interpretation of Neural Networks is Fragile", 2019); ``k`` defaults to
    a tenth of the features (at least one). Higher is better.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> top_k_intersection_under_perturbation(torch.nn.Linear(4, 2), torch.randn(3, 4), 0,
        ...                                       Saliency, k=2)
        tensor([1., 1., 1.])
    """
    if k is None:
        k = max(1, check_input_tensor(inputs)[0].numel() // 10)

    def score(original: Tensor, perturbed: Tensor, maps: Tensor, outputs: Tensor | None) -> Tensor:
        return torch.stack([top_k_overlap(original, m, k) for m in maps])

    return perturbation_scores(model, inputs, target, explain_func, n_samples,
                               gaussian_noise(std, kwargs.pop("seed", 0)), score, reduce="mean",
                               **kwargs)


def rank_correlation_under_perturbation(model: Any, inputs: Tensor, target: Any,
                                        explain_func: Any, *, std: float = 0.1,
                                        n_samples: int = 10, **kwargs: Any) -> Tensor:
    """Mean Spearman rank correlation between ``Phi(x)`` and ``Phi(x + N(0, std^2))``
    (Ghorbani et al. 2019). Higher is better.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> rank_correlation_under_perturbation(torch.nn.Linear(4, 2), torch.randn(3, 4), 0,
        ...                                     Saliency)
        tensor([1., 1., 1.])
    """
    def score(original: Tensor, perturbed: Tensor, maps: Tensor, outputs: Tensor | None) -> Tensor:
        return torch.stack([spearman(original, m) for m in maps])

    return perturbation_scores(model, inputs, target, explain_func, n_samples,
                               gaussian_noise(std, kwargs.pop("seed", 0)), score, reduce="mean",
                               **kwargs)
