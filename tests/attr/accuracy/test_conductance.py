"""Exact and adaptive LayerConductance / NeuronConductance: conservation to rounding on ReLU
networks, closed forms on networks whose linear pieces are known by hand, Captum's quadrature
approaching the exact value as its steps grow, reported errors that cover the true ones, and
refusals that name the operation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.attr.accuracy._nets import Residual
from veracity.attr import LayerConductance, NeuronConductance
from veracity.data.digits import DigitsCNN

F64 = torch.float64


def _case(name):
    torch.manual_seed(0)
    if name == "digits_cnn":
        model = DigitsCNN()
        return model.double().eval(), model.conv2, torch.rand(1, 1, 8, 8, dtype=F64) * 2
    if name == "digits_cnn_pool":
        model = DigitsCNN()
        return model.double().eval(), model.pool1, torch.rand(1, 1, 8, 8, dtype=F64) * 2
    if name == "mlp":
        model = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
        return model.double(), model[2], torch.randn(4, 5, dtype=F64)
    model = Residual().double()
    return model, model.inp, torch.randn(4, 6, dtype=F64)


def _span(model, x, target, baselines=None):
    base = torch.zeros_like(x) if baselines is None else baselines
    target = torch.as_tensor(target).expand(x.shape[0])
    with torch.no_grad():
        return (model(x) - model(base))[torch.arange(x.shape[0]), target]


@pytest.mark.parametrize("name", ["digits_cnn", "digits_cnn_pool", "mlp", "residual"])
def test_layer_conductance_exact_conserves_to_1e8(name):
    model, layer, x = _case(name)
    attr, delta, report = LayerConductance(model, layer).attribute(
        x, target=1, method="exact", return_convergence_delta=True, return_report=True)
    assert attr.shape[0] == x.shape[0]
    scale = model(x)[:, 1].abs().max().item() + 1.0
    assert delta.abs().max().item() < 1e-8 * scale
    assert (report.evaluations > 1).all() and report.error_bound.abs().max() == 0


def _two_units(first_row=(1.0, 0.0)):
    """relu(W x + b) -> head: unit 1 on for t > 1/4 on the path 0 -> (1, 1), unit 2 on for t < 1/2."""
    lin = nn.Linear(2, 2).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([list(first_row), [0.0, -1.0]]))
        lin.bias.copy_(torch.tensor([-0.25 * sum(first_row), 0.5]))
    head = nn.Linear(2, 1, bias=False).double()
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 2.0]]))
    return nn.Sequential(lin, nn.ReLU(), head)


def test_closed_form_layer_conductance():
    """Unit 1 moves 0 -> 3/4 with gradient 1; unit 2 moves 1/2 -> 0 with gradient 2: (3/4, -1),
    at the ReLU's output and (the same, by the pieces) at its input."""
    model = _two_units()
    x = torch.ones(1, 2, dtype=F64)
    want = torch.tensor([[0.75, -1.0]], dtype=F64)
    for layer in (model[1], model[0]):
        for method in ("exact", "adaptive"):
            attr = LayerConductance(model, layer).attribute(x, target=0, method=method, tolerance=1e-9)
            assert torch.allclose(attr, want, atol=1e-12 if method == "exact" else 1e-8), (layer, method)


def test_closed_form_neuron_conductance():
    """Unit 1 = relu(x1 + x2 - 1/2) is on for t > 1/4 (slope 2), head weight 1: each input
    carries 3/4 through it; unit 2 = relu(1/2 - x2) carries -1 through x2 only."""
    model = _two_units((1.0, 1.0))
    x = torch.ones(1, 2, dtype=F64)
    nc = NeuronConductance(model, model[1])
    assert torch.allclose(nc.attribute(x, 0, target=0, method="exact"), torch.tensor([[0.75, 0.75]], dtype=F64),
                          atol=1e-12)
    assert torch.allclose(nc.attribute(x, 1, target=0, method="exact"), torch.tensor([[0.0, -1.0]], dtype=F64),
                          atol=1e-12)


def test_neuron_conductance_sums_to_layer_conductance():
    model, _, x = _case("mlp")
    layer = LayerConductance(model, model[3]).attribute(x, target=0, method="exact")
    for unit in (0, 7, 31):
        neuron = NeuronConductance(model, model[3]).attribute(x, unit, target=0, method="exact")
        assert torch.allclose(neuron.sum(1), layer[:, unit], atol=1e-12)


def test_captum_quadrature_approaches_exact():
    captum_attr = pytest.importorskip("captum.attr")
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1)).double()
    x = torch.randn(3, 4, dtype=F64) * 3
    exact = LayerConductance(model, model[2]).attribute(x, target=0, method="exact")
    ours_256 = LayerConductance(model, model[2]).attribute(x, target=0, n_steps=256, method="riemann_trapezoid")
    errors = []
    for steps in (256, 1024, 4096):
        theirs = captum_attr.LayerConductance(model, model[2]).attribute(
            x, target=0, n_steps=steps, method="riemann_trapezoid")
        errors.append((theirs - exact).abs().max().item())
        if steps == 256:
            assert torch.allclose(theirs, ours_256, atol=1e-10)   # the quadrature itself is Captum's
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3
    unit = int(exact.abs().sum(0).argmax())
    exact_neuron = NeuronConductance(model, model[2]).attribute(x, unit, target=0, method="exact")
    neuron_errors = [(captum_attr.NeuronConductance(model, model[2]).attribute(
        x, unit, target=0, n_steps=steps, method="riemann_trapezoid") - exact_neuron).abs().max().item()
        for steps in (256, 4096)]
    assert neuron_errors[0] > neuron_errors[1] and neuron_errors[1] < 1e-3


def _softmax_net():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4)).double()
    return nn.Sequential(net, nn.Softmax(1)), net[2]


def test_adaptive_layer_conductance_bound_covers_true_error():
    model, layer = _softmax_net()
    x = torch.randn(12, 6, dtype=F64) * 3
    target = torch.arange(12) % 4
    for tol in (1e-2, 1e-4):
        attr, delta, report = LayerConductance(model, layer).attribute(
            x, target=target, method="adaptive", tolerance=tol, return_convergence_delta=True, return_report=True)
        err = delta.abs() / _span(model, x, target).abs()
        assert (err <= report.error_bound + 1e-12).all()
        assert (report.error_bound <= tol).all()


def test_adaptive_agrees_with_exact_on_relu():
    model, layer, x = _case("mlp")
    lc = LayerConductance(model, layer)
    exact = lc.attribute(x, target=1, method="exact")
    adaptive = lc.attribute(x, target=1, method="adaptive", tolerance=1e-7)
    assert torch.allclose(adaptive, exact, atol=1e-5 * exact.abs().max().item())


def test_adaptive_neuron_conductance_estimate_covers_most_errors():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    x = torch.randn(60, 4, dtype=F64)
    nc = NeuronConductance(model, model[2])
    exact = nc.attribute(x, 3, target=1, method="exact")
    span = _span(model, x, 1).abs()
    attr, report = nc.attribute(x, 3, target=1, method="adaptive", tolerance=1e-3, return_report=True)
    err = (attr.sum(1) - exact.sum(1)).abs() / span
    assert (err <= report.error_bound + 1e-12).double().mean() >= 0.95
    assert (report.error_bound <= 1e-3).all()


def test_exact_batch_and_chunk_invariance():
    model, layer, x = _case("mlp")
    lc = LayerConductance(model, layer)
    whole = lc.attribute(x, target=torch.tensor([0, 1, 0, 1]), method="exact")
    alone = torch.cat([lc.attribute(x[i:i + 1], target=i % 2, method="exact") for i in range(4)])
    small = lc.attribute(x, target=torch.tensor([0, 1, 0, 1]), method="exact", internal_batch_size=3)
    assert torch.allclose(whole, alone, atol=1e-12) and torch.allclose(whole, small, atol=1e-12)


def test_to_layer_input():
    model, _, x = _case("mlp")
    attr, delta = LayerConductance(model, model[3]).attribute(x, target=0, method="exact",
                                                              attribute_to_layer_input=True,
                                                              return_convergence_delta=True)
    assert attr.shape == (4, 32) and delta.abs().max() < 1e-10


@pytest.mark.parametrize("where", ["after", "before"])
def test_refuses_gelu_naming_it(where):
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 16), nn.GELU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2)).double()
    layer = model[2] if where == "before" else model[0]
    x = torch.randn(2, 3, dtype=F64)
    with pytest.raises(ValueError, match="forward_func.*gelu"):
        LayerConductance(model, layer).attribute(x, target=0, method="exact")
    with pytest.raises(ValueError, match="forward_func.*gelu"):
        NeuronConductance(model, layer).attribute(x, 1, target=0, method="exact")
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    assert not torch.overrides._get_current_function_mode_stack()
    # adaptive works on the same model
    _, delta, report = LayerConductance(model, layer).attribute(x, target=0, method="adaptive", tolerance=1e-6,
                                                               return_convergence_delta=True, return_report=True)
    assert (delta.abs() / _span(model, x, 0).abs() <= report.error_bound + 1e-12).all()


def test_quadrature_report_and_bad_method():
    model, layer, x = _case("mlp")
    attr, report = LayerConductance(model, layer).attribute(x, target=0, n_steps=20, return_report=True)
    assert (report.evaluations == 21).all() and report.error_bound.isnan().all()
    with pytest.raises(ValueError, match="method"):
        LayerConductance(model, layer).attribute(x, target=0, method="simpson")
    with pytest.raises(ValueError, match="tolerance"):
        NeuronConductance(model, layer).attribute(x, 0, target=0, method="adaptive", tolerance=2.0)


def test_one_model_call_per_round_not_per_point():
    """The rows of a round go through the model together (the engine's chunks), whatever the
    number of points: the model runs once per round, plus a fixed few calls (layer shapes)."""
    model, layer, x = _case("mlp")
    calls = []
    handle = model.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape[0]))
    try:
        for method in ("exact", "adaptive"):
            calls.clear()
            _, report = LayerConductance(model, layer).attribute(x, target=0, method=method, return_report=True)
            assert report.evaluations.sum() > 10 * report.rounds
            assert len(calls) <= report.rounds + 2, (method, len(calls), report.rounds)
    finally:
        handle.remove()
