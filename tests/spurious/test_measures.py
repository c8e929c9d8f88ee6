"""KSSD is 1 for a map that marks exactly the planted pixels and at the analytic chance level for
a random map; CCM and FAM are similarities of normalised saliency images."""

from __future__ import annotations

import math

import pytest
import torch

from veracity.data.digits import load_digits
from veracity.metrics.similarity import spearman
from veracity.spurious import (
    ARTIFACTS,
    MEASURES,
    cause_for_concern,
    chance_level,
    false_alarm,
    known_spurious_signal_detection,
    plant_artifact,
    saliency_images,
)


@pytest.fixture(scope="module")
def planted_masks() -> dict[str, torch.Tensor]:
    clean = load_digits().test_x
    return {kind: plant_artifact(clean, kind)[1] for kind in ARTIFACTS}


@pytest.mark.parametrize("kind", ARTIFACTS)
@pytest.mark.parametrize("measure", MEASURES)
def test_kssd_is_one_for_the_planted_pixels(planted_masks, kind: str, measure: str) -> None:
    masks = planted_masks[kind]
    exact = masks.float() * 3.0  # any positive scale marks the same pixels
    scores = known_spurious_signal_detection(exact, masks, measure)
    assert scores.shape == (masks.shape[0],)
    assert torch.allclose(scores, torch.ones_like(scores), atol=1e-6)
    # a signed map marking the same pixels (channels summed, then absolute) also scores 1
    signed = torch.cat([-exact, torch.zeros_like(exact)], 1)
    assert torch.allclose(known_spurious_signal_detection(signed, masks, measure), torch.ones_like(scores), atol=1e-6)


@pytest.mark.parametrize("kind", ARTIFACTS)
def test_kssd_is_zero_for_the_complement(planted_masks, kind: str) -> None:
    masks = planted_masks[kind]
    complement = (~masks).float()
    assert torch.equal(known_spurious_signal_detection(complement, masks, "rank_accuracy"), torch.zeros(masks.shape[0]))
    assert torch.equal(known_spurious_signal_detection(complement, masks, "roc_auc"), torch.zeros(masks.shape[0]))


@pytest.mark.parametrize("kind", ARTIFACTS)
def test_rank_accuracy_of_random_maps_is_the_hypergeometric_chance(planted_masks, kind: str) -> None:
    masks = planted_masks[kind].repeat(8, 1, 1, 1)  # 3600 maps
    maps = torch.rand(masks.shape, generator=torch.Generator().manual_seed(11))
    scores = known_spurious_signal_detection(maps, masks, "rank_accuracy").double()
    k = masks.flatten(1).sum(1).double()
    n = masks[0].numel()
    expected = chance_level(masks, "rank_accuracy").double()
    assert torch.allclose(expected, k / n)
    # hits ~ Hypergeometric(N=n, K=k, draws=k): Var = k (k/n) ((n-k)/n) ((n-k)/(n-1))
    variance = (k * (k / n) * ((n - k) / n) * ((n - k) / (n - 1))) / k ** 2
    standard_error = math.sqrt(float(variance.sum())) / masks.shape[0]
    assert abs(float(scores.mean() - expected.mean())) < 4 * standard_error
    assert 4 * standard_error < 0.5 * float(expected.mean())  # the test can tell chance from 1 and from 0


@pytest.mark.parametrize("kind", ARTIFACTS)
def test_roc_auc_of_random_maps_is_one_half(planted_masks, kind: str) -> None:
    masks = planted_masks[kind].repeat(8, 1, 1, 1)
    maps = torch.rand(masks.shape, generator=torch.Generator().manual_seed(12))
    scores = known_spurious_signal_detection(maps, masks, "roc_auc").double()
    positives = masks.flatten(1).sum(1).double()
    negatives = masks[0].numel() - positives
    # Mann-Whitney under the null: Var(AUC) = (n1 + n2 + 1) / (12 n1 n2)
    variance = (positives + negatives + 1) / (12 * positives * negatives)
    standard_error = math.sqrt(float(variance.sum())) / masks.shape[0]
    assert torch.equal(chance_level(masks, "roc_auc"), torch.full((masks.shape[0],), 0.5))
    assert abs(float(scores.mean()) - 0.5) < 4 * standard_error


def test_ssim_of_random_maps_is_far_below_one(planted_masks) -> None:
    masks = planted_masks["patch"]
    maps = torch.rand(masks.shape, generator=torch.Generator().manual_seed(13))
    assert float(known_spurious_signal_detection(maps, masks, "ssim").mean()) < 0.3
    with pytest.raises(ValueError, match="`measure`"):
        chance_level(masks, "ssim")


def test_saliency_images_sum_channels_take_abs_and_normalise() -> None:
    maps = torch.tensor([[[[1.0, -3.0]], [[1.0, 0.0]]], [[[0.0, 0.0]], [[0.0, 0.0]]]])
    assert torch.equal(saliency_images(maps), torch.tensor([[[[2 / 3, 1.0]]], [[[0.0, 0.0]]]]))
    assert torch.equal(saliency_images(maps[:, 0]), torch.tensor([[[[1 / 3, 1.0]]], [[[0.0, 0.0]]]]))


def test_ccm_and_fam_are_ssim_of_the_saliency_images() -> None:
    from veracity.metrics.similarity import ssim

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 1, 8, 8, generator=g), torch.randn(5, 1, 8, 8, generator=g)
    expected = ssim(saliency_images(a), saliency_images(b), data_range=1.0)
    assert torch.equal(cause_for_concern(a, b), expected) and torch.equal(false_alarm(a, b), expected)
    assert torch.allclose(cause_for_concern(a, -5 * a), torch.ones(5))  # same saliency image
    assert torch.allclose(false_alarm(a, b, similarity=spearman), spearman(saliency_images(a), saliency_images(b)))


def test_mask_shape_mismatch_names_masks_with_the_shapes_passed() -> None:
    with pytest.raises(ValueError, match=r"`masks`.*\(2, 3, 8, 8\).*shape \(2, 1, 4, 4\)"):
        known_spurious_signal_detection(torch.rand(2, 3, 8, 8), torch.ones(2, 1, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"`masks`.*empty mask for example\(s\) \[1\]"):
        masks = torch.ones(2, 1, 8, 8, dtype=torch.bool)
        masks[1] = False
        known_spurious_signal_detection(torch.rand(2, 1, 8, 8), masks)
    with pytest.raises(ValueError, match="`normal_maps`.*shape \\(3, 1, 8, 8\\)"):
        cause_for_concern(torch.rand(2, 1, 8, 8), torch.rand(3, 1, 8, 8))
    with pytest.raises(TypeError, match="`maps`"):
        known_spurious_signal_detection(torch.rand(2, 64), torch.ones(2, 64, dtype=torch.bool))
    with pytest.raises(ValueError, match="`measure`"):
        known_spurious_signal_detection(torch.rand(2, 1, 8, 8), torch.ones(2, 1, 8, 8), "iou")
    with pytest.raises(ValueError, match="`similarity`"):
        false_alarm(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8), similarity=lambda a, b: a.sum())
