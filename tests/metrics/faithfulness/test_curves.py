"""Perturbation-curve metrics against closed forms on linear models; batching and chunking."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import SmallCNN
from veracity.metrics import (
    abpc,
    deletion,
    insertion,
    irof,
    monotonicity,
    pixel_flipping,
    region_perturbation,
    road,
    selectivity,
)
from veracity.metrics._engine.imputation import linear_imputation


def linear(features: int = 6, seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(features, 1).double().eval()


def removal_curve(model: nn.Linear, x: torch.Tensor, a: torch.Tensor, insert: bool) -> torch.Tensor:
    """f after removing (or keeping only) the k largest-attribution terms, by hand."""
    contributions = model.weight[0] * x
    order = torch.argsort(-a, dim=1, stable=True)
    rows = []
    for b in range(x.shape[0]):
        sorted_terms = contributions[b, order[b]]
        kept_after = [sorted_terms[k:].sum() for k in range(x.shape[1] + 1)]
        kept_before = [sorted_terms[:k].sum() for k in range(x.shape[1] + 1)]
        rows.append(torch.stack(kept_before if insert else kept_after) + model.bias[0])
    return torch.stack(rows).detach()


@pytest.mark.parametrize("insert", [False, True])
def test_deletion_and_insertion_curves_are_the_closed_form(insert: bool) -> None:
    model = linear()
    x = torch.randn(3, 6, dtype=torch.double)
    a = x * model.weight.detach()
    metric = insertion if insert else deletion
    result = metric(model, x, a, features_in_step=1, return_curve=True)
    expected = removal_curve(model, x, a, insert)
    torch.testing.assert_close(result.curve, expected.float())
    torch.testing.assert_close(result.fractions, torch.arange(7) / 6.0)
    auc = torch.trapezoid(expected, dx=1 / 6, dim=1)
    torch.testing.assert_close(result.score, auc.float())


def test_pixel_flipping_uses_the_example_minimum_as_black() -> None:
    model = linear()
    x = torch.rand(2, 6, dtype=torch.double) + 1
    a = x * model.weight.detach()
    minimum = x.min(1, keepdim=True).values
    curve = pixel_flipping(model, x, a, return_curve=True).curve
    # removing everything leaves every feature at the example's minimum
    expected = (model.weight[0] * minimum).sum(1) + model.bias[0]
    torch.testing.assert_close(curve[:, -1], expected.detach().float())


def test_region_perturbation_aopc_is_the_mean_drop_over_regions() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 1)).double().eval()
    x = torch.rand(2, 1, 4, 4, dtype=torch.double)
    weight = model[1].weight.view(1, 1, 4, 4)
    a = x * weight
    result = region_perturbation(model, x, a, patch_size=2, baseline=0.0, return_curve=True)
    region_sums = (x * weight).detach().view(2, 2, 2, 2, 2).sum((2, 4)).view(2, 4)
    # regions are the 2x2 squares; their contributions are exactly the attribution sums
    ordered = region_sums.sort(1, descending=True).values
    drops = torch.cat([torch.zeros(2, 1, dtype=torch.double), ordered.cumsum(1)], 1)
    torch.testing.assert_close(result.score, drops.mean(1).float())
    lerf = region_perturbation(model, x, a, patch_size=2, baseline=0.0, order="lerf")
    assert bool((lerf < result.score).all())


def test_selectivity_and_irof_on_patches() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2)).eval()
    x = torch.rand(3, 1, 4, 4)
    a = torch.rand(3, 1, 4, 4)
    sel = selectivity(model, x, a, target=1, patch_size=2, return_curve=True)
    assert sel.curve.shape == (3, 5)
    by_hand = deletion(model, x, a, target=1, patch_size=2, features_in_step=1, baseline="black")
    torch.testing.assert_close(sel.score, by_hand)
    result = irof(model, x, a, target=0, patch_size=2, return_curve=True)
    probabilities = torch.softmax(model(x), 1)[:, 0]
    torch.testing.assert_close(result.curve[:, 0], torch.ones(3))
    assert torch.allclose(result.score, 1 - torch.trapezoid(result.curve, result.fractions, dim=1))
    assert probabilities.shape == (3,)


def test_monotonicity_detects_right_and_wrong_orders() -> None:
    model = linear()
    with torch.no_grad():
        model.weight.abs_()
    x = torch.rand(4, 6, dtype=torch.double)
    a = x * model.weight.detach()
    assert monotonicity(model, x, a, baseline=0.0).tolist() == [1.0] * 4
    # inserting the features from baseline 0 can only raise the output: any order is monotone,
    # so make some contributions negative and rank them wrongly
    with torch.no_grad():
        model.weight[0, :3] *= -1
    a = x * model.weight.detach()
    assert monotonicity(model, x, a, baseline=0.0, absolute=False).tolist() == [0.0] * 4


def test_abpc_by_hand() -> None:
    model = linear(4)
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.double)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 1.0, 1.0, 1.0]]))
        model.bias.zero_()
    a = x.clone()
    # f(x) = 10, f(0) = 0. t = 0.25, 0.5, 0.75: top-t removed -> 6, 3, 1; bottom-t -> 9, 7, 4
    value = abpc(model, x, a, fractions=(0.25, 0.5, 0.75))
    expected = ((0.9 - 0.6) + (0.7 - 0.3) + (0.4 - 0.1)) / 4
    torch.testing.assert_close(value, torch.tensor([expected], dtype=torch.float))


def test_linear_imputation_reproduces_a_ramp() -> None:
    rows, cols = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    ramp = (0.3 * rows - 0.2 * cols + 1).unsqueeze(0)
    removed = torch.zeros(1, 8, 8, dtype=torch.bool)
    removed[0, 2:6, 3:6] = True
    imputed = linear_imputation(ramp.masked_fill(removed, 0.0), removed)
    torch.testing.assert_close(imputed, ramp, atol=1e-4, rtol=0)


def test_road_is_chunk_invariant_and_seeded() -> None:
    model = SmallCNN().eval()
    x = torch.rand(2, 1, 8, 8)
    a = torch.rand(2, 1, 8, 8)
    first = road(model, x, a, target=1, percentages=(10, 50, 90), seed=3)
    again = road(model, x, a, target=1, percentages=(10, 50, 90), seed=3,
                 perturbations_per_eval=2)
    other = road(model, x, a, target=1, percentages=(10, 50, 90), seed=4)
    torch.testing.assert_close(first, again)
    assert not torch.equal(first, other)
    assert road(model, x, a, target=1, percentages=(10,), order="lerf", noise=0.0).shape == (2,)


@pytest.mark.parametrize("metric", [pixel_flipping, selectivity, abpc, monotonicity, irof])
def test_batch_equals_per_example_and_chunking(metric) -> None:
    model = SmallCNN().eval()
    x = torch.rand(3, 1, 8, 8)
    a = torch.randn(3, 1, 8, 8)
    extra = {"patch_size": 4} if metric in (selectivity, irof) else {}
    if metric in (pixel_flipping, monotonicity):
        extra["features_in_step"] = 8
    whole = metric(model, x, a, target=2, **extra)
    single = torch.cat([metric(model, x[i:i + 1], a[i:i + 1], target=2, **extra) for i in range(3)])
    torch.testing.assert_close(whole, single, equal_nan=True)
    chunked = metric(model, x, a, target=2, perturbations_per_eval=4, **extra)
    torch.testing.assert_close(whole, chunked, equal_nan=True)


def test_inputs_and_attributions_are_not_mutated() -> None:
    model = SmallCNN().eval()
    x = torch.rand(2, 1, 8, 8)
    a = torch.randn(2, 1, 8, 8)
    x0, a0 = x.clone(), a.clone()
    pixel_flipping(model, x, a, target=0, features_in_step=16)
    road(model, x, a, target=0, percentages=(50,), seed=0)
    assert torch.equal(x, x0) and torch.equal(a, a0)


def test_bad_input_raises_clear_errors() -> None:
    model = linear()
    x = torch.rand(2, 6, dtype=torch.double)
    with pytest.raises(ValueError, match="`attributions`"):
        deletion(model, x, torch.rand(2, 5))
    with pytest.raises(TypeError, match="`attributions`"):
        deletion(model, x, [1.0])
    with pytest.raises(ValueError, match="`order`"):
        deletion(model, x, x, order="best")
    with pytest.raises(ValueError, match="`features_in_step`"):
        pixel_flipping(model, x, x, features_in_step=0)
    with pytest.raises(ValueError, match="`baseline`"):
        deletion(model, x, x, baseline="grey")
    with pytest.raises(ValueError, match="`fractions`"):
        abpc(model, x, x, fractions=(0.0, 0.5))
    with pytest.raises(ValueError, match="`inputs`"):
        road(model, x, x)
    with pytest.raises(ValueError, match="`regions_evaluation`"):
        region_perturbation(model, x.view(2, 1, 2, 3), x.view(2, 1, 2, 3), regions_evaluation=0)
