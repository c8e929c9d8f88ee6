"""Lower-variance Shapley estimators: exact where theory says so, standard errors that match
the spread over seeds, early stopping, and Captum's estimators unchanged by default."""

from __future__ import annotations

import torch

from veracity.attr import KernelShap, ShapleyValues, ShapleyValueSampling

A = torch.tensor([1.0, -2.0, 0.5, 3.0, 1.5])
B = torch.triu(torch.arange(25, dtype=torch.float32).view(5, 5).sin(), 1)


def pairwise(x):
    """Main effects plus pairwise interactions."""
    return x @ A + torch.einsum("bi,ij,bj->b", x, B, x)


def cubic(x):
    return pairwise(x) + 2 * x[:, 0] * x[:, 1] * x[:, 2] + torch.relu(x[:, 3] - x[:, 4]) ** 2


def _g(seed):
    return torch.Generator().manual_seed(seed)


def test_antithetic_is_exact_on_pairwise_games_with_one_pair():
    """For order pi and its reverse a group's predecessors are complementary, so the pairwise
    terms of the two marginals add up to the full interaction: the pair mean is phi."""
    x = torch.randn(3, 5)
    exact = ShapleyValues(pairwise).attribute(x)
    estimate = ShapleyValueSampling(pairwise).attribute(x, n_samples=2, generator=_g(0),
                                                         variance_reduction="antithetic")
    assert torch.allclose(estimate, exact, atol=1e-5)


def test_stratified_is_exact_on_symmetric_games():
    """A game whose value depends on the coalition size only: a block of rotations puts every
    group at every position once, which is all the Shapley value averages over."""
    def size_game(x):
        return x.sum(1) ** 2

    x = torch.ones(2, 5)
    exact = ShapleyValues(size_game).attribute(x)
    estimate = ShapleyValueSampling(size_game).attribute(x, n_samples=5, generator=_g(1),
                                                         variance_reduction="stratified")
    assert torch.allclose(estimate, exact, atol=1e-5)


def test_paired_kernel_shap_is_exact_on_pairwise_games():
    x = torch.randn(3, 5)
    exact = ShapleyValues(pairwise).attribute(x)
    estimate = KernelShap(pairwise).attribute(x, n_samples=22, generator=_g(2), paired_sampling=True)
    assert torch.allclose(estimate, exact, atol=1e-4)


def test_estimators_are_efficient_and_close_to_exact():
    x = torch.randn(2, 5)
    exact = ShapleyValues(cubic).attribute(x)
    span = cubic(x) - cubic(torch.zeros_like(x))
    for reduction in ("antithetic", "stratified"):
        est = ShapleyValueSampling(cubic).attribute(x, n_samples=200, generator=_g(3), variance_reduction=reduction)
        assert torch.allclose(est.sum(1), span, atol=1e-4)
        assert (est - exact).abs().max() < 0.1 * exact.abs().max()
    est = KernelShap(cubic).attribute(x, n_samples=400, generator=_g(3), paired_sampling=True)
    assert torch.allclose(est.sum(1), span, atol=1e-3)
    assert (est - exact).abs().max() < 0.1 * exact.abs().max()


def test_standard_errors_match_the_spread_over_seeds():
    x = torch.randn(1, 5)
    for run in (
        lambda g: ShapleyValueSampling(cubic).attribute(x, n_samples=40, generator=g, variance_reduction="antithetic",
                                                        return_std_error=True),
        lambda g: KernelShap(cubic).attribute(x, n_samples=82, generator=g, paired_sampling=True,
                                              return_std_error=True),
    ):
        results = [run(_g(seed)) for seed in range(40)]
        spread = torch.stack([r[0] for r in results]).std(0)
        reported = torch.stack([r[1] for r in results]).mean(0)
        slack = 1e-3 * spread.max()   # groups whose estimate is exact: both ~0
        assert ((reported <= 2 * spread + slack) & (spread <= 2 * reported + slack)).all(), (reported, spread)


def test_target_std_error_stops_early():
    calls = []

    def counted(x):
        calls.append(x.shape[0])
        return x @ A   # additive: every order gives the same contributions, zero spread

    x = torch.randn(2, 5)
    _, se = ShapleyValueSampling(counted).attribute(x, n_samples=1000, generator=_g(4),
                                                    variance_reduction="antithetic", target_std_error=1e-3,
                                                    return_std_error=True)
    # one first round: two blocks of 5 antithetic pairs (20 orders of 4 inner coalitions) and the two ends
    assert sum(calls) == 2 * (2 + 20 * 4) and se.max() < 1e-3
    calls.clear()
    KernelShap(counted).attribute(x, n_samples=1000, generator=_g(4), target_std_error=1e-3)
    assert sum(calls) < 2 * 40


def test_defaults_unchanged():
    x = torch.randn(2, 5)
    plain = ShapleyValueSampling(cubic).attribute(x, n_samples=7, generator=_g(5))
    also = ShapleyValueSampling(cubic).attribute(x, n_samples=7, generator=_g(5), variance_reduction=None)
    assert torch.equal(plain, also)
    k1 = KernelShap(cubic).attribute(x, n_samples=30, generator=_g(5))
    k2 = KernelShap(cubic).attribute(x, n_samples=30, generator=_g(5), paired_sampling=False)
    assert torch.equal(k1, k2)
