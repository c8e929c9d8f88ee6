"""PairwiseOcclusion: one erasure is a box; the weights; the smaller-norm rule; seeds; errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.similarity.models import conv_encoder, digit_like
from veracity.similarity import PairwiseOcclusion


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_one_erasure_credits_its_box_in_the_view_with_the_smaller_norm() -> None:
    # identity embedding: the erased view of ones has a smaller norm than the erased view of twos
    ones = torch.ones(4, 1, 10, 12)
    for seed in range(5):
        map1, map2 = PairwiseOcclusion(nn.Flatten()).attribute(ones, 2 * ones, n_erasures=1, generator=seeded(seed))
        assert bool((map2 == 0).all())
        for box in map1[:, 0]:
            rows, cols = box.any(1).nonzero()[:, 0], box.any(0).nonzero()[:, 0]
            assert set(box.unique().tolist()) == {0.0, 1.0}  # softmax of one draw is 1; max-normalised
            assert bool((box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] == 1).all())  # a solid box
            height, width = len(rows), len(cols)
            assert 0.1 * 120 * 0.5 <= height * width <= 0.33 * 120 * 1.5
            assert height < 10 and width < 12


def test_equal_drops_give_equal_weights_summing_to_one() -> None:
    # a similarity blind to the erasures: every drop is 0, every weight 1/n, so without
    # normalisation each pixel holds (boxes covering it) / n, and both views are credited
    x = digit_like(2)
    n = 16
    map1, map2 = PairwiseOcclusion(nn.Flatten(), similarity=lambda a, b: torch.zeros(a.shape[0])).attribute(
        x, x, n_erasures=n, credit="both", normalize=False, generator=seeded(1))
    for heat in (map1, map2):
        counts = heat * n
        torch.testing.assert_close(counts, counts.round(), rtol=0, atol=1e-5)
        assert 0 < float(heat.amax()) <= 1


def test_the_erasures_that_destroy_the_similarity_mark_the_pixel_it_depends_on() -> None:
    # a similarity that reads one pixel of view 1 (times 10): a draw whose box covers it drops by
    # 10 and takes nearly all the softmax weight, so that pixel is the map's maximum and pixels
    # that no such box reaches are about 0; view 2 is never credited (its norm is larger)
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 5, 2] = 1.0
    hot = 5 * 8 + 2
    map1, map2 = PairwiseOcclusion(nn.Flatten(), similarity=lambda a, b: 10 * a[:, hot]).attribute(
        x, 2 * torch.ones(1, 1, 8, 8), n_erasures=300, generator=seeded(2))
    assert map1[0, 0, 5, 2] == 1.0 and bool((map1[0, 0] <= 1.0).all())
    assert float(map1[0, 0, 0:2, 6:8].amax()) < 1e-3
    assert bool((map2 == 0).all())


def test_reproducible_under_a_generator_and_invariant_to_the_chunk_size() -> None:
    model = conv_encoder()
    x1, x2 = digit_like(2, seed=1), digit_like(2, seed=2)
    explainer = PairwiseOcclusion(model)
    first = explainer.attribute(x1, x2, n_erasures=40, generator=seeded(3))
    again = explainer.attribute(x1, x2, n_erasures=40, generator=seeded(3), perturbations_per_eval=3)
    for a, b in zip(first, again):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    other = explainer.attribute(x1, x2, n_erasures=40, generator=seeded(4))
    assert not torch.equal(first[0], other[0])
    assert first[0].shape == x1.shape and float(torch.maximum(*first).amax()) == 1.0


def test_bad_inputs_name_the_argument() -> None:
    model = conv_encoder()
    x = digit_like(2)
    with pytest.raises(ValueError, match=r"`view2`.*batch of 2 .*\(2, 1, 8, 8\).*shape \(1, 1, 8, 8\)"):
        PairwiseOcclusion(model).attribute(x, x[:1])
    with pytest.raises(ValueError, match=r"`view1`.*at least 3 dimensions.*\(2, 64\)"):
        PairwiseOcclusion(model).attribute(x.flatten(1), x)
    with pytest.raises(ValueError, match=r"`forward_func`.*width 64 .*width 36"):
        PairwiseOcclusion(nn.Flatten()).attribute(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 6, 6))
    with pytest.raises(ValueError, match="`scale`"):
        PairwiseOcclusion(model).attribute(x, x, scale=(0.5, 0.1))
    with pytest.raises(ValueError, match="`ratio`"):
        PairwiseOcclusion(model).attribute(x, x, ratio=(0.0, 1.0))
    with pytest.raises(ValueError, match="`credit`"):
        PairwiseOcclusion(model).attribute(x, x, credit="larger_norm")
    with pytest.raises(ValueError, match="`n_erasures`"):
        PairwiseOcclusion(model).attribute(x, x, n_erasures=0)
