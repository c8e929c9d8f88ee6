"""CAM closed forms on a hand-built conv net with a global-average-pool + linear head."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from veracity import attr


class GapNet(nn.Module):
    """conv -> ReLU -> global average pool -> linear: d y_t / d A_c = W[t, c] / (H W)."""

    def __init__(self, dims: int = 2) -> None:
        super().__init__()
        conv = nn.Conv2d if dims == 2 else nn.Conv1d
        self.conv = conv(2, 5, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.relu(self.conv(x))
        return self.fc(a.flatten(2).mean(2))


def _activations(model: GapNet, x: torch.Tensor) -> torch.Tensor:
    return model.relu(model.conv(x)).detach()


@pytest.mark.parametrize("dims", [1, 2])
def test_grad_cam_hires_cam_closed_forms(dims: int) -> None:
    torch.manual_seed(0)
    model = GapNet(dims).eval()
    x = torch.randn(3, 2, *([6] * dims))
    a = _activations(model, x)
    positions = a[0, 0].numel()
    weights = model.fc.weight[2].detach() / positions
    expected = (weights.view(1, 5, *([1] * dims)) * a).sum(1, keepdim=True)
    grad_cam = attr.LayerGradCam(model, model.relu).attribute(x, target=2)
    assert torch.allclose(grad_cam, expected, atol=1e-6)
    assert torch.allclose(attr.LayerHiResCam(model, model.relu).attribute(x, target=2), grad_cam, atol=1e-6)
    layer_cam = attr.LayerCam(model, model.relu).attribute(x, target=2)
    assert torch.allclose(layer_cam, (weights.clamp(min=0).view(1, 5, *([1] * dims)) * a).sum(1, keepdim=True),
                          atol=1e-6)
    per_channel = attr.LayerGradCam(model, model.relu).attribute(x, target=2, attr_dim_summation=False)
    assert per_channel.shape == a.shape


def test_grad_cam_plus_plus_and_xgrad_cam_by_hand() -> None:
    torch.manual_seed(1)
    model = GapNet().eval()
    x = torch.randn(2, 2, 5, 5)
    a = _activations(model, x)
    g = (model.fc.weight[1].detach() / 25).view(1, 5, 1, 1).expand_as(a)
    totals = a.sum((2, 3), keepdim=True)
    alpha = g**2 / (2 * g**2 + totals * g**3 + 1e-7)
    plus_weights = (alpha * g.clamp(min=0)).sum((2, 3), keepdim=True)
    x_weights = (g * a / (totals + 1e-7)).sum((2, 3), keepdim=True)
    assert torch.allclose(attr.LayerGradCamPlusPlus(model, model.relu).attribute(x, target=1),
                          (plus_weights * a).sum(1, keepdim=True), atol=1e-6)
    assert torch.allclose(attr.LayerXGradCam(model, model.relu).attribute(x, target=1),
                          (x_weights * a).sum(1, keepdim=True), atol=1e-6)


def _normalised_maps(a: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    maps = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
    low = maps.amin((2, 3), keepdim=True)
    high = maps.amax((2, 3), keepdim=True)
    return torch.where(high > low, (maps - low) / (high - low).clamp(min=1e-30), torch.zeros_like(maps))


@pytest.mark.parametrize("score", ["increase", "channel_softmax"])
def test_score_cam_weights_by_hand(score: str) -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(36, 3)).eval()
    x = torch.randn(2, 1, 6, 6)
    a = model[1](model[0](x)).detach()
    maps = _normalised_maps(a, (6, 6))
    raw = torch.stack([model(x * maps[:, c:c + 1])[:, 0] for c in range(4)], 1).detach()
    if score == "increase":
        probs = torch.stack([torch.softmax(model(x * maps[:, c:c + 1]), 1)[:, 0] for c in range(4)], 1)
        weights = probs - torch.softmax(model(torch.zeros_like(x)), 1)[:, :1]
    else:
        weights = torch.softmax(raw, 1)
    expected = (weights.detach().view(2, 4, 1, 1) * a).sum(1, keepdim=True)
    got = attr.LayerScoreCam(model, model[1]).attribute(x, target=0, relu_attributions=False, score=score)
    assert torch.allclose(got, expected, atol=1e-5)
    one_at_a_time = attr.LayerScoreCam(model, model[1]).attribute(
        x, target=0, relu_attributions=False, score=score, perturbations_per_eval=1)
    assert torch.allclose(one_at_a_time, got, atol=1e-6)
    upsampled = attr.LayerScoreCam(model, model[1]).attribute(x, target=0, score=score, upsample_to_input=True)
    assert upsampled.shape == (2, 1, 6, 6) and bool((upsampled >= 0).all())


def test_ablation_cam_weights_by_hand() -> None:
    torch.manual_seed(3)
    model = GapNet().eval()
    x = torch.randn(2, 2, 5, 5)
    a = _activations(model, x)
    y = model(x)[:, 0].detach()
    weights = []
    for c in range(5):
        ablated = a.clone()
        ablated[:, c] = 0
        weights.append((y - model.fc(ablated.flatten(2).mean(2))[:, 0].detach()) / y)
    expected = F.relu((torch.stack(weights, 1).view(2, 5, 1, 1) * a).sum(1, keepdim=True))
    assert torch.allclose(attr.LayerAblationCam(model, model.relu).attribute(x, target=0), expected, atol=1e-5)


def test_eigen_cam_of_rank_one_activations_is_the_centred_map() -> None:
    """A_c = s_c * M: the first principal component gives a multiple of M - mean(M)."""
    pattern = torch.rand(1, 1, 4, 4)

    class RankOne(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.maps = nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.maps(x.mean((1, 2, 3)).view(-1, 1, 1, 1) * torch.tensor([1.0, 2.0, -0.5]).view(1, 3, 1, 1)
                             * pattern).flatten(1)

    model = RankOne().eval()
    cam = attr.LayerEigenCam(model, model.maps).attribute(torch.ones(2, 1, 4, 4))
    centred = (pattern - pattern.mean()).expand(2, 1, 4, 4)
    ratio = (cam * centred).sum((1, 2, 3)) / (centred * centred).sum((1, 2, 3))
    assert torch.allclose(cam, ratio.view(-1, 1, 1, 1) * centred, atol=1e-5)
    assert bool((ratio > 0).all())


def test_guided_grad_cam_is_guided_backprop_times_upsampled_cam() -> None:
    model = GapNet().eval()
    x = torch.randn(2, 2, 6, 6)
    cam = attr.LayerGradCam(model, model.relu).attribute(x, target=0, relu_attributions=True)
    guided = attr.GuidedBackprop(model).attribute(x, target=0)
    expected = guided * F.interpolate(cam, size=(6, 6), mode="nearest")
    assert torch.allclose(attr.GuidedGradCam(model, model.relu).attribute(x, target=0), expected)


def test_upsampling_to_the_input() -> None:
    model = nn.Sequential(nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(48, 2)).eval()
    x = torch.randn(2, 1, 8, 8)
    small = attr.LayerGradCam(model, model[1]).attribute(x, target=1)
    big = attr.LayerGradCam(model, model[1]).attribute(x, target=1, upsample_to_input=True)
    assert small.shape == (2, 1, 4, 4) and big.shape == (2, 1, 8, 8)
    assert torch.allclose(big, F.interpolate(small, size=(8, 8), mode="bilinear", align_corners=False))
    assert torch.allclose(attr.LayerAttribution.interpolate(small, (8, 8)),
                          F.interpolate(small, size=(8, 8), mode="nearest"))
