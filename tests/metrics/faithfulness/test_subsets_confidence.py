"""Subset correlations, confidence-based metrics and sufficiency, by hand on tiny models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import SmallCNN
from veracity.metrics import (
    average_drop,
    average_increase,
    faithfulness_correlation,
    faithfulness_estimate,
    mask_completeness,
    mask_soundness,
    monotonicity_correlation,
    sensitivity_n,
    sufficiency,
)


def linear(features: int = 6) -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(features, 1).double().eval()


def test_exact_linear_attributions_correlate_perfectly() -> None:
    model = linear()
    x = torch.randn(3, 6, dtype=torch.double)
    a = x * model.weight.detach()
    ones = torch.ones(3)
    torch.testing.assert_close(faithfulness_correlation(model, x, a, baseline=0.0, subset_size=2,
                                                        nr_runs=30, seed=0), ones)
    torch.testing.assert_close(faithfulness_estimate(model, x, a, baseline=0.0), ones)
    torch.testing.assert_close(sensitivity_n(model, x, a, n_values=[1, 3, 5], baseline=0.0,
                                             seed=1), ones)
    # the sign-flipped explanation anti-correlates
    torch.testing.assert_close(faithfulness_estimate(model, x, -a, baseline=0.0), -ones)


def test_monotonicity_correlation_by_hand() -> None:
    model = linear(4)
    x = torch.rand(2, 4, dtype=torch.double)
    a = (x * model.weight.detach()).abs()
    # with baseline 0 each feature's squared change is (w_i x_i)^2 = a_i^2: ranks agree
    score = monotonicity_correlation(model, x, a, nr_samples=3, baseline=0.0)
    torch.testing.assert_close(score, torch.ones(2))
    noisy = monotonicity_correlation(model, x, a, nr_samples=4, seed=0)
    assert noisy.shape == (2,)


def test_seeded_subsets_are_reproducible_and_chunk_invariant() -> None:
    model = SmallCNN().eval()
    x = torch.rand(2, 1, 8, 8)
    a = torch.randn(2, 1, 8, 8)
    first = faithfulness_correlation(model, x, a, target=1, nr_runs=12, subset_size=10, seed=5)
    chunked = faithfulness_correlation(model, x, a, target=1, nr_runs=12, subset_size=10, seed=5,
                                       perturbations_per_eval=6)
    torch.testing.assert_close(first, chunked)
    other = faithfulness_correlation(model, x, a, target=1, nr_runs=12, subset_size=10, seed=6)
    assert not torch.equal(first, other)
    mc = monotonicity_correlation(model, x, a, target=1, nr_samples=3, features_in_step=16, seed=2)
    mc_chunked = monotonicity_correlation(model, x, a, target=1, nr_samples=3, features_in_step=16,
                                          seed=2, perturbations_per_eval=10)
    torch.testing.assert_close(mc, mc_chunked)
    single = torch.cat([faithfulness_estimate(model, x[i:i + 1], a[i:i + 1], target=1,
                                              features_in_step=8) for i in range(2)])
    torch.testing.assert_close(faithfulness_estimate(model, x, a, target=1, features_in_step=8),
                               single)


def test_average_drop_and_increase_by_hand() -> None:
    model = nn.Linear(2, 2).eval()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 1.0]]))
        model.bias.zero_()
    x = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    keep_first = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    before = torch.softmax(model(x), 1)[:, 0]
    after = torch.softmax(model(x * keep_first), 1)[:, 0]
    expected_drop = 100 * (before - after).clamp(min=0) / before
    torch.testing.assert_close(average_drop(model, x, keep_first, target=0), expected_drop)
    torch.testing.assert_close(average_increase(model, x, keep_first, target=0),
                               100 * (after > before).float())


def test_mask_completeness_and_soundness() -> None:
    torch.manual_seed(0)
    model = nn.Linear(4, 3).eval()
    x = torch.rand(2, 4)
    explain = lambda inputs, label: inputs * model.weight.detach()[label]  # noqa: E731
    own = mask_completeness(model, x, explain(x, torch.tensor([0, 0])), target=0,
                            fractions=(0.25, 1.0), return_curve=True)
    # keeping every feature gives the plain probability
    torch.testing.assert_close(own.curve[:, -1], torch.softmax(model(x), 1)[:, 0].detach())
    others = torch.tensor([[1, 2], [2, 1]])
    gap = mask_soundness(model, x, explain, 0, others, fractions=(0.25, 1.0))
    expected = own.score - torch.stack([
        mask_completeness(model, x, explain(x, others[:, j]), target=others[:, j],
                          fractions=(0.25, 1.0)) for j in range(2)]).mean(0)
    torch.testing.assert_close(gap, expected)


def test_sufficiency_by_hand() -> None:
    model = nn.Linear(2, 2).eval()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        model.bias.zero_()
    x = torch.tensor([[1.0, 0.0], [0.9, 0.0], [0.0, 1.0], [0.0, 0.5]])
    a = torch.tensor([[1.0, 0.0], [1.0, 0.1], [1.0, 0.05], [0.0, 5.0]])
    # examples 0-2 have near-identical explanations; 3 is far. Predictions: 0, 0, 1, 1.
    value = sufficiency(model, x, a, threshold=0.2)
    torch.testing.assert_close(value[:3], torch.tensor([0.5, 0.5, 0.0]))
    assert torch.isnan(value[3])


def test_bad_input_raises_clear_errors() -> None:
    model = linear()
    x = torch.rand(2, 6, dtype=torch.double)
    with pytest.raises(ValueError, match="`subset_size`"):
        faithfulness_correlation(model, x, x, subset_size=7)
    with pytest.raises(ValueError, match="`nr_runs`"):
        faithfulness_correlation(model, x, x, nr_runs=0)
    with pytest.raises(ValueError, match="`nr_samples`"):
        monotonicity_correlation(model, x, x, nr_samples=0)
    with pytest.raises(ValueError, match="`n_values`"):
        sensitivity_n(model, x, x, n_values=[0])
    with pytest.raises(ValueError, match="`attributions`"):
        faithfulness_estimate(model, x, x[:, :3])
    with pytest.raises(ValueError, match="`inputs`"):
        sufficiency(model, x[:1], x[:1])
    with pytest.raises(ValueError, match="`other_targets`"):
        mask_soundness(model, x, lambda i, t: i, 0, torch.tensor([1, 2]))
