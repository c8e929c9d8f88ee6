"""Axioms over every gradient method: closed forms, completeness, dummy features,
implementation invariance, finite differences."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.axioms.registry import ALL_SPECS, Spec
from tests.conftest import MLP, AdditiveModel, LinearModel, SmallCNN
from veracity import attr


def _attribute(spec: Spec, model: nn.Module, x: torch.Tensor, target, **extra):
    kwargs = spec.kwargs(x)
    kwargs.update(extra)
    return spec.make(model).attribute(x, target=target, **kwargs)


def _baseline_mean(spec: Spec, x: torch.Tensor) -> torch.Tensor:
    kwargs = spec.kwargs(x)
    if spec.baseline_kind == "single":
        return kwargs.get("baselines", torch.zeros_like(x)) * torch.ones_like(x)
    if spec.baseline_kind == "distribution":
        return kwargs["baselines"].mean(0, keepdim=True).expand_as(x)
    return torch.zeros_like(x)


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.deterministic and s.closed_form],
                         ids=lambda s: s.name)
def test_closed_form_on_linear_model(spec: Spec) -> None:
    model = LinearModel().eval()
    x = torch.randn(5, 6)
    w = model.linear.weight[2].detach()
    result = _attribute(spec, model, x, 2)
    expected = {"|W|": lambda: w.abs().expand_as(x), "W": lambda: w.expand_as(x), "W*x": lambda: x * w,
                "W*(x-baseline)": lambda: w * (x - _baseline_mean(spec, x))}[spec.closed_form]()
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=1e-5)


def test_gradient_shap_closed_form_on_linear_model() -> None:
    model = LinearModel().eval()
    x, background = torch.randn(4, 6), torch.randn(1, 6)
    result = attr.GradientShap(model).attribute(x, background, target=0, n_samples=9)
    torch.testing.assert_close(result, model.linear.weight[0].detach() * (x - background))


def test_noise_tunnel_smoothgrad_on_linear_model_is_the_gradient() -> None:
    model = LinearModel().eval()
    x = torch.randn(3, 6)
    result = attr.NoiseTunnel(attr.Saliency(model)).attribute(x, nt_samples=7, stdevs=0.5, target=1)
    torch.testing.assert_close(result, model.linear.weight[1].detach().abs().expand_as(x))


class _ProbabilityHead(nn.Module):
    """Elementwise activations DeepLift rescales, then a (log-)softmax output."""

    def __init__(self, log: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 8), nn.ELU(), nn.Linear(8, 3))
        self.head = nn.LogSoftmax(1) if log else nn.Softmax(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x) * 2)


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.completeness], ids=lambda s: s.name)
@pytest.mark.parametrize("model_cls", [MLP, SmallCNN, _ProbabilityHead, lambda: _ProbabilityHead(log=True)],
                         ids=["mlp", "cnn", "softmax", "log_softmax"])
def test_completeness_on_nonlinear_models(spec: Spec, model_cls) -> None:
    model = model_cls().eval()
    x = torch.randn(4, 1, 8, 8) if model_cls is SmallCNN else torch.randn(4, 6)
    result, delta = _attribute(spec, model, x, 1, return_convergence_delta=True)
    with torch.no_grad():
        if spec.baseline_kind == "distribution":
            background = spec.kwargs(x)["baselines"]
            expected = model(x)[:, 1] - model(background)[:, 1].mean()
        else:
            expected = model(x)[:, 1] - model(_baseline_mean(spec, x))[:, 1]
    total = result.reshape(4, -1).sum(1)
    # DeepLift is exact by construction; IG is a quadrature, exact in the limit.
    tolerance = 1e-4 if "DeepLift" in spec.name else 2e-3 * max(1.0, float(expected.abs().max()))
    assert torch.allclose(total, expected, atol=tolerance), (total, expected)
    assert float(delta.abs().max()) < tolerance


def test_integrated_gradients_exact_on_additive_model() -> None:
    model = AdditiveModel()
    x, base = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    result = attr.IntegratedGradients(model).attribute(x, base, n_steps=40)

    def terms(v: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.stack([torch.sin(v[:, 0]), v[:, 1] ** 2, 3 * torch.tanh(v[:, 2]),
                                       2 * v[:, 3]], 1), 0.5 * v[:, 4:]], 1)

    torch.testing.assert_close(result, terms(x) - terms(base), atol=1e-10, rtol=1e-10)


class _IgnoresFeature(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mlp = MLP(features=5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x[:, :5])


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.dummy_exact], ids=lambda s: s.name)
def test_dummy_feature_gets_zero(spec: Spec) -> None:
    model = _IgnoresFeature().eval()
    x = torch.randn(4, 6)
    result = _attribute(spec, model, x, 0)
    assert torch.all(result[:, 5] == 0)
    assert result[:, :5].abs().sum() > 0


def test_integrated_gradients_implementation_invariance() -> None:
    torch.manual_seed(1)
    first = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    # The same function: hidden units doubled and the output weights halved; units permuted.
    second = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    order = torch.randperm(8)
    with torch.no_grad():
        second[0].weight.copy_(2 * first[0].weight[order])
        second[0].bias.copy_(2 * first[0].bias[order])
        second[2].weight.copy_(first[2].weight[:, order] / 2)
        second[2].bias.copy_(first[2].bias)
    x = torch.randn(5, 4)
    torch.testing.assert_close(first(x), second(x))
    a = attr.IntegratedGradients(first).attribute(x, target=1)
    b = attr.IntegratedGradients(second).attribute(x, target=1)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_saliency_matches_finite_differences_in_float64() -> None:
    model = MLP().double().eval()
    x = torch.randn(3, 6, dtype=torch.float64)
    grads = attr.Saliency(model).attribute(x, target=2, abs=False)
    h = 1e-6
    for i in range(6):
        step = torch.zeros_like(x)
        step[:, i] = h
        with torch.no_grad():
            numeric = (model(x + step)[:, 2] - model(x - step)[:, 2]) / (2 * h)
        torch.testing.assert_close(grads[:, i], numeric, atol=1e-8, rtol=1e-6)


def test_deeplift_matches_hand_computed_rescale_rule() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1)).eval()
    x, base = torch.randn(4, 3), torch.randn(4, 3)
    result = attr.DeepLift(model).attribute(x, base)
    w1, b1, w2 = model[0].weight.detach(), model[0].bias.detach(), model[2].weight.detach()[0]
    z, z0 = x @ w1.T + b1, base @ w1.T + b1
    dz = z - z0
    multiplier = torch.where(dz.abs() > 1e-10, (z.relu() - z0.relu()) / dz, (z > 0).float())
    expected = ((w2 * multiplier) @ w1) * (x - base)
    torch.testing.assert_close(result, expected, atol=1e-6, rtol=1e-5)
