"""Every rule against its formula written by hand on a one-layer network (float64, inputs of
both signs, with bias); LRP-0 equals gradient x input on ReLU networks; conservation layer by
layer for epsilon -> 0 and for z+ on positive inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from veracity import attr, lrp

D = torch.float64
EPS = 1e-3


def _stab(z: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    return z + eps * torch.where(z >= 0, 1.0, -1.0).to(D)


def _layer(seed: int = 0, bias: bool = True) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 4, bias=bias)).double().eval()
    return model


def _run(model: nn.Module, rule, x: torch.Tensor, target: int = 2) -> torch.Tensor:
    composite = lrp.LayerMapComposite([(nn.Linear, rule)])
    return attr.LRP(model, composite=composite).attribute(x, target=target)


def _start(model: nn.Module, x: torch.Tensor, target: int = 2) -> torch.Tensor:
    out = model(x).detach()
    return out * nn.functional.one_hot(torch.tensor(target), out.shape[1])


def _parts(model: nn.Module):
    w, b = model[0].weight.detach(), model[0].bias.detach()
    return w, b, w.clamp(min=0), w.clamp(max=0)


X = torch.randn(5, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


def _epsilon(model, x, r):
    w, b, _, _ = _parts(model)
    return x * ((r / _stab(x @ w.T + b)) @ w)


# As in Zennit, a rule's parameter change applies to the bias too (z+ keeps b+ only).
def _zplus(model, x, r):
    w, b, wp, wn = _parts(model)
    xp, xn = x.clamp(min=0), x.clamp(max=0)
    s = r / _stab(xp @ wp.T + b.clamp(min=0) + xn @ wn.T)
    return xp * (s @ wp) + xn * (s @ wn)


def _alpha2beta1(model, x, r):
    w, b, wp, wn = _parts(model)
    xp, xn = x.clamp(min=0), x.clamp(max=0)
    sp = r / _stab(xp @ wp.T + b.clamp(min=0) + xn @ wn.T)
    sn = r / _stab(xp @ wn.T + b.clamp(max=0) + xn @ wp.T)
    return 2 * (xp * (sp @ wp) + xn * (sp @ wn)) - (xp * (sn @ wn) + xn * (sn @ wp))


def _gamma(model, x, r, g=0.25):
    w, b, wp, wn = _parts(model)
    up, down = w + g * wp, w + g * wn
    b_up, b_down = b + g * b.clamp(min=0), b + g * b.clamp(max=0)
    xp, xn = x.clamp(min=0), x.clamp(max=0)
    z = x @ w.T + b
    s1 = r * (z > 0) / _stab(xp @ up.T + b_up + xn @ down.T)
    s2 = r * (z < 0) / _stab(xp @ down.T + b_down + xn @ up.T)
    return xp * (s1 @ up) + xn * (s1 @ down) + xp * (s2 @ down) + xn * (s2 @ up)


def _flat(model, x, r):
    return (r / _stab(torch.full_like(r, x.shape[1]))) @ torch.ones(r.shape[1], x.shape[1], dtype=D)


def _wsquare(model, x, r):
    w, b, _, _ = _parts(model)
    return (r / _stab((w * w).sum(1) + b * b)) @ (w * w)


def _zbox(model, x, r, low=-2.0, high=2.0):
    w, b, wp, wn = _parts(model)
    lo, hi = torch.full_like(x, low), torch.full_like(x, high)
    s = r / _stab(x @ w.T - lo @ wp.T - hi @ wn.T)  # the bias's parts cancel: b - b+ - b-
    return x * (s @ w) - lo * (s @ wp) - hi * (s @ wn)


@pytest.mark.parametrize(("rule", "formula"), [
    (lrp.Epsilon(EPS), _epsilon), (lrp.ZPlus(EPS), _zplus), (lrp.Alpha1Beta0(stabilizer=EPS), _zplus),
    (lrp.AlphaBeta(2, 1, EPS), _alpha2beta1), (lrp.Gamma(0.25, EPS), _gamma), (lrp.Flat(EPS), _flat),
    (lrp.WSquare(EPS), _wsquare), (lrp.ZBox(-2.0, 2.0, EPS), _zbox),
    (attr.EpsilonRule(EPS), _epsilon),
], ids=lambda v: type(v).__name__ if not callable(v) or hasattr(v, "backward") else v.__name__)
def test_rule_matches_its_formula_on_one_layer(rule, formula) -> None:
    model = _layer()
    expected = formula(model, X, _start(model, X))
    torch.testing.assert_close(_run(model, rule, X), expected, atol=1e-12, rtol=1e-10)


def test_captum_gamma_and_alpha1_beta0_rules_match_their_formulas_on_negative_inputs() -> None:
    model = _layer()
    w, b, wp, _ = _parts(model)
    r = _start(model, X)
    for rule, weight, bias in [(attr.GammaRule(0.5), w + 0.5 * wp, b), (attr.Alpha1_Beta0_Rule(True), wp, 0 * b)]:
        model[0].rule = rule
        expected = X * ((r / _stab(X @ weight.T + bias, 1e-9)) @ weight)
        torch.testing.assert_close(attr.LRP(model).attribute(X, target=2), expected, atol=1e-12, rtol=1e-10)
    del model[0].rule


def test_pass_and_norm_rules() -> None:
    model = nn.Sequential(nn.Tanh(), nn.AvgPool1d(2))
    x = torch.randn(3, 1, 4, dtype=D)
    composite = lrp.LayerMapComposite([(nn.Tanh, lrp.Pass()), (nn.AvgPool1d, lrp.Norm(0.0))])
    got = attr.LRP(model, composite=composite).attribute(x, target=(0, 1))
    a = torch.tanh(x)
    out = model(x)[:, 0, 1]
    expected = torch.zeros_like(x)
    expected[:, 0, 2:] = a[:, 0, 2:] / a[:, 0, 2:].sum(-1, keepdim=True) * out[:, None]
    torch.testing.assert_close(got, expected)


def _relu_cnn(bias: bool = True) -> nn.Sequential:
    torch.manual_seed(4)
    return nn.Sequential(nn.Conv2d(2, 5, 3, padding=1, bias=bias), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(5, 6, 3, bias=bias), nn.ReLU(inplace=True), nn.Flatten(),
                         nn.Linear(6, 7, bias=bias), nn.ReLU(), nn.Linear(7, 3, bias=bias)).double().eval()


def test_lrp_zero_is_gradient_times_input_on_relu_networks() -> None:
    model = _relu_cnn()
    x = torch.randn(4, 2, 6, 6, dtype=D)
    zero = lrp.LayerMapComposite([(lrp.composites.LINEAR, lrp.Epsilon(0.0)), (nn.ReLU, lrp.Pass())])
    expected = attr.InputXGradient(model).attribute(x, target=1)
    torch.testing.assert_close(attr.LRP(model, composite=zero).attribute(x, target=1), expected,
                               atol=1e-10, rtol=1e-8)
    torch.testing.assert_close(attr.LRP(model).attribute(x, target=1), expected, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("composite", [
    lrp.LayerMapComposite([(lrp.composites.LINEAR, lrp.Epsilon(1e-12)), (nn.ReLU, lrp.Pass())]),
    lrp.LayerMapComposite([(lrp.composites.LINEAR, lrp.ZPlus(1e-12)), (nn.ReLU, lrp.Pass())]),
], ids=["epsilon", "zplus"])
def test_conservation_layer_by_layer(composite) -> None:
    model = _relu_cnn(bias=False)
    x = torch.rand(3, 2, 6, 6, dtype=D)  # positive: z+ conserves only where every layer sees positive inputs
    layers = [model[0], model[3], model[6], model[8]]
    per_layer = attr.LayerLRP(model, layers, composite=composite).attribute(x, target=2)
    out = model(x)[:, 2].detach()
    for values in per_layer:
        torch.testing.assert_close(values.flatten(1).sum(1), out, atol=1e-9, rtol=1e-8)
    inputs = attr.LayerLRP(model, layers, composite=composite).attribute(x, target=2, attribute_to_layer_input=True)
    for values in inputs:
        torch.testing.assert_close(values.flatten(1).sum(1), out, atol=1e-9, rtol=1e-8)
