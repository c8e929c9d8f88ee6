"""Position-balanced permutation designs of ShapleyValueSampling (``variance_reduction=``
"antithetic" / "stratified"): the designs are balanced and every order uniform, the estimators
equal Captum's average over the same orders, are exact where theory says so, unbiased over
seeds, converge to the enumerated Shapley values, and their standard errors match the spread
over seeds."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from tests.attr.perturbation._models import Additive, brute_force_shapley, mlp
from veracity.attr import ShapleyValues, ShapleyValueSampling
from veracity.attr.perturbation._designs import block_rows, design, round_sizes, stratified_error

REDUCTIONS = ("antithetic", "stratified")
A = torch.tensor([1.0, -2.0, 0.5, 3.0, 1.5, -1.0], dtype=torch.float64)


def game(x: torch.Tensor) -> torch.Tensor:
    """Main effects, a saturating part (all orders of interaction) and a three-way product."""
    n = x.shape[1]
    return x @ A[:n] + 3 * torch.tanh(x.sum(1) - 1) + 2 * x[:, 0] * x[:, 1] * x[:, 2] + torch.relu(x[:, 3] - x[:, 1])


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7, 8, 9])
def test_designs_are_permutations_balanced_per_block(reduction: str, n: int) -> None:
    m = block_rows(n, reduction)
    orders, strata = design(3 * m, n, reduction, _g(n))
    assert torch.equal(orders.sort(1).values, torch.arange(n).expand(3 * m, n))
    position = orders.argsort(1)
    folded = torch.minimum(position, n - 1 - position)
    expected = folded if reduction == "antithetic" and n % 2 == 0 else position
    assert torch.equal(strata, expected)
    for block in strata.view(3, m, n):          # every group in every stratum once per block
        assert torch.equal(block.sort(0).values, torch.arange(m).unsqueeze(1).expand(m, n))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_every_row_of_a_block_is_a_uniform_order(reduction: str) -> None:
    """Unbiasedness rests on this: each row (any position in the block) is uniform over the 24
    orders of 4 groups (chi-square, 23 degrees of freedom, far tail at 60)."""
    n, blocks = 4, 2400
    m = block_rows(n, reduction)
    orders, _ = design(blocks * m, n, reduction, _g(0))
    for row in range(m):
        counts = Counter(tuple(o) for o in orders.view(blocks, m, n)[:, row].tolist())
        assert len(counts) == 24
        expected = blocks / 24
        assert sum((c - expected) ** 2 / expected for c in counts.values()) < 60


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("n_samples", [1, 2, 5, 9, 24])
def test_exact_with_zero_error_on_additive_models(reduction: str, n_samples: int) -> None:
    """Every order gives an additive model's exact Shapley values (its terms), so any design does."""
    model = Additive()
    x = torch.randn(2, 6, dtype=torch.float64)
    expected = model.terms(x) - model.terms(torch.zeros_like(x))
    attr, se = ShapleyValueSampling(model).attribute(x, target=1, n_samples=n_samples, generator=_g(1),
                                                     variance_reduction=reduction, return_std_error=True)
    torch.testing.assert_close(attr, 2 * expected)
    if n_samples >= 2 + 2 * (reduction == "antithetic"):
        assert se.max() < 1e-10


@pytest.mark.parametrize("reduction,n", [("antithetic", 6), ("antithetic", 5), ("stratified", 6)])
def test_equals_captums_estimator_on_the_same_orders(reduction: str, n: int) -> None:
    """The estimate is Captum's permutation average over the orders of the design (a pair's
    reverse included); and without ``variance_reduction`` veracity is Captum's estimator."""
    captum_attr = pytest.importorskip("captum.attr")
    model = mlp(n)
    x = torch.randn(3, n, dtype=torch.float64)
    n_samples = 8    # one round (at least two blocks or 8 rows)
    ours = ShapleyValueSampling(model).attribute(x, target=1, n_samples=n_samples, generator=_g(2),
                                                 variance_reduction=reduction)
    base, _ = design(n_samples // 2 if reduction == "antithetic" else n_samples, n, reduction, _g(2))
    orders = torch.stack([base, base.flip(1)], 1).reshape(-1, n) if reduction == "antithetic" else base
    theirs = captum_attr.ShapleyValueSampling(model)
    theirs.permutation_generator = lambda num_features, num_samples: iter(orders.tolist())
    reference = theirs.attribute(x, target=1, n_samples=orders.shape[0]).double()
    torch.testing.assert_close(ours, reference, check_dtype=False)
    plain = ShapleyValueSampling(model).attribute(x, target=1, n_samples=5, generator=_g(3))
    drawn = torch.rand(5, n, generator=_g(3)).argsort(1)
    theirs.permutation_generator = lambda num_features, num_samples: iter(drawn.tolist())
    torch.testing.assert_close(plain, theirs.attribute(x, target=1, n_samples=5).double(), check_dtype=False)


def _runs(n: int, n_samples: int, reduction: str, seeds: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = torch.linspace(0.3, 1.2, n, dtype=torch.float64).unsqueeze(0)
    exact = ShapleyValues(game).attribute(x)
    runs = [ShapleyValueSampling(game).attribute(x, n_samples=n_samples, generator=_g(seed),
                                                 variance_reduction=reduction, return_std_error=True)
            for seed in range(seeds)]
    return exact[0], torch.stack([r[0][0] for r in runs]), torch.stack([r[1][0] for r in runs])


@pytest.mark.parametrize("reduction,n,n_samples", [("antithetic", 6, 12), ("antithetic", 6, 16),
                                                   ("antithetic", 5, 22), ("stratified", 5, 12)])
def test_unbiased_and_standard_errors_match_the_spread_over_seeds(reduction: str, n: int, n_samples: int) -> None:
    """Mean over 300 seeds within 4 of its standard errors of the exact values; the reported
    standard error (root mean square over seeds) against the spread of the estimates: within
    [0.8, 1.25] for antithetic (whole and partial blocks, even and odd n), conservative but
    below 1.6 for the Latin squares (their rows are negatively correlated within a block)."""
    seeds = 300
    exact, estimates, errors = _runs(n, n_samples, reduction, seeds)
    spread = estimates.std(0)
    assert ((estimates.mean(0) - exact).abs() <= 4 * spread / math.sqrt(seeds) + 1e-12).all()
    ratio = errors.pow(2).mean(0).sqrt() / spread
    low, high = (0.8, 1.25) if reduction == "antithetic" else (0.9, 1.6)
    assert ((ratio > low) & (ratio < high)).all(), ratio


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_converges_to_the_enumerated_shapley_values(reduction: str) -> None:
    model = mlp(4)
    x = torch.randn(2, 4, dtype=torch.float64)
    mask = torch.arange(4).unsqueeze(0)
    exact = brute_force_shapley(model, x, torch.zeros(1, 4, dtype=torch.float64), mask, target=0)
    attr, se = ShapleyValueSampling(model).attribute(x, target=0, n_samples=4000, generator=_g(4),
                                                     variance_reduction=reduction, return_std_error=True)
    assert ((attr - exact).abs() <= 4 * se + 1e-12).all()
    assert (attr - exact).abs().max() < 0.02 * exact.abs().max()


def test_lower_error_than_plain_sampling_at_equal_evaluations() -> None:
    """On a ReLU/tanh MLP with 8 inputs (everything interacts), at equal model evaluations."""
    model = mlp(8, 1, seed=3)
    x = torch.randn(4, 8, dtype=torch.float64)
    exact = ShapleyValues(model).attribute(x, target=0)
    mse = {}
    for reduction in (None, *REDUCTIONS):
        errors = [(ShapleyValueSampling(model).attribute(x, target=0, n_samples=16, generator=_g(seed),
                                                         variance_reduction=reduction) - exact).pow(2).mean()
                  for seed in range(60)]
        mse[reduction] = float(torch.stack(errors).mean())
    assert mse["antithetic"] < 0.5 * mse[None] and mse["stratified"] < mse[None], mse


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_batch_chunk_and_seed_invariance(reduction: str) -> None:
    x = torch.randn(3, 6, dtype=torch.float64)
    method = ShapleyValueSampling(game)
    kwargs = {"n_samples": 13, "variance_reduction": reduction, "return_std_error": True}
    attr, se = method.attribute(x, generator=_g(5), **kwargs)
    again, se_again = method.attribute(x, generator=_g(5), perturbations_per_eval=1, **kwargs)
    torch.testing.assert_close(attr, again)
    torch.testing.assert_close(se, se_again)
    for row in range(3):       # the same orders serve every example of the batch
        alone, se_alone = method.attribute(x[row:row + 1], generator=_g(5), **kwargs)
        torch.testing.assert_close(alone, attr[row:row + 1])
        torch.testing.assert_close(se_alone, se[row:row + 1])
    other, _ = method.attribute(x, generator=_g(6), **kwargs)
    assert not torch.allclose(other, attr)
    torch.testing.assert_close(attr.sum(1), game(x) - game(torch.zeros_like(x)))


def test_stratified_error_formula_by_hand() -> None:
    """Two whole blocks of two strata and a partial block of one row, one group, one output."""
    values = torch.tensor([1.0, 3.0, 2.0, 6.0, 5.0], dtype=torch.float64).view(5, 1, 1)
    strata = torch.tensor([0, 1, 0, 1, 0]).view(5, 1)
    # stratum 0: 1, 2, 5 (mean 8/3, var 13/3); stratum 1: 3, 6 (mean 4.5, var 4.5)
    within = 3 * 13 / 3 + 2 * 4.5
    between = 1 * (1 - 1 / 2) * ((8 / 3 - 4.5) ** 2 / 2)
    expected = math.sqrt(within + between) / 5
    torch.testing.assert_close(stratified_error(values, strata, 2), torch.tensor([[expected]], dtype=torch.float64))
    one_block = stratified_error(values[:3], strata[:3], 2)         # fewer than two blocks: as independent
    torch.testing.assert_close(one_block, values[:3].std(0) / math.sqrt(3))


def test_bad_variance_reduction_names_the_argument() -> None:
    with pytest.raises(ValueError, match="variance_reduction"):
        ShapleyValueSampling(game).attribute(torch.ones(1, 4), variance_reduction="latin")


@pytest.mark.parametrize("total,m", [(1, 4), (7, 4), (8, 4), (100, 4), (37, 5), (50, 1), (3, 9)])
def test_rounds_keep_blocks_whole(total: int, m: int) -> None:
    sizes = round_sizes(total, m)
    assert sum(sizes) == total
    assert all(size % m == 0 for size in sizes[:-1])               # only the last round may split a block
    assert sizes[0] == min(total, m * -(-max(2 * m, 8) // m))       # two blocks (and 8 rows) first
    assert all(b >= a for a, b in zip(sizes[:-2], sizes[1:-1]))     # then growing


def test_target_std_error_is_reached_on_a_nonlinear_model() -> None:
    rows = []

    def counted(x: torch.Tensor) -> torch.Tensor:
        rows.append(x.shape[0])
        return game(x)

    x = torch.linspace(0.3, 1.2, 6, dtype=torch.float64).unsqueeze(0)
    _, se = ShapleyValueSampling(counted).attribute(x, n_samples=100_000, generator=_g(7),
                                                    variance_reduction="antithetic", target_std_error=0.02,
                                                    return_std_error=True)
    assert se.max() <= 0.02
    assert sum(rows) < 2 + 100_000 * 5 / 10
