"""InteractionCAM against a plain-autograd replica; symmetry; invariances; hooks; errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.similarity.models import conv_encoder, digit_like
from veracity.similarity import InteractionCAM


def replica(model: nn.Sequential, x1: torch.Tensor, x2: torch.Tensor, reduction: str | None,
            invariance: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The method written out with autograd: features after model[1], the head after it."""
    features = [model[:2](x).detach().requires_grad_() for x in (x1, x2)]
    embeddings = [model[2:](f) for f in features]
    score = torch.nn.functional.cosine_similarity(*embeddings, dim=1)
    grads = torch.autograd.grad(score.sum(), features)
    f1, f2 = (f.detach() for f in features)
    if reduction == "mean":
        joint = f1.mean((2, 3)) * f2.mean((2, 3))
    elif reduction == "max":
        joint = f1.amax((2, 3)) * f2.amax((2, 3))
    elif reduction == "attention":
        def attend(f: torch.Tensor) -> torch.Tensor:
            flat = f.flatten(2).transpose(1, 2)  # (B, P, K)
            weights = torch.softmax(torch.einsum("bpk,bk->bp", flat, flat.mean(1)), dim=1)
            return torch.einsum("bp,bpk->bk", weights, flat)
        joint = attend(f1) * attend(f2)
    else:
        joint = torch.ones(f1.shape[:2], dtype=f1.dtype)
    if invariance:
        z1, z2 = (e.detach() for e in embeddings)
        n1 = (z1 - z1.min(1, keepdim=True).values) / (z1.max(1, keepdim=True).values - z1.min(1, keepdim=True).values)
        n2 = (z2 - z2.min(1, keepdim=True).values) / (z2.max(1, keepdim=True).values - z2.min(1, keepdim=True).values)
        joint = joint * (1 - (n1 - n2).abs().mean(1, keepdim=True))
    cams = [(f * joint[:, :, None, None] * g.clamp(min=0)).sum(1, keepdim=True) for f, g in zip((f1, f2), grads)]
    return cams[0], cams[1]


@pytest.mark.parametrize("reduction", ["mean", "max", "attention", None])
@pytest.mark.parametrize("invariance", [True, False])
def test_matches_the_autograd_replica(reduction: str | None, invariance: bool) -> None:
    model = conv_encoder(seed=1, dtype=torch.float64)
    x1, x2 = digit_like(3, seed=1, dtype=torch.float64), digit_like(3, seed=2, dtype=torch.float64)
    cams = InteractionCAM(model, model[1]).attribute(x1, x2, reduction=reduction, invariance=invariance)
    expected = replica(model, x1, x2, reduction, invariance)
    for cam, want in zip(cams, expected):
        torch.testing.assert_close(cam, want, rtol=1e-10, atol=1e-12)
    assert bool((cams[0] != 0).any())


def test_swapping_the_views_swaps_the_maps_and_identical_views_give_identical_maps() -> None:
    model = conv_encoder(seed=2)
    x1, x2 = digit_like(2, seed=3), digit_like(2, seed=4)
    cam1, cam2 = InteractionCAM(model, model[1]).attribute(x1, x2)
    swapped2, swapped1 = InteractionCAM(model, model[1]).attribute(x2, x1)
    torch.testing.assert_close(cam1, swapped1, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(cam2, swapped2, rtol=1e-6, atol=1e-7)
    same1, same2 = InteractionCAM(model, model[1]).attribute(x1, x1.clone())
    assert torch.equal(same1, same2)


def test_batch_and_chunk_invariance_and_upsampling() -> None:
    model = conv_encoder(seed=3)
    x1, x2 = digit_like(3, seed=5), digit_like(3, seed=6)
    explainer = InteractionCAM(model, model[1])
    whole = explainer.attribute(x1, x2, reduction="max")
    for rows in (1, 2):
        for a, b in zip(explainer.attribute(x1, x2, reduction="max", internal_batch_size=rows), whole):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    pooled_model = nn.Sequential(*model[:2], nn.MaxPool2d(2))  # a 4x4 layer: upsampled back to 8x8
    cam, _ = InteractionCAM(nn.Sequential(pooled_model, nn.Flatten()), pooled_model[2]).attribute(
        x1, x2, upsample_to_input=True, relu_attributions=True)
    assert cam.shape == (3, 1, 8, 8) and bool((cam >= 0).all())


def test_frozen_parameters_training_mode_hooks_and_errors_leave_the_model_as_it_was() -> None:
    model = conv_encoder(seed=4)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x1, x2 = digit_like(2), digit_like(2, seed=7)
    cam1, _ = InteractionCAM(model, model[1]).attribute(x1, x2)
    assert bool((cam1 != 0).any())  # gradients at the layer need no parameter gradients

    def broken(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("similarity failed")

    with pytest.raises(RuntimeError, match="similarity failed"):
        InteractionCAM(model, model[1], similarity=broken).attribute(x1, x2)
    assert model.training and not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(p.requires_grad for p in model.parameters())


def test_bad_inputs_name_the_argument() -> None:
    model = conv_encoder()
    x = digit_like(2)
    with pytest.raises(ValueError, match=r"`view2`.*batch of 2 .*shape \(3, 1, 8, 8\)"):
        InteractionCAM(model, model[1]).attribute(x, digit_like(3))
    with pytest.raises(ValueError, match=r"`layer`.*\(batch, channels, \*spatial\).*\(2, 6\)"):
        InteractionCAM(model, model[4]).attribute(x, x)
    with pytest.raises(ValueError, match=r"`layer`.*never called"):
        InteractionCAM(model, nn.ReLU()).attribute(x, x)
    with pytest.raises(TypeError, match="`layer`"):
        InteractionCAM(model, "conv")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`reduction`"):
        InteractionCAM(model, model[1]).attribute(x, x, reduction="sum")
    features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    with pytest.raises(ValueError, match=r"`forward_func`.*width 72 .*\(1, 1, 8, 8\).*width 32 .*\(1, 1, 6, 6\)"):
        InteractionCAM(nn.Sequential(features, nn.Flatten()), features[1]).attribute(
            torch.rand(1, 1, 8, 8), torch.rand(1, 1, 6, 6))
