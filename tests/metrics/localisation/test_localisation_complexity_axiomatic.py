"""Localisation, complexity and axiomatic metrics: hand values, NaN cases, bad input, safety."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from veracity.attr import InputXGradient, IntegratedGradients, Saliency
from veracity.metrics import (
    attribution_localisation,
    completeness,
    complexity_entropy,
    effective_complexity,
    focus,
    input_invariance,
    non_sensitivity,
    pointing_game,
    relevance_mass_accuracy,
    relevance_rank_accuracy,
    roc_auc,
    sparseness,
    top_k_intersection,
)


def test_localisation_hand_values_and_channel_sum() -> None:
    a = torch.tensor([[[[4.0, 3.0], [2.0, -1.0]]], [[[0.0, 1.0], [5.0, 2.0]]]])  # (2, 1, 2, 2)
    masks = torch.tensor([[[1, 0], [1, 0]], [[0, 1], [0, 0]]])  # spatial (2, 2, 2)
    assert pointing_game(a, masks).tolist() == [1.0, 0.0]
    assert pointing_game(a, masks, tolerance=1.5).tolist() == [1.0, 1.0]
    torch.testing.assert_close(attribution_localisation(a, masks), torch.tensor([6 / 9, 1 / 8]))
    torch.testing.assert_close(attribution_localisation(a, masks, weighted=True),
                               torch.tensor([6 / 9 * 2, 1 / 8 * 4]))
    torch.testing.assert_close(top_k_intersection(a, masks, k=2), torch.tensor([0.5, 0.0]))
    torch.testing.assert_close(relevance_rank_accuracy(a, masks), torch.tensor([0.5, 0.0]))
    torch.testing.assert_close(relevance_mass_accuracy(a, masks), torch.tensor([0.6, 0.125]))
    # AUC: example 0 positives {4, 2} vs negatives {3, -1}: pairs won 3 of 4
    torch.testing.assert_close(roc_auc(a, masks), torch.tensor([0.75, 1 / 3]))
    # three channels summed give the same answers as one
    three = torch.cat([a, a, a], 1) / 3
    torch.testing.assert_close(roc_auc(three, masks), roc_auc(a, masks))
    torch.testing.assert_close(roc_auc(a, masks.unsqueeze(1)), roc_auc(a, masks))


def test_localisation_nan_cases_and_focus() -> None:
    masks = torch.ones(1, 2, 2)
    assert torch.isnan(roc_auc(torch.rand(1, 2, 2), masks)).all()
    assert torch.isnan(attribution_localisation(-torch.ones(1, 2, 2), masks)).all()
    a = torch.zeros(2, 1, 4, 4)
    a[:, :, :2, :2] = 1.0
    a[:, :, 2:, 2:] = 1.0
    tiles = torch.tensor([[[True, False], [False, True]], [[False, True], [False, False]]])
    torch.testing.assert_close(focus(a, tiles), torch.tensor([1.0, 0.0]))


def test_localisation_bad_input() -> None:
    a = torch.rand(2, 3, 4, 4)
    with pytest.raises(ValueError, match="`masks`"):
        pointing_game(a, torch.ones(2, 5, 4))
    empty = torch.ones(2, 4, 4)
    empty[1] = 0
    with pytest.raises(ValueError, match="`masks`.*example\\(s\\) \\[1\\]"):
        roc_auc(a, empty)
    with pytest.raises(ValueError, match="`k`"):
        top_k_intersection(a, torch.ones(2, 4, 4), k=17)
    with pytest.raises(ValueError, match="`tolerance`"):
        pointing_game(a, torch.ones(2, 4, 4), tolerance=-1)
    with pytest.raises(ValueError, match="`tile_labels`"):
        focus(a, torch.ones(2, 3, 3, dtype=torch.bool))


def test_complexity_hand_values() -> None:
    a = torch.tensor([[0.0, 0.0, 0.0, -2.0], [1.0, -1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    gini = sparseness(a)
    torch.testing.assert_close(gini[:2], torch.tensor([0.75, 0.0]))
    entropy = complexity_entropy(a)
    torch.testing.assert_close(entropy[:2], torch.tensor([0.0, math.log(4)]))
    assert torch.isnan(gini[2]) and torch.isnan(entropy[2])
    assert effective_complexity(a).tolist() == [1.0, 4.0, 0.0]
    with pytest.raises(ValueError, match="`attributions`"):
        sparseness(torch.tensor([[float("nan")]]))
    with pytest.raises(ValueError, match="`eps`"):
        effective_complexity(a, eps=-1.0)


def test_completeness_gap_is_zero_for_ig_on_a_linear_model() -> None:
    torch.manual_seed(0)
    model = nn.Linear(4, 3).eval()
    x = torch.rand(3, 4)
    ig = IntegratedGradients(model).attribute(x, target=2)
    assert completeness(model, x, ig, target=2).max() < 1e-5
    assert completeness(model, x, 2 * ig, target=2).min() > 1e-3
    with pytest.raises(ValueError, match="`attributions`"):
        completeness(model, x, ig[:, :2], target=2)


def test_non_sensitivity_counts_misattributed_features() -> None:
    model = nn.Linear(3, 1).eval()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.0, 2.0]]))
    x = torch.ones(2, 3)
    right = x * model.weight.detach()
    assert non_sensitivity(model, x, right, baseline=0.0).tolist() == [0.0, 0.0]
    wrong = torch.tensor([[1.0, 1.0, 2.0], [0.0, 0.0, 2.0]])
    # example 0 credits the dummy feature; example 1 misses feature 0
    assert non_sensitivity(model, x, wrong, baseline=0.0).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="`n_samples`"):
        non_sensitivity(model, x, right, n_samples=0)


def test_input_invariance_leaves_the_model_untouched() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(2, 3)
    saliency = lambda m, inputs, t: Saliency(m).attribute(inputs, target=t)  # noqa: E731
    times_input = lambda m, inputs, t: InputXGradient(m).attribute(inputs, target=t)  # noqa: E731
    assert input_invariance(model, x, saliency, 1).tolist() == [1.0, 1.0]
    assert input_invariance(model, x, times_input, 1).tolist() == [0.0, 0.0]
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(TypeError, match="`model`"):
        input_invariance(lambda v: v, x, saliency, 1)
