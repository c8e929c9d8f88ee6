"""Explanations and predictions of every model of a grid on one fixed evaluation set, and the
whole study (train the grid, explain, estimate the effects) in one call."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn

from veracity._core.predict import predict
from veracity._core.progress import progress_bar
from veracity._core.validate import check_choice, check_optional_positive_int, check_positive_int, describe, fail
from veracity.attr.gradient.saliency import Saliency
from veracity.causal.effects import EXPLANATION_DISTANCES, PREDICTION_DISTANCES, estimate_effects
from veracity.causal.grid import TreatmentGrid
from veracity.causal.result import ExplanationPredictionResult
from veracity.causal.training import ModelGrid, single_thread, train_grid
from veracity.data.digits import Digits


def _targets(target: Any, n: int, probabilities: Tensor) -> Any:
    if isinstance(target, str):
        if target != "predicted":
            fail("target", "an int, a tensor of n labels, or 'predicted'", repr(target))
        return probabilities.argmax(1)
    if isinstance(target, (list, tuple)):
        target = torch.as_tensor(target)
    if isinstance(target, Tensor) and target.dim() == 1 and len(target) != n:
        fail("target", f"one label per example ({n})", target)
    return target


def explain_grid(models: ModelGrid | Sequence[nn.Module], inputs: Tensor, target: Any = "predicted",
                 method: Any = Saliency, attribute_kwargs: dict[str, Any] | None = None,
                 batch_size: int | None = None, show_progress: bool = False) -> tuple[Tensor, Tensor]:
    """``(explanations, predictions)`` of every model on ``inputs``: ``(models, n, ...)`` maps of
    ``method(model).attribute(x, target=..., **attribute_kwargs)`` and ``(models, n, classes)``
    softmax probabilities, computed ``batch_size`` examples per call (all at once when None;
    the results do not depend on it). ``target``: the explained class, an int, ``n`` labels,
    or ``"predicted"`` (each model's own predicted class).

    Example:
        >>> import torch
        >>> models = [torch.nn.Linear(4, 3).eval() for _ in range(2)]
        >>> e, p = explain_grid(models, torch.randn(5, 4), target=0)
        >>> tuple(e.shape), tuple(p.shape)
        ((2, 5, 4), (2, 5, 3))
    """
    listed = models.models if isinstance(models, ModelGrid) else models
    if isinstance(listed, nn.Module) or not isinstance(listed, Sequence) or not listed:
        fail("models", "a ModelGrid or a non-empty list of models", describe(listed))
    if not isinstance(inputs, Tensor) or inputs.dim() < 2 or len(inputs) == 0:
        fail("inputs", "a tensor (n, ...) with n >= 1 examples", inputs, TypeError if not isinstance(inputs, Tensor)
             else ValueError)
    check_optional_positive_int("batch_size", batch_size)
    if attribute_kwargs is not None and not isinstance(attribute_kwargs, dict):
        fail("attribute_kwargs", "a dict of keyword arguments of attribute() or None", attribute_kwargs, TypeError)
    if not callable(method):
        fail("method", "an attribution class such as veracity.attr.Saliency", method, TypeError)
    n = len(inputs)
    step = batch_size or n
    explanations, predictions = [], []
    with progress_bar(len(listed), show_progress, "explaining the grid") as bar:
        for model in listed:
            probabilities = predict(model, inputs, batch_size=step).softmax(1)
            labels = _targets(target, n, probabilities)
            maps = []
            for start in range(0, n, step):
                chunk_target = labels[start:start + step] if isinstance(labels, Tensor) and labels.dim() == 1 \
                    else labels
                maps.append(method(model).attribute(inputs[start:start + step], target=chunk_target,
                                                    **(attribute_kwargs or {})).detach())
            explanations.append(torch.cat(maps))
            predictions.append(probabilities)
            bar.update(1)
    return torch.stack(explanations), torch.stack(predictions)


def explanation_vs_prediction(grid: TreatmentGrid, data: Digits, n_examples: int | None = 200,
                              target: Any = "label", method: Any = Saliency,
                              attribute_kwargs: dict[str, Any] | None = None,
                              explanation_distance: str = "spearman_abs",
                              prediction_distance: str = "total_variation", accuracy_bins: int = 2,
                              batch_size: int | None = None, show_progress: bool = False
                              ) -> tuple[ExplanationPredictionResult, ModelGrid]:
    """Train a :class:`~veracity.causal.training.DigitsMLP` per setting of ``grid``, explain the
    first ``n_examples`` test digits of ``data`` with each (``target="label"``: the true class;
    or anything :func:`explain_grid` takes) and estimate every varied treatment's effect on
    explanations and on predictions (:func:`~veracity.causal.effects.estimate_effects`).
    Returns the result and the trained grid; the same grid gives the same numbers.

    Example:
        >>> from veracity.data.digits import load_digits
        >>> grid = TreatmentGrid({"seed": [0, 1], "width": [8, 16]}, fixed={"epochs": 1})
        >>> result, trained = explanation_vs_prediction(grid, load_digits(), n_examples=20)
        >>> [e.treatment for e in result.effects], result.effect("seed").pairs
        (['seed', 'width'], 2)
    """
    if not isinstance(grid, TreatmentGrid):
        fail("grid", "a TreatmentGrid", grid, TypeError)
    if not grid.varied:
        fail("grid", "a grid that varies at least one treatment (two or more values)", repr(dict(grid.treatments)))
    check_optional_positive_int("n_examples", n_examples)
    check_choice("explanation_distance", explanation_distance, EXPLANATION_DISTANCES)
    check_choice("prediction_distance", prediction_distance, PREDICTION_DISTANCES)
    check_positive_int("accuracy_bins", accuracy_bins)
    trained = train_grid(grid, data, show_progress=show_progress)
    count = len(data.test_x) if n_examples is None else min(n_examples, len(data.test_x))
    x = data.test_x[:count]
    chosen = data.test_y[:count] if isinstance(target, str) and target == "label" else target
    with single_thread():  # the grid's models are tiny MLPs
        explanations, predictions = explain_grid(trained, x, chosen, method, attribute_kwargs, batch_size,
                                                 show_progress)
    result = estimate_effects(explanations, predictions, trained.configs, list(grid.varied), trained.accuracies,
                              explanation_distance, prediction_distance, accuracy_bins)
    return result, trained
