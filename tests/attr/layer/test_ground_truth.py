"""Layer and neuron methods against closed forms and independent autograd computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import MLP, SmallCNN
from veracity import attr


def _capture(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(model output, layer output) with the graph kept, by a plain hook."""
    seen = {}
    handle = layer.register_forward_hook(lambda m, i, o: seen.__setitem__("out", o))
    try:
        output = model(x)
    finally:
        handle.remove()
    return output, seen["out"]


def test_conductance_sums_over_neurons_to_the_output_difference() -> None:
    """Completeness through the layer. Conductance (as in Captum) is a left Riemann sum in the
    layer's space, so the gap to F(x) - F(x') shrinks like 1/n_steps as the steps double."""
    torch.manual_seed(1)
    model, x = MLP().eval().double(), torch.randn(4, 6, dtype=torch.float64)
    baseline = 0.2 * torch.ones_like(x)
    difference = (model(x)[:, 2] - model(baseline)[:, 2]).detach()
    gaps = []
    for n_steps in (200, 400):
        cond = attr.LayerConductance(model, model.act).attribute(x, baseline, target=2, n_steps=n_steps,
                                                                 method="riemann_trapezoid")
        gaps.append((cond.sum(1) - difference).abs().max().item())
    assert gaps[1] < 1e-3 and gaps[1] < 0.8 * gaps[0]
    ig = attr.IntegratedGradients(model).attribute(x, baseline, target=2, n_steps=401, method="riemann_trapezoid")
    assert torch.allclose(cond.sum(1), ig.sum(1), atol=1e-3)


def test_layer_ig_on_embedding_equals_ig_on_embedded_inputs() -> None:
    torch.manual_seed(2)
    embedding = nn.Embedding(12, 5)
    body = nn.Sequential(nn.Flatten(), nn.Linear(15, 8), nn.Tanh(), nn.Linear(8, 3))
    model = nn.Sequential(embedding, body).eval()
    ids, reference = torch.tensor([[1, 4, 7], [3, 3, 11]]), torch.zeros(2, 3, dtype=torch.long)
    layer_ig, delta = attr.LayerIntegratedGradients(model, embedding).attribute(
        ids, reference, target=1, n_steps=32, return_convergence_delta=True)
    plain = attr.IntegratedGradients(body).attribute(embedding(ids).detach(), embedding(reference).detach(),
                                                     target=1, n_steps=32)
    assert torch.allclose(layer_ig, plain, atol=1e-6)
    assert delta.abs().max() < 1e-4


def test_layer_ig_and_conductance_do_not_depend_on_the_chunk_size() -> None:
    model, x = SmallCNN().eval(), torch.randn(3, 1, 8, 8)
    for cls in (attr.LayerIntegratedGradients, attr.LayerConductance, attr.InternalInfluence):
        method = cls(model, model.conv2)
        whole = method.attribute(x, target=0, n_steps=10)
        chunked = method.attribute(x, target=0, n_steps=10, internal_batch_size=3)
        assert torch.allclose(whole, chunked, atol=1e-6), cls.__name__


def test_internal_influence_is_the_path_mean_of_layer_gradients() -> None:
    model, x = MLP().eval().double(), torch.randn(3, 6, dtype=torch.float64)
    influence = attr.InternalInfluence(model, model.fc2).attribute(x, target=0, n_steps=7, method="riemann_left")
    expected = torch.zeros(3, 16, dtype=torch.float64)
    for alpha in np.arange(7) / 7:
        output, hidden = _capture(model, model.fc2, alpha * x)
        expected += torch.autograd.grad(output[:, 0].sum(), hidden)[0] / 7
    assert torch.allclose(influence, expected, atol=1e-10)


def test_layer_gradient_x_activation_and_lists_of_layers() -> None:
    model, x = MLP().eval(), torch.randn(3, 6)
    output, hidden = _capture(model, model.fc2, x)
    grad = torch.autograd.grad(output[:, 1].sum(), hidden)[0]
    both = attr.LayerGradientXActivation(model, [model.fc1, model.fc2]).attribute(x, target=1)
    assert isinstance(both, list) and len(both) == 2
    assert torch.allclose(both[1], grad * hidden, atol=1e-6)
    activations = attr.LayerActivation(model, [model.fc1, model.fc2]).attribute(x)
    assert torch.allclose(activations[1], hidden)


def test_layer_deeplift_is_complete_and_matches_gradient_x_difference_on_linear_tail() -> None:
    model, x = SmallCNN().eval(), torch.randn(3, 1, 8, 8)
    layer_attr, delta = attr.LayerDeepLift(model, model.relu2).attribute(x, 0.1, target=2,
                                                                        return_convergence_delta=True)
    assert delta.abs().max() < 1e-4
    # after relu2 the network is linear: multipliers are the weights, times the activation change
    _, at_x = _capture(model, model.relu2, x)
    _, at_b = _capture(model, model.relu2, torch.full_like(x, 0.1))
    weights = model.fc.weight[2].view(6, 4, 4)
    assert torch.allclose(layer_attr, weights * (at_x - at_b).detach(), atol=1e-5)


def test_layer_gradient_shap_with_a_linear_tail_and_one_baseline() -> None:
    """After relu2 the network is linear: every draw gives W * (h(x) - h(b))."""
    model, x = SmallCNN().eval(), torch.randn(3, 1, 8, 8)
    baseline = 0.1 * torch.ones(1, 1, 8, 8)
    got = attr.LayerGradientShap(model, model.relu2).attribute(x, baseline, n_samples=3, target=2,
                                                              generator=torch.Generator().manual_seed(0))
    _, at_x = _capture(model, model.relu2, x)
    _, at_b = _capture(model, model.relu2, baseline)
    assert torch.allclose(got, model.fc.weight[2].view(6, 4, 4) * (at_x - at_b).detach(), atol=1e-5)
    plain = attr.LayerGradientShap(model, model.relu2, multiply_by_inputs=False).attribute(
        x, baseline, n_samples=3, target=2)
    assert torch.allclose(plain, model.fc.weight[2].view(6, 4, 4).expand_as(plain).detach())


def test_neuron_gradient_matches_autograd_of_the_selected_activation() -> None:
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8, requires_grad=True)
    _, hidden = _capture(model, model.conv2, x)
    expected = torch.autograd.grad(hidden[:, 2, 1, 3].sum(), x, retain_graph=True)[0]
    got = attr.NeuronGradient(model, model.conv2).attribute(x.detach(), (2, 1, 3))
    assert torch.allclose(got, expected)
    summed = torch.autograd.grad(hidden[:, 1:3, 0, 0].sum(), x)[0]
    assert torch.allclose(attr.NeuronGradient(model, model.conv2).attribute(x.detach(), (slice(1, 3), 0, 0)),
                          summed)
    by_callable = attr.NeuronGradient(model, model.conv2).attribute(x.detach(), lambda h: h[:, 2, 1, 3])
    assert torch.allclose(by_callable, expected)


@pytest.mark.parametrize("selector", [(2, 1, 1), lambda h: 2 * h[:, 2, 1, 1]], ids=["index", "callable"])
def test_neuron_conductance_is_ig_through_the_neuron(selector: object) -> None:
    """Trapezoid sum of (dF/dn)(dn/dx)(x - x') computed with plain autograd; dF/dn is the
    selector applied to the layer gradient, as Captum defines it."""
    model, x = SmallCNN().eval().double(), torch.randn(2, 1, 8, 8, dtype=torch.float64)
    got = attr.NeuronConductance(model, model.relu1).attribute(x, selector, target=1, n_steps=9)
    total = torch.zeros_like(x)
    weights = np.full(9, 1 / 8)
    weights[[0, -1]] /= 2
    for alpha, weight in zip(np.linspace(0, 1, 9), weights):
        point = (alpha * x).requires_grad_()
        output, hidden = _capture(model, model.relu1, point)
        pick = selector if callable(selector) else (lambda h: h[:, 2, 1, 1])
        to_neuron = pick(torch.autograd.grad(output[:, 1].sum(), hidden, retain_graph=True)[0])
        neuron_to_x = torch.autograd.grad(pick(hidden).sum(), point)[0]
        total += weight * to_neuron.view(-1, 1, 1, 1) * neuron_to_x
    assert torch.allclose(got, total * x, atol=1e-10)


def test_neuron_ig_and_deeplift_are_complete_for_the_neuron() -> None:
    smooth, z = MLP().eval().double(), torch.randn(3, 6, dtype=torch.float64)
    _, at_z = _capture(smooth, smooth.fc2, z)
    _, at_zero = _capture(smooth, smooth.fc2, torch.zeros_like(z))
    ig = attr.NeuronIntegratedGradients(smooth, smooth.fc2).attribute(z, 5, n_steps=64)
    assert torch.allclose(ig.sum(1), (at_z - at_zero)[:, 5].detach(), atol=1e-8)
    model, x = SmallCNN().eval(), torch.randn(3, 1, 8, 8)
    _, at_x = _capture(model, model.conv2, x)
    _, at_0 = _capture(model, model.conv2, torch.zeros_like(x))
    deeplift = attr.NeuronDeepLift(model, model.conv2).attribute(x, (4, 2, 2))
    assert torch.allclose(deeplift.flatten(1).sum(1), (at_x - at_0)[:, 4, 2, 2].detach(), atol=1e-5)


def test_neuron_feature_ablation_of_a_linear_neuron() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).eval()
    x = torch.randn(5, 4)
    got = attr.NeuronFeatureAblation(model, model[0]).attribute(x, 1)
    assert torch.allclose(got, model[0].weight[1] * x, atol=1e-6)


def test_layer_feature_ablation_closed_form() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).eval()
    x = torch.randn(5, 4)
    hidden = torch.tanh(model[0](x))
    got = attr.LayerFeatureAblation(model, model[1]).attribute(x, target=0)
    assert torch.allclose(got, model[2].weight[0] * hidden, atol=1e-6)


@pytest.mark.parametrize("to_input", [False, True])
def test_attribute_to_layer_input(to_input: bool) -> None:
    model, x = MLP().eval(), torch.randn(3, 6)
    got = attr.LayerActivation(model, model.fc2).attribute(x, attribute_to_layer_input=to_input)
    expected = torch.tanh(model.fc1(x)) if to_input else model.fc2(torch.tanh(model.fc1(x)))
    assert torch.allclose(got, expected)
