"""Random-logit, data randomisation, SmoothMPRT and EfficientMPRT, built on the parameter
randomisation of :mod:`.mprt`."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.targets import prepare_target
from veracity._core.validate import check_positive_int, fail
from veracity.metrics._engine.explain import (
    as_explain_func,
    check_attributions,
    check_input_tensor,
    explain_checked,
)
from veracity.metrics._engine.perturbed import explain_perturbed, gaussian_noise, model_outputs
from veracity.metrics.randomisation.mprt import (
    RandomisationResult,
    Similarity,
    check_seed,
    check_similarities,
    model_parameter_randomisation,
    randomised_models,
)
from veracity.metrics.similarity.correlations import pearson
from veracity.metrics.similarity.images import ssim

__all__ = ["random_logit", "data_randomisation_test", "smooth_mprt", "efficient_mprt",
           "smoothed_explain_func", "discrete_entropy"]


def _class_targets(target: Any, batch: int) -> Tensor:
    index = prepare_target(target, batch).index
    if index is None or index.shape[1] != 1:
        fail("target", "one class index per example (an int, list or 1-d tensor)", target)
    return index[:, 0]


def random_logit(model: Any, inputs: Tensor, target: Any, explain_func: Any, *,
                 num_classes: int | None = None, similarity_func: Similarity | None = None,
                 attributions: Tensor | None = None, seed: int = 0) -> Tensor:
    """Random logit test (Sixt et al., "When Explanations Lie", ICML 2020), per example.

    Similarity between the explanation for the target class and for a class drawn uniformly
    from the other ``num_classes - 1`` (default: the output width). Both explanations come
    from one batched call. ``similarity_func`` defaults to :func:`ssim` for image maps
    (as Quantus) and :func:`pearson` otherwise. Lower = the explanation is class-specific.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> model = torch.nn.Linear(5, 3)
        >>> random_logit(model, torch.randn(4, 5), 0, Saliency).shape
        torch.Size([4])
    """
    inputs = check_input_tensor(inputs)
    check_seed(seed)
    explain = as_explain_func(explain_func)
    batch = inputs.shape[0]
    classes = _class_targets(target, batch).to(inputs.device)
    if num_classes is None:
        num_classes = model_outputs(model, inputs[:1]).reshape(1, -1).shape[1]
    check_positive_int("num_classes", num_classes, 2)
    g = torch.Generator().manual_seed(seed)
    other = (classes + torch.randint(1, num_classes, (batch,), generator=g).to(inputs.device)) % num_classes
    if attributions is None:
        both = explain_checked(explain, model, torch.cat([inputs, inputs]), torch.cat([classes, other]))
        original, random = both[:batch], both[batch:]
    else:
        original = check_attributions(attributions, inputs)
        random = explain_checked(explain, model, inputs, other)
    if similarity_func is None:
        similarity_func = ssim if inputs.dim() in (3, 4) else pearson
    return similarity_func(original, random)


def data_randomisation_test(model: nn.Module, train_func: Callable[[Tensor], nn.Module],
                            train_labels: Tensor, inputs: Tensor, target: Any, explain_func: Any, *,
                            similarity_funcs: dict[str, Similarity] | None = None,
                            attributions: Tensor | None = None, seed: int = 0) -> RandomisationResult:
    """Data randomisation test (Adebayo et al. 2018): explain a model trained on permuted labels.

    ``train_func(labels)`` must train a fresh model of the same architecture on the training
    inputs with ``labels`` and return it; it is called once with ``train_labels`` permuted by
    ``seed``. The maps of ``model`` and of the random-label model on ``inputs`` are compared
    (default: Spearman of absolute and of signed maps). Lower = the method depends on the
    relation between inputs and labels that the model learned.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> model = torch.nn.Linear(4, 2)
        >>> result = data_randomisation_test(model, lambda labels: torch.nn.Linear(4, 2),
        ...                                  torch.tensor([0, 1, 1]), torch.randn(3, 4), 0, Saliency)
        >>> result.stages
        ['random labels']
    """
    inputs = check_input_tensor(inputs)
    check_seed(seed)
    if not callable(train_func):
        fail("train_func", "a function train_func(labels) -> trained model", train_func, TypeError)
    if not isinstance(train_labels, Tensor) or train_labels.dim() == 0:
        fail("train_labels", "a tensor of training labels", train_labels, TypeError)
    explain = as_explain_func(explain_func)
    similarities = check_similarities(similarity_funcs)
    g = torch.Generator().manual_seed(seed)
    permuted = train_labels[torch.randperm(train_labels.shape[0], generator=g).to(train_labels.device)]
    random_model = train_func(permuted)
    if not callable(random_model):
        fail("train_func", "a function returning the trained model", random_model, TypeError)
    original = (explain_checked(explain, model, inputs, target) if attributions is None
                else check_attributions(attributions, inputs))
    random = explain_checked(explain, random_model, inputs, target)
    scores = {k: fn(original, random)[None] for k, fn in similarities.items()}
    return RandomisationResult(["random labels"], scores, original, random[None])


def smoothed_explain_func(explain_func: Any, n_samples: int = 50, noise_magnitude: float = 0.1,
                          seed: int = 0) -> Callable[[Any, Tensor, Any], Tensor]:
    """``explain`` averaged over ``n_samples`` copies with Gaussian noise of standard deviation
    ``noise_magnitude * (max - min)`` of each input (SmoothMPRT's denoising). The noisy copies
    are explained in budgeted chunks, one call per chunk.
    """
    check_positive_int("n_samples", n_samples)
    explain = as_explain_func(explain_func)

    def smoothed(model: Any, inputs: Tensor, target: Any) -> Tensor:
        flat = inputs.reshape(inputs.shape[0], -1)
        spread = (flat.amax(1) - flat.amin(1)).reshape(-1, *([1] * (inputs.dim() - 1)))
        unit = gaussian_noise(1.0, seed)
        total = torch.zeros_like(inputs)

        def add(start: int, stop: int, perturbed: Tensor, maps: Tensor, outputs: Tensor | None) -> None:
            total.add_(maps.sum(0))

        explain_perturbed(explain, model, inputs, target, n_samples,
                          lambda p, x: x + (unit(p, x) - x) * noise_magnitude * spread, add)
        return total / n_samples

    return smoothed


def smooth_mprt(model: nn.Module, inputs: Tensor, target: Any, explain_func: Any, *,
                n_samples: int = 50, noise_magnitude: float = 0.1, order: str = "bottom_up",
                seed: int = 0, **mprt_kwargs: Any) -> RandomisationResult:
    """SmoothMPRT (Hedström et al. 2023): MPRT on explanations denoised over noisy inputs.

    Quantus's defaults: 50 samples, noise 0.1 of the input range, bottom-up order.
    Lower similarity = better. Other keywords go to :func:`model_parameter_randomisation`.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> from veracity.data import DigitsCNN
        >>> result = smooth_mprt(DigitsCNN().eval(), torch.rand(2, 1, 8, 8), 0, Saliency, n_samples=4)
        >>> result.stages
        ['conv1', 'conv2', 'fc1', 'fc2']
    """
    smoothed = smoothed_explain_func(explain_func, n_samples, noise_magnitude, seed)
    return model_parameter_randomisation(model, inputs, target, smoothed, order=order, seed=seed,
                                         **mprt_kwargs)


def discrete_entropy(maps: Tensor, bins: int = 100) -> Tensor:
    """Shannon entropy (nats) of the histogram of ``|A| / max|A|`` on [0, 1], per example."""
    check_positive_int("bins", bins, 2)
    flat = maps.reshape(maps.shape[0], -1).abs()
    scaled = flat / flat.amax(1, keepdim=True).clamp_min(torch.finfo(flat.dtype).tiny)
    index = (scaled * bins).long().clamp_max(bins - 1)
    counts = torch.zeros(flat.shape[0], bins, device=maps.device).scatter_add_(
        1, index, torch.ones_like(index, dtype=torch.float32))
    p = counts / flat.shape[1]
    return -(p * torch.log(p.clamp_min(1e-30))).sum(1)


def efficient_mprt(model: nn.Module, inputs: Tensor, target: Any, explain_func: Any, *,
                   complexity_func: Callable[[Tensor], Tensor] = discrete_entropy,
                   layers: list[str] | None = None, attributions: Tensor | None = None,
                   seed: int = 0) -> Tensor:
    """EfficientMPRT (Hedström et al. 2023): relative rise in explanation complexity after
    randomising every layer at once, ``(C(rand) - C(orig)) / C(orig)``, per example.

    Two explanation calls instead of one per layer. ``complexity_func`` defaults to the
    discrete entropy of the map's histogram. Higher = better (randomisation should make
    the explanation noisier).

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> from veracity.data import DigitsCNN
        >>> efficient_mprt(DigitsCNN().eval(), torch.rand(3, 1, 8, 8), 0, Saliency).shape
        torch.Size([3])
    """
    inputs = check_input_tensor(inputs)
    check_seed(seed)
    explain = as_explain_func(explain_func)
    original = (explain_checked(explain, model, inputs, target) if attributions is None
                else check_attributions(attributions, inputs))
    *_, (_, randomised) = randomised_models(model, "bottom_up", layers, seed)
    random = explain_checked(explain, randomised, inputs, target)
    before = complexity_func(original)
    return (complexity_func(random) - before) / before
