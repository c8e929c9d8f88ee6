"""Exact IG for piecewise-linear networks: completeness to rounding, closed forms on networks
whose linear pieces can be enumerated by hand, quadrature converging to it, clear refusals."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from tests.attr.accuracy._nets import Residual
from veracity.attr import IntegratedGradients
from veracity.data.digits import DigitsCNN

torch.set_default_dtype(torch.float32)


def _completeness(model, x, target, baselines=None):
    attr, delta, report = IntegratedGradients(model).attribute(
        x, baselines=baselines, target=target, method="exact", return_convergence_delta=True, return_report=True)
    return attr, delta, report


def _cnn_bn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 4, 3, padding=1), nn.ReLU6(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(16, 3))


@pytest.mark.parametrize("name", ["digits_cnn", "cnn_bn_avgpool", "mlp", "residual"])
def test_completeness_to_1e8_in_float64(name):
    torch.manual_seed(0)
    if name == "digits_cnn":
        model, x = DigitsCNN(), torch.rand(2, 1, 8, 8) * 2
    elif name == "cnn_bn_avgpool":
        model, x = _cnn_bn(), torch.randn(3, 1, 8, 8)
        with torch.no_grad():
            model[1].running_mean.uniform_(-0.5, 0.5)
            model[1].running_var.uniform_(0.5, 2.0)
    elif name == "mlp":
        model, x = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2)), \
            torch.randn(4, 5)
    else:
        model, x = Residual(), torch.randn(4, 6)
    model = model.double().eval()
    x = x.double()
    attr, delta, report = _completeness(model, x, target=1, baselines=torch.randn_like(x) * 0.1)
    scale = model(x)[:, 1].abs().max().item() + 1.0
    assert delta.abs().max().item() < 1e-8 * scale
    assert (report.evaluations > 1).all()          # the path really has several pieces
    assert report.error_bound.abs().max() == 0


def test_closed_form_relu_pieces():
    """relu(x1 - 0.25) + 2 relu(0.5 - x2) from 0 to (1, 1): x1's unit is on for t > 1/4 (slope
    1), x2's for t < 1/2 (slope -2): attributions 3/4 and -1."""
    lin = nn.Linear(2, 2).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
        lin.bias.copy_(torch.tensor([-0.25, 0.5]))
    head = nn.Linear(2, 1, bias=False).double()
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 2.0]]))
    model = nn.Sequential(lin, nn.ReLU(), head)
    attr = IntegratedGradients(model).attribute(torch.ones(1, 2, dtype=torch.float64), target=0, method="exact")
    assert torch.allclose(attr, torch.tensor([[0.75, -1.0]], dtype=torch.float64), atol=1e-12)


def test_closed_form_max_pool_switch():
    """max(x1, x2) from (2, 0) to (1, 3): x1 = 2 - t leads until t = 1/2, then x2 = 3t:
    gradient (1, 0) then (0, 1), attributions (1/2 * -1, 1/2 * 3)."""
    model = nn.Sequential(nn.MaxPool1d(2), nn.Flatten())
    x = torch.tensor([[[1.0, 3.0]]], dtype=torch.float64)
    attr = IntegratedGradients(model).attribute(x, baselines=torch.tensor([[[2.0, 0.0]]], dtype=torch.float64),
                                                target=0, method="exact")
    assert torch.allclose(attr, torch.tensor([[[-0.5, 1.5]]], dtype=torch.float64), atol=1e-12)


def test_quadrature_approaches_exact():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)).double()
    x = torch.randn(3, 4, dtype=torch.float64) * 3
    ig = IntegratedGradients(model)
    exact = ig.attribute(x, target=0, method="exact")
    errors = [(ig.attribute(x, target=0, n_steps=n, method="riemann_middle") - exact).abs().sum().item()
              for n in (64, 1024, 4096)]
    assert errors[0] > errors[1] > errors[2]


def test_batch_and_chunk_invariance():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2)).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    ig = IntegratedGradients(model)
    whole = ig.attribute(x, target=torch.tensor([0, 1, 0, 1]), method="exact")
    alone = torch.cat([ig.attribute(x[i:i + 1], target=i % 2, method="exact") for i in range(4)])
    small = ig.attribute(x, target=torch.tensor([0, 1, 0, 1]), method="exact", internal_batch_size=3)
    assert torch.allclose(whole, alone, atol=1e-12) and torch.allclose(whole, small, atol=1e-12)


@pytest.mark.parametrize("model, name", [
    (nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2)).eval(), "gelu"),
    (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Softmax(1)).eval(), "softmax"),
    (nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).train(), "batch_norm"),
])
def test_refuses_what_is_not_piecewise_linear(model, name):
    with pytest.raises(ValueError, match=f"forward_func.*{name}"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # the training-mode warning
            IntegratedGradients(model).attribute(torch.randn(2, 3), target=0, method="exact")


def test_refuses_a_product_of_path_dependent_values():
    class Square(nn.Module):
        def forward(self, x):
            return (x * x).sum(1, keepdim=True)

    with pytest.raises(ValueError, match="multiplies two path-dependent"):
        IntegratedGradients(Square()).attribute(torch.randn(2, 3), target=0, method="exact")


def test_model_and_inputs_untouched():
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1)).double()
    before = [p.clone() for p in model.parameters()]
    x = torch.randn(2, 3, dtype=torch.float64)
    x0 = x.clone()
    IntegratedGradients(model).attribute(x, target=0, method="exact")
    assert torch.equal(x, x0) and all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert not torch.overrides._get_current_function_mode_stack()


def test_layer_integrated_gradients_exact_and_adaptive():
    """On the path in the layer's space: completeness against the model's output difference."""
    from veracity.attr import LayerIntegratedGradients

    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2)).double()
    x = torch.randn(3, 4, dtype=torch.float64)
    lig = LayerIntegratedGradients(model, model[1])
    _, delta, report = lig.attribute(x, target=1, method="exact", return_convergence_delta=True, return_report=True)
    assert delta.abs().max() < 1e-10 and (report.evaluations >= 1).all()
    _, delta, report = lig.attribute(x, target=1, method="adaptive", tolerance=1e-6, return_convergence_delta=True,
                                     return_report=True)
    span = (model(x) - model(torch.zeros_like(x)))[:, 1].abs()
    assert (delta.abs() / span <= report.error_bound + 1e-12).all()


@pytest.mark.parametrize("pool", [nn.MaxPool2d(2), nn.MaxPool2d(3, 2, padding=1), nn.MaxPool2d(3, 2),
                                  nn.MaxPool2d(2, 1), nn.MaxPool2d(2, dilation=2)])
def test_max_pool_windows_tiled_overlapping_padded_dilated(pool):
    """Windows that tile the input (odd size: the last row and column are dropped), overlap,
    are padded or dilated: completeness to rounding either way."""
    torch.manual_seed(5)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), pool, nn.Flatten()).double()
    x = torch.randn(2, 1, 9, 9, dtype=torch.float64)
    head = nn.Linear(model(x).shape[1], 2).double()
    model = nn.Sequential(model, head)
    _, delta, report = _completeness(model, x, target=1)
    assert delta.abs().max().item() < 1e-10 and (report.evaluations > 8).all()


def test_own_affine_tangents_equal_torch_forward_mode(monkeypatch):
    """Convolutions and linear layers carry the tangent with one bias-free call of their own
    (cheaper than torch's forward-mode rule): the same pieces and attributions as torch's rule,
    also for weights and biases passed by keyword and for circular padding."""
    import torch.nn.functional as F

    from veracity._core import piecewise

    class Keywords(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w, self.b = nn.Parameter(torch.randn(5, 4)), nn.Parameter(torch.randn(5))
            self.conv = nn.Conv1d(1, 2, 3, padding=1, padding_mode="circular")

        def forward(self, x):
            h = torch.relu(F.linear(x, weight=self.w, bias=self.b)) + F.linear(x, self.w)
            return self.conv(h.unsqueeze(1)).flatten(1)

    torch.manual_seed(6)
    for model, x in ((Keywords().double(), torch.randn(3, 4, dtype=torch.float64)),
                     (DigitsCNN().double().eval(), torch.rand(1, 1, 8, 8, dtype=torch.float64))):
        results = []
        for fast in (True, False):
            monkeypatch.setattr(piecewise, "FAST_TANGENTS", fast)
            results.append(IntegratedGradients(model).attribute(x, target=1, method="exact", return_report=True))
        assert torch.equal(results[0][0], results[1][0])
        assert torch.equal(results[0][1].evaluations, results[1][1].evaluations)
