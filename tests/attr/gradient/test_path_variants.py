"""Guided IG, Blur IG and GGIG: closed forms, reductions to IG, completeness; Split IG's parts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import MLP, LinearModel, SmallCNN
from veracity.attr import (
    BlurIntegratedGradients,
    GeometricallyGuidedIntegratedGradients,
    GuidedIntegratedGradients,
    IntegratedGradients,
    SplitIntegratedGradients,
)
from veracity.attr.gradient.blur_ig import blur_sigmas, gaussian_blur
from veracity.training import smooth_model


class _SinSum(nn.Module):
    """f(x) = sum_i sin(x_i) per output row: the gradient along the path is cos(a x_i)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x).sum(1, keepdim=True)


def _f64(model: nn.Module) -> nn.Module:
    return model.double().eval()


# GGIG -----------------------------------------------------------------------------------------

def test_ggig_equals_ig_on_a_linear_model() -> None:
    torch.manual_seed(0)
    model = _f64(LinearModel())
    x, base = torch.randn(5, 6, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64)
    ggig = GeometricallyGuidedIntegratedGradients(model).attribute(x, base, target=2, n_steps=7)
    ig = IntegratedGradients(model).attribute(x, base, target=2, n_steps=7)
    torch.testing.assert_close(ggig, ig, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(ggig, model.linear.weight[2].detach() * (x - base), atol=1e-12, rtol=1e-12)


def test_ggig_keeps_the_best_gradient_of_each_feature() -> None:
    x = torch.tensor([[2.0, -3.0, 0.5, 4.0]], dtype=torch.float64)
    steps = 10
    result = GeometricallyGuidedIntegratedGradients(_SinSum()).attribute(x, target=0, n_steps=steps)
    alphas = torch.arange(1, steps + 1, dtype=torch.float64) / steps  # riemann_right points
    expected = (torch.cos(alphas[:, None] * x) * x).max(0).values  # max_a g_i(a) * (x_i - 0)
    torch.testing.assert_close(result[0], expected, atol=1e-12, rtol=1e-12)


def test_ggig_chunking_does_not_change_the_result() -> None:
    torch.manual_seed(1)
    model, x = MLP().eval(), torch.randn(3, 6)
    method = GeometricallyGuidedIntegratedGradients(model)
    whole = method.attribute(x, target=1, n_steps=12)
    torch.testing.assert_close(method.attribute(x, target=1, n_steps=12, internal_batch_size=5), whole)


# Guided IG ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fraction, max_dist", [(0.25, 0.0), (1.0, 1.0)], ids=["no-deviation", "all-features"])
def test_guided_ig_without_guidance_is_left_riemann_ig(fraction: float, max_dist: float) -> None:
    """max_dist=0 keeps the path straight; fraction=1 moves every feature at once, also straight:
    both are IG's left Riemann sum with the same steps."""
    torch.manual_seed(2)
    model = _f64(MLP())
    x, base = torch.randn(4, 6, dtype=torch.float64), 0.1 * torch.randn(4, 6, dtype=torch.float64)
    guided = GuidedIntegratedGradients(model).attribute(x, base, target=0, n_steps=16, fraction=fraction,
                                                        max_dist=max_dist)
    ig = IntegratedGradients(model).attribute(x, base, target=0, n_steps=16, method="riemann_left")
    torch.testing.assert_close(guided, ig, atol=1e-10, rtol=1e-8)


def test_guided_ig_is_complete_and_converges_on_a_smooth_model() -> None:
    """A left Riemann sum on the guided path: on a smooth network the completeness error falls
    like 1/n_steps (stated tolerance: 1% of |F(x) - F(x')| at 128 steps, 8x less than at 8).
    On ReLU/max-pool networks a feature may jump across the whole band (2 * max_dist) within
    one step while its gradient switches on, so the error there does not vanish with n_steps
    (about 7% of |F(x) - F(x')| on tests.conftest.SmallCNN, at 16 and at 256 steps alike)."""
    torch.manual_seed(3)
    model = smooth_model(SmallCNN(), beta=5.0, r=5.0).double().eval()
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    errors = []
    for steps in (8, 128):
        _, delta = GuidedIntegratedGradients(model).attribute(x, target=1, n_steps=steps,
                                                              return_convergence_delta=True)
        errors.append(float(delta.abs().max()))
    with torch.no_grad():
        scale = float((model(x)[:, 1] - model(torch.zeros_like(x))[:, 1]).abs().max())
    assert errors[1] < 0.01 * scale, (errors, scale)
    assert errors[1] < errors[0] / 8, errors


def test_guided_ig_moves_small_gradient_features_first() -> None:
    """f = 10 x_0 + 0.1 x_1 (+ nothing for x_2): halfway along a 2-step path the guided point has
    moved the small-gradient features, so the attribution of x_0 uses the gradient at a point
    where only x_1, x_2 moved; on a linear model it is still W * (x - x')."""
    model = nn.Linear(3, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[10.0, 0.1, 0.0]]))
    x = torch.ones(1, 3, dtype=torch.float64)
    result = GuidedIntegratedGradients(model).attribute(x, target=0, n_steps=2, fraction=0.5, max_dist=1.0)
    torch.testing.assert_close(result, torch.tensor([[10.0, 0.1, 0.0]], dtype=torch.float64))


def test_guided_ig_checks_its_arguments() -> None:
    model, x = LinearModel(), torch.randn(2, 6)
    with pytest.raises(ValueError, match="fraction"):
        GuidedIntegratedGradients(model).attribute(x, target=0, fraction=0.0)
    with pytest.raises(ValueError, match="max_dist"):
        GuidedIntegratedGradients(model).attribute(x, target=0, max_dist=2.0)


# Blur IG --------------------------------------------------------------------------------------

def test_blur_matches_scipy_gaussian_filter() -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    image = torch.rand(2, 3, 9, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for sigma in (0.7, 2.0, 12.0):
        expected = ndimage.gaussian_filter(image.numpy(), sigma=(0, 0, sigma, sigma), mode="reflect")
        torch.testing.assert_close(gaussian_blur(image, sigma), torch.from_numpy(expected), atol=1e-12, rtol=1e-10)


def test_blur_ig_on_a_linear_model_is_w_times_the_blur_difference() -> None:
    """A constant gradient telescopes: sum_i W (p_i - p_{i+1}) = W (x - blur(x, max_sigma))."""
    torch.manual_seed(4)
    model = _f64(nn.Sequential(nn.Flatten(), nn.Linear(64, 3)))
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    result = BlurIntegratedGradients(model).attribute(x, target=1, n_steps=9, max_sigma=5.0)
    weight = model[1].weight[1].detach().view(1, 1, 8, 8)
    torch.testing.assert_close(result, weight * (x - gaussian_blur(x, 5.0)), atol=1e-12, rtol=1e-10)


def test_blur_ig_is_complete_against_the_blurred_input_and_converges() -> None:
    """Stated tolerance: 1% of |F(x) - F(blur(x))| at 128 steps, 4x less error than at 16."""
    torch.manual_seed(5)
    model, x = SmallCNN().double().eval(), torch.rand(3, 1, 8, 8, dtype=torch.float64)
    errors = []
    for steps in (16, 128):
        _, delta = BlurIntegratedGradients(model).attribute(x, target=2, n_steps=steps, max_sigma=6.0,
                                                            return_convergence_delta=True)
        errors.append(float(delta.abs().max()))
    with torch.no_grad():
        scale = float((model(x)[:, 2] - model(gaussian_blur(x, 6.0))[:, 2]).abs().max())
    assert errors[1] < 0.05 * scale, (errors, scale)
    assert errors[1] < errors[0] / 4, errors


def test_blur_ig_chunking_and_sqrt_levels() -> None:
    torch.manual_seed(6)
    model, x = SmallCNN().eval(), torch.rand(2, 1, 8, 8)
    method = BlurIntegratedGradients(model)
    whole = method.attribute(x, target=0, n_steps=10, max_sigma=3.0)
    torch.testing.assert_close(method.attribute(x, target=0, n_steps=10, max_sigma=3.0, internal_batch_size=4), whole)
    assert blur_sigmas(9.0, 3, sqrt=True) == [0.0, 3.0 ** 0.5, 6.0 ** 0.5, 3.0]


# Split IG -------------------------------------------------------------------------------------

def test_split_ig_left_plus_right_is_ig_and_alpha_is_on_the_grid() -> None:
    torch.manual_seed(7)
    model = nn.Sequential(MLP(), nn.Softmax(1)).double().eval()
    x = 2 * torch.randn(5, 6, dtype=torch.float64)
    split = SplitIntegratedGradients(model).attribute_split(x, target=1, n_steps=40, ratio=0.9)
    ig = IntegratedGradients(model).attribute(x, target=1, n_steps=40, method="riemann_right")
    torch.testing.assert_close(split.left + split.right, ig, atol=1e-14, rtol=1e-12)
    grid = torch.arange(1, 41, dtype=torch.float64) / 40
    assert all(bool((grid - a).abs().min() < 1e-12) for a in split.split_alpha)
