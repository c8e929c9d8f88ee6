"""Ensembles of maps: preprocessing, mean, rank-mean, the torch RBM and flip detection."""

from __future__ import annotations

import pytest
import torch

from veracity.ensemble import (
    BernoulliRBM,
    flip_preference,
    mean_ensemble,
    normalise_maps,
    rank_mean_ensemble,
    rbm_ensemble,
)
from veracity.metrics import pearson, spearman


def _minmax(a: torch.Tensor) -> torch.Tensor:
    flat = a.flatten(1)
    low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - low) / (high - low)).view_as(a)


def test_normalise_clamps_then_scales_each_map() -> None:
    maps = torch.tensor([[[-2.0, 0.0, 1.0, 3.0]], [[5.0, 5.0, 5.0, 5.0]]])
    out = normalise_maps(maps)
    torch.testing.assert_close(out[0, 0], torch.tensor([0.0, 0.0, 1 / 3, 1.0]))
    assert torch.equal(out[1, 0], torch.zeros(4))  # a constant map has no ranking: zeros


def test_mean_and_rank_mean_of_scaled_copies_are_the_map() -> None:
    base = torch.rand(4, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    maps = [base, 3 * base, base + 0.0]
    torch.testing.assert_close(mean_ensemble(maps), _minmax(base))
    ranks = rank_mean_ensemble([base, base ** 3])  # monotone transforms: the same ranks
    expected = base.flatten(1).argsort(1).argsort(1).to(torch.float32) / 24
    torch.testing.assert_close(ranks.flatten(1), expected)


def test_rank_mean_gives_ties_their_average_rank() -> None:
    out = rank_mean_ensemble(torch.tensor([[[1.0, 1.0, 2.0, 0.0]]]))
    torch.testing.assert_close(out, torch.tensor([[1.5, 1.5, 3.0, 0.0]]) / 3)


def test_rbm_of_identical_maps_returns_the_map_up_to_scale_and_sign() -> None:
    base = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    result = rbm_ensemble([base] * 5, seed=0)
    # raw: the hidden probability is a monotone function of the (shared) visible value, and
    # nearly affine at the RBM's small weights -- increasing or decreasing (the sign ambiguity)
    rho = spearman(result.raw, base)
    torch.testing.assert_close(rho.abs(), torch.ones(20), atol=1e-6, rtol=0)
    assert bool((pearson(result.raw, base).abs() > 0.9999).all())
    # flip detection against the mean ensemble (the map itself) fixes the sign
    assert bool((spearman(result.attributions, base) > 0.999999).all())
    torch.testing.assert_close(_minmax(result.attributions), _minmax(base), atol=5e-3, rtol=0)
    assert torch.equal(result.flipped, rho < 0)


def test_flip_detection_flips_an_inverted_map() -> None:
    a = torch.arange(40.0).view(2, 20)
    assert flip_preference(a, a).tolist() == [2, 2]
    assert flip_preference(a, -a).tolist() == [-2, -2]


def test_rbm_is_reproducible_and_learns_the_shared_factor() -> None:
    g = torch.Generator().manual_seed(2)
    signal = torch.rand(1, 60, 1, generator=g)
    visible = (signal + 0.05 * torch.randn(1, 60, 4, generator=g)).clamp(0, 1)

    def fitted() -> torch.Tensor:
        rbm = BernoulliRBM(learning_rate=0.05, n_iter=200, generator=torch.Generator().manual_seed(0))
        return rbm.fit(visible).transform(visible)

    first, second = fitted(), fitted()
    assert torch.equal(first, second)
    assert float(spearman(first[..., 0], signal[..., 0]).abs()) > 0.95


def test_bad_maps_are_refused() -> None:
    with pytest.raises(ValueError, match="maps"):
        mean_ensemble([torch.zeros(2, 3), torch.zeros(2, 4)])
    with pytest.raises(RuntimeError, match="fit"):
        BernoulliRBM().transform(torch.zeros(1, 2, 3))
