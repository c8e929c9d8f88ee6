"""Treatment effects on explanations and on predictions, and how far the one explains the other.

Karimi et al. (ICML 2023): for a pair of models whose settings differ in one treatment ``h``
only, and an input ``x``, the individual treatment effects are

    ITE_E(x) = d_E(E_a(x), E_b(x))      ITE_Y(x) = d_Y(Y_a(x), Y_b(x)),

the distance between the two models' explanations and between their predictions. A unit is
(input, pair). Per treatment we report the average effects (means over its units), the
Spearman correlation between ITE_E and ITE_Y across units (the paper's relationship measure;
1 = the explanation changes exactly as the prediction does) and the R^2 of the least-squares
line of ITE_E on ITE_Y (the share of the explanation's variation that the prediction's
variation explains linearly); the same pooled over all treatments, and per bin of the pairs'
test accuracy (the paper stratifies by model performance).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from veracity._core.validate import check_choice, check_positive_int, fail
from veracity.causal.grid import TREATMENTS, pairs_differing_in
from veracity.causal.result import ExplanationPredictionResult, TreatmentEffect, bin_by_accuracy, mean_of, relationship
from veracity.metrics.similarity import spearman

EXPLANATION_DISTANCES = ("spearman_abs", "spearman", "l2", "cosine")
PREDICTION_DISTANCES = ("total_variation", "l2", "disagreement")


def explanation_distance(a: Tensor, b: Tensor, kind: str = "spearman_abs") -> Tensor:
    """Per example, the distance between two batches of maps ``(n, ...)``: ``1 - Spearman`` of
    ``|maps|`` (``"spearman_abs"``) or of signed maps (``"spearman"``), the L2 distance
    (``"l2"``) or ``1 - cosine similarity`` (``"cosine"``). NaN for a constant map under the
    rank distances.

    Example:
        >>> import torch
        >>> a = torch.tensor([[1.0, 2.0, 3.0]])
        >>> explanation_distance(a, -a, "spearman_abs"), explanation_distance(a, 2 * a, "l2")
        (tensor([0.], dtype=torch.float64), tensor([3.7417], dtype=torch.float64))
    """
    check_choice("kind", kind, EXPLANATION_DISTANCES)
    x, y = a.reshape(len(a), -1).double(), b.reshape(len(b), -1).double()
    if kind == "spearman_abs":
        x, y = x.abs(), y.abs()
    if kind == "l2":
        return (x - y).norm(dim=1)
    similarity = spearman(x, y) if kind.startswith("spearman") else torch.nn.functional.cosine_similarity(x, y, dim=1)
    # equal maps are at distance 0 exactly, not 1 - (1 - rounding)
    return torch.where((x == y).all(1), torch.zeros_like(similarity), 1 - similarity)


def prediction_distance(a: Tensor, b: Tensor, kind: str = "total_variation") -> Tensor:
    """Per example, the distance between two batches of predictions ``(n, classes)``: half the
    L1 distance of the probability vectors (``"total_variation"``, in [0, 1]), the L2 distance
    (``"l2"``) or 1 where the predicted classes differ (``"disagreement"``).

    Example:
        >>> import torch
        >>> p, q = torch.tensor([[0.9, 0.1]]), torch.tensor([[0.3, 0.7]])
        >>> prediction_distance(p, q), prediction_distance(p, q, "disagreement")
        (tensor([0.6000], dtype=torch.float64), tensor([1.], dtype=torch.float64))
    """
    check_choice("kind", kind, PREDICTION_DISTANCES)
    x, y = a.reshape(len(a), -1).double(), b.reshape(len(b), -1).double()
    if kind == "total_variation":
        return (x - y).abs().sum(1) / 2
    if kind == "l2":
        return (x - y).norm(dim=1)
    return (x.argmax(1) != y.argmax(1)).double()


def _check_inputs(explanations: Tensor, predictions: Tensor, configs: Sequence[Mapping[str, Any]],
                  accuracies: Sequence[float] | None) -> None:
    for name, value in (("explanations", explanations), ("predictions", predictions)):
        if not isinstance(value, Tensor) or value.dim() < 2:
            fail(name, "a tensor (models, examples, ...)", value, TypeError if not isinstance(value, Tensor) else
                 ValueError)
    if explanations.shape[:2] != predictions.shape[:2]:
        fail("predictions", f"(models, examples) = {tuple(explanations.shape[:2])} as in `explanations`",
             predictions)
    if len(configs) != len(explanations):
        fail("configs", f"one setting per model ({len(explanations)})", f"{len(configs)} settings")
    if len(configs) < 2:
        fail("configs", "at least two models", f"{len(configs)} settings")
    if accuracies is not None and len(accuracies) != len(configs):
        fail("accuracies", f"one accuracy per model ({len(configs)})", f"{len(accuracies)} values")


def estimate_effects(explanations: Tensor, predictions: Tensor, configs: Sequence[Mapping[str, Any]],
                     treatments: Sequence[str] | None = None, accuracies: Sequence[float] | None = None,
                     explanation_distance_kind: str = "spearman_abs",
                     prediction_distance_kind: str = "total_variation", accuracy_bins: int = 2
                     ) -> ExplanationPredictionResult:
    """Effects of each treatment on ``explanations`` ``(models, examples, ...)`` and on
    ``predictions`` ``(models, examples, classes)`` (probabilities for ``"total_variation"``),
    where model ``i`` was trained with ``configs[i]``.

    ``treatments``: the ones to estimate (default: every treatment some pair differs in only);
    ``accuracies``: each model's test accuracy, to split the pairs (by their mean accuracy)
    into ``accuracy_bins`` bins of equal size.

    Example:
        >>> import torch
        >>> from veracity.causal import TreatmentGrid
        >>> configs = TreatmentGrid({"seed": [0, 1, 2]}).configs()
        >>> y = torch.rand(3, 50, 4, generator=torch.Generator().manual_seed(0))
        >>> result = estimate_effects(3 * y, y, configs, explanation_distance_kind="l2",
        ...                           prediction_distance_kind="l2")
        >>> round(result.effect("seed").r_squared, 6), round(result.effect("seed").correlation, 6)
        (1.0, 1.0)
    """
    _check_inputs(explanations, predictions, configs, accuracies)
    check_choice("explanation_distance_kind", explanation_distance_kind, EXPLANATION_DISTANCES)
    check_choice("prediction_distance_kind", prediction_distance_kind, PREDICTION_DISTANCES)
    check_positive_int("accuracy_bins", accuracy_bins)
    if treatments is None:
        treatments = [name for name in TREATMENTS if pairs_differing_in(configs, name)]
        if not treatments:
            fail("configs", "settings of which some pair differs in exactly one treatment",
                 f"{len(configs)} settings with no such pair")
    elif isinstance(treatments, str) or not treatments:
        fail("treatments", "a non-empty list of treatment names", repr(treatments))
    units: dict[str, tuple[Tensor, Tensor, Tensor]] = {}
    effects = []
    for name in treatments:
        if name not in TREATMENTS:
            fail("treatments", "treatment names among " + ", ".join(TREATMENTS), repr(name))
        pairs = pairs_differing_in(configs, name)
        if not pairs:
            fail("treatments", "treatments that some pair of settings differs in alone", repr(name))
        first, second = (torch.tensor(side) for side in zip(*pairs))
        n = explanations.shape[1]
        ite_e = explanation_distance(explanations[first].flatten(0, 1), explanations[second].flatten(0, 1),
                                     explanation_distance_kind).reshape(len(pairs), n)
        ite_y = prediction_distance(predictions[first].flatten(0, 1), predictions[second].flatten(0, 1),
                                    prediction_distance_kind).reshape(len(pairs), n)
        pair_accuracy = (torch.tensor([(accuracies[i] + accuracies[j]) / 2 for i, j in pairs], dtype=torch.float64)
                         if accuracies is not None else torch.full((len(pairs),), float("nan"), dtype=torch.float64))
        units[name] = (ite_e, ite_y, pair_accuracy)
        effects.append(TreatmentEffect(name, len(pairs), mean_of(ite_e), mean_of(ite_y), *relationship(ite_e, ite_y)))
    all_e = torch.cat([u[0] for u in units.values()])
    all_y = torch.cat([u[1] for u in units.values()])
    all_acc = torch.cat([u[2] for u in units.values()])
    pooled = TreatmentEffect("all", len(all_e), mean_of(all_e), mean_of(all_y), *relationship(all_e, all_y))
    bins = bin_by_accuracy(all_e, all_y, all_acc, accuracy_bins) if accuracies is not None else []
    return ExplanationPredictionResult(
        explanation_distance=explanation_distance_kind, prediction_distance=prediction_distance_kind,
        effects=effects, pooled=pooled, bins=bins,
        accuracies=[float(a) for a in accuracies] if accuracies is not None else [],
        units={name: (u[0], u[1]) for name, u in units.items()},
        pair_accuracies={name: u[2] for name, u in units.items()})
