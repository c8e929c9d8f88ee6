"""Treatment effects on synthetic "models" whose explanations and predictions are given tensors:
exact averages, zero effect for treatments that change nothing, R^2 = 1 when the explanation is
a linear function of the prediction, about 0 when independent; accuracy bins; bad input."""

from __future__ import annotations

import json
import math

import pytest
import torch

from veracity.causal import (
    TreatmentGrid,
    estimate_effects,
    explanation_distance,
    pairs_differing_in,
    prediction_distance,
)
from veracity.metrics.similarity import spearman

GRID = TreatmentGrid({"seed": [0, 1, 2], "width": [8, 16], "data_order": [0, 1]})
CONFIGS = GRID.configs()  # 12 settings


def _random(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_distances_closed_forms() -> None:
    a, b = _random(5, 1, 3, 3, seed=1) - 0.5, _random(5, 1, 3, 3, seed=2) - 0.5
    flat_a, flat_b = a.reshape(5, -1), b.reshape(5, -1)
    assert torch.allclose(explanation_distance(a, b, "l2"), (flat_a - flat_b).norm(dim=1))
    assert torch.allclose(explanation_distance(a, b, "spearman"), 1 - spearman(flat_a, flat_b))
    assert torch.allclose(explanation_distance(a, -b, "spearman_abs"), 1 - spearman(flat_a.abs(), flat_b.abs()))
    cosine = (flat_a * flat_b).sum(1) / flat_a.norm(dim=1) / flat_b.norm(dim=1)
    assert torch.allclose(explanation_distance(a, b, "cosine"), 1 - cosine)
    for kind in ("spearman_abs", "spearman", "l2", "cosine"):
        assert torch.equal(explanation_distance(a, a.clone(), kind), torch.zeros(5, dtype=torch.float64))
    p = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    q = torch.tensor([[0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
    assert torch.allclose(prediction_distance(p, q), torch.tensor([0.5, 0.1], dtype=torch.float64))
    assert prediction_distance(p, q, "disagreement").tolist() == [1.0, 0.0]
    assert torch.allclose(prediction_distance(p, q, "l2"), (p - q).double().norm(dim=1))


def test_average_effects_equal_the_mean_over_pairs_and_inputs() -> None:
    e, y = _random(12, 7, 4, seed=3), _random(12, 7, 3, seed=4).softmax(-1)
    result = estimate_effects(e, y, CONFIGS, explanation_distance_kind="l2")
    assert [r.treatment for r in result.effects] == ["seed", "width", "data_order"]
    for row in result.effects:
        pairs = pairs_differing_in(CONFIGS, row.treatment)
        by_hand_e = [float((e[i, k] - e[j, k]).norm()) for i, j in pairs for k in range(7)]
        by_hand_y = [float((y[i, k] - y[j, k]).abs().sum() / 2) for i, j in pairs for k in range(7)]
        assert row.pairs == len(pairs)
        assert row.explanation_effect == pytest.approx(sum(by_hand_e) / len(by_hand_e), rel=1e-12)
        assert row.prediction_effect == pytest.approx(sum(by_hand_y) / len(by_hand_y), rel=1e-12)
    assert result.pooled.pairs == 6 + 12 + 6


def test_a_treatment_that_changes_nothing_has_zero_effect() -> None:
    # explanations and predictions depend on the width only: seed and data order do nothing
    by_width = {8: 0, 16: 1}
    e_width, y_width = _random(2, 9, 5, seed=5), _random(2, 9, 4, seed=6).softmax(-1)
    e = torch.stack([e_width[by_width[c["width"]]] for c in CONFIGS])
    y = torch.stack([y_width[by_width[c["width"]]] for c in CONFIGS])
    for kind in ("spearman_abs", "spearman", "l2", "cosine"):
        result = estimate_effects(e, y, CONFIGS, explanation_distance_kind=kind)
        for name in ("seed", "data_order"):
            assert result.effect(name).explanation_effect == 0.0
            assert result.effect(name).prediction_effect == 0.0
            assert math.isnan(result.effect(name).correlation)  # no variation: no defined correlation
        assert result.effect("width").explanation_effect > 0.1


def test_explanation_a_linear_function_of_the_prediction_gives_r2_one() -> None:
    y = _random(12, 40, 6, seed=7).softmax(-1)
    e = (3.0 * y + 1.0).reshape(12, 40, 2, 3)  # maps made of the probabilities: d_E = 3 d_Y
    result = estimate_effects(e, y, CONFIGS, explanation_distance_kind="l2", prediction_distance_kind="l2")
    for row in [*result.effects, result.pooled]:
        assert row.r_squared == pytest.approx(1.0, abs=1e-12)
        assert row.correlation == pytest.approx(1.0, abs=1e-12)
        assert row.explanation_effect == pytest.approx(3 * row.prediction_effect, rel=1e-12)


def test_independent_explanations_give_r2_about_zero() -> None:
    y = _random(12, 300, 10, seed=8).softmax(-1)
    e = _random(12, 300, 64, seed=9)
    result = estimate_effects(e, y, CONFIGS)
    assert result.pooled.pairs == 24
    assert abs(result.pooled.correlation) < 0.03  # 7200 units: sd of the null about 0.012
    assert result.pooled.r_squared < 0.002
    for row in result.effects:
        assert abs(row.correlation) < 0.06 and row.r_squared < 0.005


def test_accuracy_bins_split_the_pairs_by_mean_accuracy() -> None:
    e, y = _random(12, 5, 4, seed=10), _random(12, 5, 3, seed=11).softmax(-1)
    accuracies = [0.5 + 0.04 * i for i in range(12)]
    result = estimate_effects(e, y, CONFIGS, accuracies=accuracies, accuracy_bins=3)
    assert [b.pairs for b in result.bins] == [8, 8, 8]
    assert all(low.high <= high.low for low, high in zip(result.bins, result.bins[1:]))
    pair_means = sorted((accuracies[i] + accuracies[j]) / 2 for n in ("seed", "width", "data_order")
                        for i, j in pairs_differing_in(CONFIGS, n))
    assert result.bins[0].low == pytest.approx(pair_means[0]) and result.bins[-1].high == pytest.approx(pair_means[-1])
    weighted = sum(b.explanation_effect * b.pairs for b in result.bins) / 24
    assert weighted == pytest.approx(result.pooled.explanation_effect)
    assert [b.units for b in result.bins] == [8 * 5] * 3
    assert result.accuracy_bins(3) == result.bins
    assert result.accuracy_bins(3, max_prediction_effect=1.0) == result.bins  # total variation <= 1
    bound = result.pooled.prediction_effect
    restricted = result.accuracy_bins(3, max_prediction_effect=bound)
    all_y = torch.cat([u[1] for u in result.units.values()])
    assert sum(b.units for b in restricted) == int((all_y <= bound).sum()) < 24 * 5
    assert all(b.prediction_effect <= bound for b in restricted)
    assert [(b.low, b.high, b.pairs) for b in restricted] == [(b.low, b.high, b.pairs) for b in result.bins]
    assert estimate_effects(e, y, CONFIGS).bins == []
    with pytest.raises(ValueError, match="`accuracies`"):
        estimate_effects(e, y, CONFIGS).accuracy_bins(2)
    with pytest.raises(ValueError, match="`max_prediction_effect`"):
        result.accuracy_bins(2, max_prediction_effect=-1.0)
    json.dumps(result.to_dict())
    assert result.table().count("\n") == 2 + 3 + 1 + 3 - 1


def test_bad_input_names_the_argument() -> None:
    e, y = _random(12, 5, 4), _random(12, 5, 3)
    with pytest.raises(ValueError, match="`predictions`"):
        estimate_effects(e, y[:, :4], CONFIGS)
    with pytest.raises(ValueError, match="`configs`: expected one setting per model"):
        estimate_effects(e, y, CONFIGS[:5])
    with pytest.raises(ValueError, match="`treatments`: .*'dropout'"):
        estimate_effects(e, y, CONFIGS, treatments=["dropout"])
    with pytest.raises(ValueError, match="`treatments`: .*'epochs'"):
        estimate_effects(e, y, CONFIGS, treatments=["epochs"])
    with pytest.raises(ValueError, match="`treatments`: expected a non-empty list"):
        estimate_effects(e, y, CONFIGS, treatments=[])
    with pytest.raises(ValueError, match="`accuracies`"):
        estimate_effects(e, y, CONFIGS, accuracies=[0.9])
    with pytest.raises(ValueError, match="`explanation_distance_kind`"):
        estimate_effects(e, y, CONFIGS, explanation_distance_kind="kendall")
    with pytest.raises(TypeError, match="`explanations`"):
        estimate_effects(e.tolist(), y, CONFIGS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`configs`: expected settings of which some pair differs"):
        estimate_effects(e[:2], y[:2], [CONFIGS[0], CONFIGS[-1]])  # differ in all three treatments
    with pytest.raises(ValueError, match="`kind`"):
        explanation_distance(e, e, "kendall")
    with pytest.raises(KeyError, match="`treatment`"):
        estimate_effects(e, y, CONFIGS).effect("lr")
