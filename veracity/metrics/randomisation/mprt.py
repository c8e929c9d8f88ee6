"""Randomisation sanity checks: does the explanation depend on what the model learned?

Adebayo et al., "Sanity Checks for Saliency Maps" (NeurIPS 2018): re-initialise the model's
layers (cascading from the logits down, from the input up, or one at a time) and compare the
explanations before and after. A method whose maps stay similar does not explain the model.
Lower similarity = the method passes. The checks built on this (random logit, data
randomisation, SmoothMPRT, EfficientMPRT) are in :mod:`.checks`.

The user's model is never modified: all randomisation happens on a deep copy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import Tensor, nn

from veracity._core.validate import check_choice, fail
from veracity.metrics._engine.explain import (
    as_explain_func,
    check_attributions,
    check_input_tensor,
    explain_checked,
)
from veracity.metrics.similarity.correlations import against_reference, spearman, spearman_abs

__all__ = [
    "RandomisationResult", "randomisable_layers", "randomise_layer", "randomised_models",
    "model_parameter_randomisation",
]

ORDERS = ("top_down", "bottom_up", "independent")
Similarity = Callable[[Tensor, Tensor], Tensor]
DEFAULT_SIMILARITIES: dict[str, Similarity] = {"spearman_abs": spearman_abs, "spearman": spearman}


@dataclass
class RandomisationResult:
    """Similarity of each stage's maps to the original maps.

    ``stages[i]`` names the layer randomised at stage ``i`` (cumulatively for the cascading
    orders); ``similarity[name]`` is ``(stages, batch)``; ``original`` the trained model's
    maps and ``maps`` (when kept) ``(stages, batch, ...)``. Lower similarity = better.
    """

    stages: list[str]
    similarity: dict[str, Tensor]
    original: Tensor
    maps: Tensor | None = field(default=None, repr=False)

    def mean(self) -> dict[str, Tensor]:
        """Mean over examples per stage (NaNs ignored): ``{name: (stages,)}``."""
        return {k: v.nanmean(1) for k, v in self.similarity.items()}

    def last(self) -> dict[str, Tensor]:
        """Per-example similarity after the last stage: ``{name: (batch,)}``."""
        return {k: v[-1] for k, v in self.similarity.items()}

    def by_layer(self) -> dict[str, dict[str, float]]:
        """Mean similarity over examples per stage, keyed by the layer randomised at that stage:
        ``{layer: {similarity name: mean}}`` in stage order (what :meth:`mean` gives unlabelled).

        Example:
            >>> r = RandomisationResult(["fc", "conv"], {"spearman": torch.tensor([[0.5, 0.7], [0.1, 0.3]])},
            ...                         torch.zeros(2))
            >>> {layer: round(v["spearman"], 3) for layer, v in r.by_layer().items()}
            {'fc': 0.6, 'conv': 0.2}
        """
        means = self.mean()
        return {stage: {k: float(v[i]) for k, v in means.items()} for i, stage in enumerate(self.stages)}


def randomisable_layers(model: nn.Module) -> list[str]:
    """Names of the modules that own parameters directly, in registration (input-to-output) order.

    Example:
        >>> from veracity.data import DigitsCNN
        >>> randomisable_layers(DigitsCNN())
        ['conv1', 'conv2', 'fc1', 'fc2']
    """
    return [name for name, module in model.named_modules()
            if any(True for _ in module.parameters(recurse=False))]


def randomise_layer(module: nn.Module, seed: int) -> None:
    """Re-initialise ``module``'s own parameters in place, reproducibly from ``seed``.

    Uses the module's ``reset_parameters`` (its own initialiser, as Adebayo et al. do) under
    a forked RNG, so torch's global random state is left as it was; modules without one get
    Gaussian weights with the standard deviation of the old ones.
    """
    devices = sorted({p.device.index or 0 for p in module.parameters(recurse=False) if p.is_cuda})
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()  # type: ignore[operator]  # nn.Module.__getattr__ is typed Tensor | Module
            return
        for param in module.parameters(recurse=False):
            scale = param.std() if param.numel() > 1 else param.abs().clamp_min(1.0)
            param.copy_(torch.randn_like(param) * scale)


def _stage_order(model: nn.Module, layers: list[str] | None, order: str) -> list[str]:
    check_choice("order", order, ORDERS)
    available = randomisable_layers(model)
    if layers is None:
        layers = available
    else:
        if isinstance(layers, str) or not all(isinstance(n, str) for n in layers) or not layers:
            fail("layers", "a non-empty list of module names", layers, TypeError)
        modules = dict(model.named_modules())
        missing = [n for n in layers if n not in modules]
        if missing:
            fail("layers", f"names of the model's modules (randomisable: {available})", str(missing))
    return list(reversed(layers)) if order == "top_down" else list(layers)


def randomised_models(model: nn.Module, order: str = "top_down", layers: list[str] | None = None,
                      seed: int = 0) -> Iterator[tuple[str, nn.Module]]:
    """Yield ``(layer_name, randomised_copy)`` for every stage; the original is never touched.

    ``top_down`` re-initialises from the output layer towards the input, cumulatively
    (Adebayo et al.'s cascade); ``bottom_up`` from the input upwards, cumulatively;
    ``independent`` one layer at a time, the others trained. ``layers`` defaults to
    :func:`randomisable_layers` (listed input-to-output). One working copy is reused, so
    consume each copy before asking for the next. Layer ``i`` of the list gets the ``i``-th
    seed drawn from ``seed`` whatever the order, so a layer gets the same weights in every order.

    Example:
        >>> from veracity.data import DigitsCNN
        >>> [name for name, _ in randomised_models(DigitsCNN())]
        ['fc2', 'fc1', 'conv2', 'conv1']
    """
    if not isinstance(model, nn.Module):
        fail("model", "a torch.nn.Module (randomisation re-initialises its layers)", model, TypeError)
    stages = _stage_order(model, layers, order)
    listed = list(reversed(stages)) if order == "top_down" else stages
    # per-layer seeds drawn from `seed` (not `seed + i`, which would recreate torch's
    # default initialisation of a model built right after torch.manual_seed(seed + i))
    layer_seeds = torch.randint(2**62, (len(listed),), generator=torch.Generator().manual_seed(seed))
    working = copy.deepcopy(model)
    modules = dict(working.named_modules())
    for name in stages:
        module = modules[name]
        saved = copy.deepcopy(module.state_dict()) if order == "independent" else None
        randomise_layer(module, int(layer_seeds[listed.index(name)]))
        yield name, working
        if saved is not None:
            module.load_state_dict(saved)


def model_parameter_randomisation(
    model: nn.Module,
    inputs: Tensor,
    target: Any,
    explain_func: Any,
    *,
    order: str = "top_down",
    layers: list[str] | None = None,
    similarity_funcs: dict[str, Similarity] | None = None,
    attributions: Tensor | None = None,
    seed: int = 0,
    keep_maps: bool = False,
    show_progress: bool = False,
) -> RandomisationResult:
    """Model parameter randomisation test (MPRT; Adebayo et al. 2018).

    For each stage of :func:`randomised_models` the explanation of the same inputs for the
    same ``target`` is recomputed on the randomised copy (one batched ``explain_func`` call
    per stage) and compared with the trained model's maps by each of ``similarity_funcs``
    (default: Spearman rank correlation of absolute maps and of signed maps). Lower = the
    method is sensitive to the parameters, as it should be. ``explain_func`` is an
    ``Attribution`` instance or class, or ``explain(model, inputs, target)``;
    ``attributions`` are the trained model's maps if already computed.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> from veracity.data import DigitsCNN
        >>> model = DigitsCNN().eval()
        >>> result = model_parameter_randomisation(model, torch.rand(4, 1, 8, 8), 0, Saliency)
        >>> result.stages, tuple(result.similarity["spearman_abs"].shape)
        (['fc2', 'fc1', 'conv2', 'conv1'], (4, 4))
    """
    inputs = check_input_tensor(inputs)
    check_seed(seed)
    explain = as_explain_func(explain_func)
    similarities = check_similarities(similarity_funcs)
    if attributions is None:
        original = explain_checked(explain, model, inputs, target)
    else:
        original = check_attributions(attributions, inputs)
    stages, maps = [], []
    stage_iter: Iterable[tuple[str, nn.Module]] = randomised_models(model, order, layers, seed)
    if show_progress:
        from tqdm.auto import tqdm
        stage_iter = tqdm(stage_iter, total=len(_stage_order(model, layers, order)), desc="MPRT")
    for name, randomised in stage_iter:
        stages.append(name)
        maps.append(explain_checked(explain, randomised, inputs, target))
    stacked = torch.stack(maps)
    # one batched similarity call over (stages x batch) pairs, not one per stage
    scores = {key: against_reference(fn, original, stacked) for key, fn in similarities.items()}
    return RandomisationResult(stages, scores, original, stacked if keep_maps else None)


def check_similarities(similarity_funcs: dict[str, Similarity] | None) -> dict[str, Similarity]:
    if similarity_funcs is None:
        return dict(DEFAULT_SIMILARITIES)
    if not isinstance(similarity_funcs, dict) or not similarity_funcs or not all(
            callable(f) for f in similarity_funcs.values()):
        fail("similarity_funcs", "a non-empty dict {name: similarity(a, b) -> (batch,)}",
             similarity_funcs, TypeError)
    return similarity_funcs


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        fail("seed", "an integer", seed, TypeError)
    return seed

