"""ConditionalOcclusion: exact invariants, closed forms on a linear embedding, invariances, errors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from tests.similarity.models import conv_encoder, digit_like, linear_encoder
from veracity.similarity import ConditionalOcclusion


def windows(shape: tuple[int, ...], window: tuple[int, ...], stride: tuple[int, ...]) -> list[torch.Tensor]:
    """Captum's occlusion windows, written out: starts at multiples of the stride, the last one
    clipped at the border; each as a boolean mask of ``shape``."""
    starts = [range(0, (math.ceil((s - w) / st) + 1) * st, st) for s, w, st in zip(shape, window, stride)]
    masks = []
    for corner in itertools.product(*starts):
        mask = torch.zeros(shape, dtype=torch.bool)
        mask[tuple(slice(c, c + w) for c, w in zip(corner, window))] = True
        masks.append(mask)
    return masks


def by_hand(score, x1: torch.Tensor, window: tuple[int, ...], stride: tuple[int, ...]) -> torch.Tensor:
    """Per element, the mean over covering windows of ``score(x1) - score(x1 with the window zeroed)``."""
    masks = windows(tuple(x1.shape[1:]), window, stride)
    base = score(x1)
    total = torch.zeros_like(x1)
    count = torch.zeros(x1.shape[1:], dtype=x1.dtype)
    for mask in masks:
        drop = base - score(x1 * ~mask)
        total += drop.view(-1, *([1] * (x1.dim() - 1))) * mask
        count += mask
    return total / count


def test_an_all_zero_window_leaves_the_cosine_similarity_unchanged_exactly() -> None:
    model = conv_encoder()
    x1 = digit_like(3)
    x2 = x1.roll(1, dims=-1)
    heat = ConditionalOcclusion(model).attribute(x1, x2, sliding_window_shapes=(1, 2, 2))
    # Element (r, c) is covered by the 2x2 windows starting at rows r-1..r and cols c-1..c
    # (within the image); where all of them only see zeros, every drop is exactly 0.
    background = torch.zeros(8, 8, dtype=torch.bool)
    for r, c in itertools.product(range(8), range(8)):
        starts = [(i, j) for i in range(max(0, r - 1), min(r, 6) + 1) for j in range(max(0, c - 1), min(c, 6) + 1)]
        background[r, c] = all(x1[:, 0, i:i + 2, j:j + 2].abs().sum() == 0 for i, j in starts)
    assert background.sum() == 64 - 36  # the border of width 1 around the 6x6 block 1..6
    assert bool((heat[:, 0][:, background] == 0).all())
    assert bool((heat[:, 0][:, ~background] != 0).any())


def test_dot_similarity_of_a_linear_embedding_matches_the_hand_computed_drops() -> None:
    model = linear_encoder(features=30)
    generator = torch.Generator().manual_seed(1)
    x1, x2 = (torch.randn(2, 1, 5, 6, generator=generator, dtype=torch.float64) for _ in range(2))
    weight = model[1].weight
    window, stride = (1, 2, 3), (1, 2, 2)  # the last windows are clipped at the border

    def dot_with_x2(x: torch.Tensor) -> torch.Tensor:
        return ((x.flatten(1) @ weight.T) * (x2.flatten(1) @ weight.T)).sum(1)

    heat = ConditionalOcclusion(model, similarity="dot").attribute(x1, x2, window, strides=stride)
    torch.testing.assert_close(heat, by_hand(dot_with_x2, x1, window, stride), rtol=1e-12, atol=1e-12)
    # linearity in the occluded part: the drop of a window is (W x1|window) . (W x2), so the heat
    # of a one-element window is x1 times the gradient of the dot product
    single = ConditionalOcclusion(model, similarity="dot").attribute(x1, x2, (1, 1, 1))
    gradient = ((x2.flatten(1) @ weight.T) @ weight).view_as(x1)
    torch.testing.assert_close(single, x1 * gradient, rtol=1e-12, atol=1e-12)


def test_cosine_similarity_of_a_linear_embedding_matches_the_hand_computed_drops() -> None:
    model = linear_encoder(features=30, seed=2)
    generator = torch.Generator().manual_seed(3)
    x1, x2 = (torch.randn(3, 1, 5, 6, generator=generator, dtype=torch.float64) for _ in range(2))
    weight = model[1].weight

    def cosine_with_x2(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cosine_similarity(x.flatten(1) @ weight.T, x2.flatten(1) @ weight.T, dim=1)

    heat = ConditionalOcclusion(model).attribute(x1, x2, (1, 3, 3), strides=(1, 1, 2))
    torch.testing.assert_close(heat, by_hand(cosine_with_x2, x1, (1, 3, 3), (1, 1, 2)), rtol=1e-10, atol=1e-12)


def test_non_zero_baseline_and_tuple_inputs() -> None:
    model = linear_encoder(features=30, seed=4)
    weight = model[1].weight
    generator = torch.Generator().manual_seed(5)
    x1, x2 = (torch.randn(2, 1, 5, 6, generator=generator, dtype=torch.float64) for _ in range(2))
    heat = ConditionalOcclusion(model, similarity="dot").attribute(x1, x2, (1, 1, 1), baselines=0.5)
    gradient = ((x2.flatten(1) @ weight.T) @ weight).view_as(x1)
    torch.testing.assert_close(heat, (x1 - 0.5) * gradient, rtol=1e-12, atol=1e-12)

    def two_inputs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return model(torch.cat([a, b], dim=-1))

    halves = (x1[..., :3].contiguous(), x1[..., 3:].contiguous())
    split = ConditionalOcclusion(two_inputs, similarity="dot").attribute(
        halves, (x2[..., :3].contiguous(), x2[..., 3:].contiguous()), ((1, 1, 1), (1, 1, 1)))
    assert isinstance(split, tuple)
    torch.testing.assert_close(torch.cat(split, dim=-1), x1 * gradient, rtol=1e-12, atol=1e-12)


def test_both_maps_swap_with_the_views_and_coincide_for_identical_views() -> None:
    model = conv_encoder(seed=1)
    x1, x2 = digit_like(2, seed=1), digit_like(2, seed=2)
    explainer = ConditionalOcclusion(model)
    heat1, heat2 = explainer.attribute_pair(x1, x2, (1, 2, 2))
    swapped2, swapped1 = explainer.attribute_pair(x2, x1, (1, 2, 2))
    assert torch.equal(heat1, swapped1) and torch.equal(heat2, swapped2)
    same1, same2 = explainer.attribute_pair(x1, x1.clone(), (1, 2, 2))
    assert torch.equal(same1, same2)


def test_batch_and_chunk_invariance() -> None:
    model = conv_encoder(seed=2)
    x1, x2 = digit_like(3, seed=3), digit_like(3, seed=4)
    explainer = ConditionalOcclusion(model)
    whole = explainer.attribute(x1, x2, (1, 3, 3))
    for rows in (1, 4, 1000):
        torch.testing.assert_close(explainer.attribute(x1, x2, (1, 3, 3), perturbations_per_eval=rows), whole,
                                   rtol=1e-5, atol=1e-6)
    alone = torch.cat([explainer.attribute(x1[i:i + 1], x2[i:i + 1], (1, 3, 3)) for i in range(3)])
    torch.testing.assert_close(alone, whole, rtol=1e-5, atol=1e-6)


def test_the_model_and_the_inputs_are_left_as_they_were() -> None:
    model = conv_encoder(seed=3)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x1, x2 = digit_like(2), digit_like(2, seed=5)
    copies = x1.clone(), x2.clone()
    ConditionalOcclusion(model).attribute(x1, x2, (1, 2, 2))
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(x1, copies[0]) and torch.equal(x2, copies[1])


def test_embeddings_of_different_widths_name_the_model_and_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"`forward_func`.*width 64 .*\(2, 1, 8, 8\).*width 36 .*\(2, 1, 6, 6\)"):
        ConditionalOcclusion(nn.Flatten()).attribute(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 6, 6), (1, 2, 2))


def test_bad_inputs_name_the_argument() -> None:
    model = conv_encoder()
    x = digit_like(2)
    with pytest.raises(ValueError, match=r"`condition`.*batch of 2 .*\(2, 1, 8, 8\).*shape \(3, 1, 8, 8\)"):
        ConditionalOcclusion(model).attribute(x, digit_like(3), (1, 2, 2))
    with pytest.raises(ValueError, match=r"`sliding_window_shapes`.*\(1, 8, 8\).*\(1, 9, 9\)"):
        ConditionalOcclusion(model).attribute(x, x, (1, 9, 9))
    with pytest.raises(TypeError, match=r"`sliding_window_shapes`.*3 integers"):
        ConditionalOcclusion(model).attribute(x, x, (3, 3))
    with pytest.raises(ValueError, match=r"`sliding_window_shapes`.*>= 1"):
        ConditionalOcclusion(model).attribute(x, x, (1, 0, 2))
    with pytest.raises(ValueError, match="`similarity`"):
        ConditionalOcclusion(model, similarity="euclid")
    with pytest.raises(ValueError, match=r"`similarity`.*one score per row"):
        ConditionalOcclusion(model, similarity=lambda a, b: a @ b.T).attribute(x, x, (1, 4, 4), strides=4)
    with pytest.raises(ValueError, match=r"`inputs`.*one output row per example.*got an output of shape \(\)"):
        ConditionalOcclusion(lambda v: v.sum()).attribute(x, x, (1, 4, 4), strides=4)


def test_parity_with_captum_occlusion_on_the_same_similarity_scorer() -> None:
    captum_attr = pytest.importorskip("captum.attr")
    model = conv_encoder(seed=5)
    x1, x2 = digit_like(2, seed=8), digit_like(2, seed=9)
    with torch.no_grad():
        reference = model(x2)

    def scorer(x: torch.Tensor) -> torch.Tensor:  # Captum stacks whole copies of the batch
        return torch.nn.functional.cosine_similarity(model(x), reference.repeat(x.shape[0] // 2, 1), dim=1)

    for window, stride, per_eval in (((1, 3, 3), (1, 1, 1), 1), ((1, 2, 3), (1, 2, 2), 4)):
        anchor = captum_attr.Occlusion(scorer).attribute(x1, sliding_window_shapes=window, strides=stride,
                                                         perturbations_per_eval=per_eval)
        ours = ConditionalOcclusion(model).attribute(x1, x2, window, strides=stride)
        torch.testing.assert_close(ours, anchor, rtol=1e-5, atol=1e-6)


def test_additional_forward_args_reach_both_views_row_by_row() -> None:
    model = linear_encoder(features=30, seed=6)
    weight = model[1].weight
    generator = torch.Generator().manual_seed(7)
    x1, x2 = (torch.randn(3, 1, 5, 6, generator=generator, dtype=torch.float64) for _ in range(2))
    scale = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)

    def scaled(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        return model(x) * factor[:, None]

    heat = ConditionalOcclusion(scaled, similarity="dot").attribute(x1, x2, (1, 1, 1), additional_forward_args=scale,
                                                                    perturbations_per_eval=4)
    gradient = ((x2.flatten(1) @ weight.T) @ weight).view_as(x1) * (scale ** 2).view(-1, 1, 1, 1)
    torch.testing.assert_close(heat, x1 * gradient, rtol=1e-12, atol=1e-12)


def test_context_agnostic_windows_of_a_linear_embedding_match_the_hand_computed_scores() -> None:
    model = linear_encoder(features=30, seed=8)
    weight = model[1].weight
    generator = torch.Generator().manual_seed(9)
    x1, x2 = (torch.randn(2, 1, 5, 6, generator=generator, dtype=torch.float64) for _ in range(2))
    window, stride, fill = (1, 2, 3), (1, 2, 2), 0.25
    masks = windows((1, 5, 6), window, stride)
    total, count = torch.zeros_like(x1), torch.zeros(1, 5, 6, dtype=torch.float64)
    for mask in masks:
        kept = torch.where(mask, x1, torch.full_like(x1, fill))
        occluded = torch.where(mask, torch.full_like(x1, fill), x1)
        difference = kept.flatten(1) @ weight.T - occluded.flatten(1) @ weight.T
        score = torch.nn.functional.cosine_similarity(difference, x2.flatten(1) @ weight.T, dim=1)
        total += score.view(-1, 1, 1, 1) * mask
        count += mask
    heat = ConditionalOcclusion(model).attribute(x1, x2, window, strides=stride, baselines=fill,
                                                 context_agnostic=True, perturbations_per_eval=3)
    torch.testing.assert_close(heat, total / count, rtol=1e-10, atol=1e-12)
