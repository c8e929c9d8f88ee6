"""Shapley values: brute-force enumeration, efficiency, additivity, convergence of sampling."""

from __future__ import annotations

import pytest
import torch

from tests.attr.perturbation._models import Additive, brute_force_shapley, mlp, per_group
from veracity.attr import KernelShap, ShapleyValues, ShapleyValueSampling


def _setup() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor, torch.Tensor]:
    model = mlp(6)
    x = torch.randn(3, 6, dtype=torch.float64)
    baseline = torch.randn(1, 6, dtype=torch.float64) * 0.3
    mask = torch.tensor([[0, 1, 1, 2, 3, 4]])
    return model, x, baseline, mask


def test_shapley_values_equal_brute_force_over_all_orders() -> None:
    model, x, baseline, mask = _setup()
    attr = ShapleyValues(model).attribute(x, baselines=baseline, target=2, feature_mask=mask)
    expected = brute_force_shapley(model, x, baseline, mask, target=2)
    torch.testing.assert_close(per_group(attr, mask), expected)
    torch.testing.assert_close(attr[:, 1], attr[:, 2])  # one group, one value


def test_shapley_efficiency() -> None:
    model, x, baseline, mask = _setup()
    with torch.no_grad():
        difference = model(x)[:, 0] - model(baseline)[:, 0]
    exact = ShapleyValues(model).attribute(x, baselines=baseline, target=0, feature_mask=mask)
    sampled = ShapleyValueSampling(model).attribute(x, baselines=baseline, target=0, feature_mask=mask, n_samples=3,
                                                    generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(per_group(exact, mask).sum(1), difference)
    torch.testing.assert_close(per_group(sampled, mask).sum(1), difference)


def test_sampling_is_exact_on_additive_model_for_any_sample_count() -> None:
    model = Additive()
    x = torch.randn(2, 5, dtype=torch.float64)
    expected = model.terms(x) - model.terms(torch.zeros_like(x))
    sampled = ShapleyValueSampling(model).attribute(x, target=0, n_samples=2,
                                                    generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(sampled, expected)
    torch.testing.assert_close(ShapleyValues(model).attribute(x, target=0), expected)


def _mean_error(method: type, n_samples: int, seeds: range) -> float:
    model, x, baseline, mask = _setup()
    exact = ShapleyValues(model).attribute(x, baselines=baseline, target=1, feature_mask=mask)
    errors = []
    for seed in seeds:
        estimate = method(model).attribute(x, baselines=baseline, target=1, feature_mask=mask, n_samples=n_samples,
                                           generator=torch.Generator().manual_seed(seed))
        errors.append(((estimate - exact) ** 2).mean().sqrt())
    return float(torch.stack(errors).mean())


@pytest.mark.parametrize("method,small", [(ShapleyValueSampling, 8), (KernelShap, 40)])
def test_sampled_estimates_converge_like_one_over_sqrt_n(method: type, small: int) -> None:
    # 16x the samples should cut the error about 4x (1/sqrt(n)); we require at least 2.5x
    coarse = _mean_error(method, small, range(12))
    fine = _mean_error(method, 16 * small, range(12))
    assert fine < coarse / 2.5, (coarse, fine)
    assert fine < 1.5e-3


def test_sampling_perturbations_per_eval_batch_and_seed_invariance() -> None:
    model, x, baseline, mask = _setup()

    def run(inputs: torch.Tensor, ppe: int | None, seed: int = 3) -> torch.Tensor:
        return ShapleyValueSampling(model).attribute(inputs, baselines=baseline, target=1, feature_mask=mask,
                                                     n_samples=4, perturbations_per_eval=ppe,
                                                     generator=torch.Generator().manual_seed(seed))

    reference = run(x, None)
    for ppe in (1, 5, 100):
        torch.testing.assert_close(run(x, ppe), reference)
    torch.testing.assert_close(torch.cat([run(x[i:i + 1], 2) for i in range(3)]), reference)
    assert not torch.allclose(run(x, None, seed=4), reference)


def test_exact_shapley_chunk_invariance_and_size_limits() -> None:
    model, x, baseline, mask = _setup()
    reference = ShapleyValues(model).attribute(x, baselines=baseline, target=0, feature_mask=mask)
    torch.testing.assert_close(ShapleyValues(model).attribute(x, baselines=baseline, target=0, feature_mask=mask,
                                                              perturbations_per_eval=3), reference)
    wide = torch.zeros(1, 11, dtype=torch.float64)
    with pytest.warns(UserWarning, match="11 feature groups"):
        ShapleyValues(lambda t: t.sum(1)).attribute(wide)
    with pytest.raises(ValueError, match="`feature_mask`.*at most 24"):
        ShapleyValues(lambda t: t.sum(1)).attribute(torch.zeros(1, 30))
