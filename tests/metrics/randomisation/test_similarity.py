"""Similarity scores: closed forms, invariances, scipy/skimage agreement where installed."""

from __future__ import annotations

import math

import pytest
import torch

from veracity.metrics.similarity import (
    gradient_histogram_correlation,
    hog,
    hog_similarity,
    pearson,
    rank,
    spearman,
    spearman_abs,
    ssim,
    top_k_overlap,
)


def test_rank_matches_average_rank_definition_with_ties() -> None:
    values = torch.tensor([[3.0, 1.0, 3.0, 2.0, 1.0, 3.0]])
    # sorted: 1,1,2,3,3,3 -> ranks 1.5,1.5,3,5,5,5
    assert torch.equal(rank(values), torch.tensor([[5.0, 1.5, 5.0, 3.0, 1.5, 5.0]]))


def test_rank_batched_equals_per_row() -> None:
    values = torch.randint(0, 5, (7, 40)).float()
    assert torch.equal(rank(values), torch.cat([rank(v[None]) for v in values]))


def test_spearman_closed_forms() -> None:
    a = torch.randn(5, 30)
    assert torch.allclose(spearman(a, a.exp()), torch.ones(5))
    assert torch.allclose(spearman(a, -a ** 3), -torch.ones(5))
    # 1 - 6 sum d^2 / (n (n^2 - 1)) without ties: reversing two neighbours of n=4 gives 0.8
    assert torch.allclose(spearman(torch.tensor([[1.0, 2, 3, 4]]), torch.tensor([[2.0, 1, 3, 4]])),
                          torch.tensor([0.8]))


def test_spearman_abs_ignores_sign_and_scale() -> None:
    a = torch.randn(3, 2, 5, 5)
    flips = torch.where(torch.rand_like(a) > 0.5, 1.0, -1.0)
    assert torch.allclose(spearman_abs(a, a * flips * 7), torch.ones(3))
    # normalising by max|A| (Adebayo et al.) changes nothing
    b = torch.randn(3, 2, 5, 5)
    scale = a.abs().flatten(1).amax(1).view(-1, 1, 1, 1)
    assert torch.allclose(spearman(a / scale, b), spearman(a, b))


def test_spearman_matches_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    a = torch.randint(0, 4, (4, 60)).double()
    b = torch.randn(4, 60).double()
    expected = [scipy_stats.spearmanr(a[i], b[i])[0] for i in range(4)]
    assert torch.allclose(spearman(a, b), torch.tensor(expected, dtype=torch.float64))


def test_constant_map_gives_nan_not_zero() -> None:
    a = torch.ones(2, 10)
    b = torch.randn(2, 10)
    assert torch.isnan(pearson(a, b)).all() and torch.isnan(spearman(a, b)).all()


def test_bad_shapes_name_the_argument() -> None:
    with pytest.raises(ValueError, match="`b`"):
        spearman(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match="`pixels_per_cell`"):
        hog(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="`k`"):
        top_k_overlap(torch.randn(1, 3), torch.randn(1, 3), 5)


def test_ssim_identity_and_hand_computed_constant_images() -> None:
    x = torch.rand(3, 2, 16, 16)
    assert torch.allclose(ssim(x, x), torch.ones(3))
    # constant images c1, c2 with range L: SSIM = (2 c1 c2 + C1) / (c1^2 + c2^2 + C1)
    a = torch.full((1, 1, 16, 16), 0.2, dtype=torch.float64)
    b = torch.full((1, 1, 16, 16), 0.6, dtype=torch.float64)
    c1 = (0.01 * 1.0) ** 2
    expected = (2 * 0.2 * 0.6 + c1) / (0.2 ** 2 + 0.6 ** 2 + c1)
    assert math.isclose(float(ssim(a, b, data_range=1.0)), expected, rel_tol=1e-5)


def test_ssim_and_hog_match_skimage() -> None:
    skimage_metrics = pytest.importorskip("skimage.metrics")
    skimage_feature = pytest.importorskip("skimage.feature")
    x, y = torch.rand(2, 24, 20, dtype=torch.float64)
    expected = skimage_metrics.structural_similarity(
        x.numpy(), y.numpy(), gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=1.0)
    assert math.isclose(float(ssim(x[None], y[None], data_range=1.0)), expected, rel_tol=1e-6)
    image = torch.rand(32, 40, dtype=torch.float64)
    assert torch.allclose(hog(image[None])[0], torch.tensor(skimage_feature.hog(image.numpy())), atol=1e-6)


def test_hog_of_vertical_edge_votes_the_horizontal_gradient_bin() -> None:
    image = torch.zeros(1, 1, 16, 16)
    image[..., 8:] = 1.0
    cells = hog(image, orientations=9, pixels_per_cell=(4, 4), cells_per_block=(1, 1))
    cells = cells.reshape(4, 4, 9)
    # a vertical edge has a horizontal gradient: angle 0, bin 0, only in the cells at the edge
    assert cells[:, 1:3, 0].gt(0).all() and cells[:, 1:3, 1:].eq(0).all()
    assert cells[:, [0, 3]].eq(0).all()


def test_hog_similarity_invariant_to_scale_and_batched() -> None:
    a, b = torch.rand(2, 3, 1, 32, 32)
    assert torch.allclose(hog_similarity(a, 5 * a), torch.ones(3))
    assert torch.allclose(hog_similarity(a, b), torch.cat([hog_similarity(a[i:i + 1], b[i:i + 1])
                                                           for i in range(3)]))


def test_gradient_histogram_correlation_depends_on_values_not_positions() -> None:
    a = torch.randn(2, 200)
    shuffled = a[:, torch.randperm(200)]
    assert torch.allclose(gradient_histogram_correlation(a, shuffled), torch.ones(2))
    skewed = a.abs() ** 3
    assert (gradient_histogram_correlation(a, skewed) < 0.9).all()


def test_top_k_intersection_by_hand() -> None:
    a = torch.tensor([[5.0, -4.0, 3.0, 0.0, 1.0]])
    b = torch.tensor([[0.0, 4.0, 1.0, -9.0, 0.5]])
    # top-2 of |a|: {0, 1}; of |b|: {3, 1}
    assert torch.equal(top_k_overlap(a, b, 2), torch.tensor([0.5]))
