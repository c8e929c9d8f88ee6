"""Layers whose output or input is a tuple of tensors, for every Layer*/Neuron* method and
LayerGradCam (a neuron selector callable picks one value per example from the tuple):
closed forms and parity with Captum 0.9."""

from __future__ import annotations

import pytest
import torch

from veracity import attr

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


class Split(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[:, :2] * 2, x[:, 2:] + 1


class Join(torch.nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cat([a, b], 1)


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.l1, self.split, self.join, self.l2 = torch.nn.Linear(3, 4), Split(), Join(), torch.nn.Linear(4, 2)
        self.act = torch.nn.Tanh()  # a module: Captum's DeepLift rescales modules only

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.split(self.act(self.l1(x)))
        return self.l2(self.join(a, b))


class Halves(torch.nn.Module):
    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return h[:, :1], 2 * h[:, 1:]


class ConvNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.pair, self.fc = torch.nn.Conv2d(1, 2, 3, padding=1), Halves(), torch.nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.pair(torch.relu(self.conv(x)))
        return self.fc(torch.cat([a, b], 1).flatten(1))


def _conv() -> ConvNet:
    return ConvNet().eval()


def _pick(values: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return values[0][:, 0] + values[1][:, 1]


LAYER = ["LayerActivation", "LayerGradientXActivation", "LayerIntegratedGradients", "LayerConductance",
         "InternalInfluence", "LayerDeepLift", "LayerFeatureAblation"]
NEURON = ["NeuronGradient", "NeuronIntegratedGradients", "NeuronConductance", "NeuronDeepLift",
          "NeuronGuidedBackprop", "NeuronDeconvolution", "NeuronFeatureAblation"]


def test_closed_forms() -> None:
    net, x = Net().eval(), torch.randn(3, 3)
    h = torch.tanh(net.l1(x)).detach()
    a, b = attr.LayerActivation(net, net.split).attribute(x)
    assert torch.allclose(a, 2 * h[:, :2]) and torch.allclose(b, h[:, 2:] + 1)
    ga, gb = attr.LayerGradientXActivation(net, net.join).attribute(x, target=1, attribute_to_layer_input=True)
    w = net.l2.weight[1].detach()  # the join's inputs feed l2 linearly: gradient = W[1]
    assert torch.allclose(ga, w[:2] * 2 * h[:, :2], atol=1e-6) and torch.allclose(gb, w[2:] * (h[:, 2:] + 1), atol=1e-6)
    # the neuron a[:, 0] + b[:, 1] = 2 h0 + h3 + 1: its gradient w.r.t. x is 2 dh0/dx + dh3/dx
    got = attr.NeuronGradient(net, net.split).attribute(x, _pick)
    jac = net.l1.weight.detach() * (1 - h ** 2).unsqueeze(2)  # (batch, 4, 3): dh/dx
    assert torch.allclose(got, 2 * jac[:, 0] + jac[:, 3], atol=1e-6)
    # conductance through the tuple neuron: the layer feeds l2 linearly, so the selected output
    # gradient is the constant W[1, 0] + W[1, 3] and the sum over inputs is that times the change
    # of the neuron 2 h0 + h3 + 1 from the zero baseline to x
    nc = attr.NeuronConductance(net, net.split).attribute(x, _pick, target=1, n_steps=100, method="gausslegendre")
    h0 = torch.tanh(net.l1.bias).detach()
    neuron_change = (2 * h[:, 0] + h[:, 3]) - (2 * h0[0] + h0[3])
    assert torch.allclose(nc.sum(1), (w[0] + w[3]) * neuron_change, atol=1e-5)


@pytest.mark.parametrize("name", LAYER)
@pytest.mark.parametrize("to_input", [False, True])
def test_layer_methods_match_captum(name: str, to_input: bool) -> None:
    ca = pytest.importorskip("captum.attr")
    net, x = Net().eval(), torch.randn(3, 3)
    layer = net.join if to_input else net.split
    kwargs = {} if name == "LayerActivation" else {"target": 0}
    ours = getattr(attr, name)(net, layer).attribute(x, attribute_to_layer_input=to_input, **kwargs)
    theirs = getattr(ca, name)(net, layer).attribute(x, attribute_to_layer_input=to_input, **kwargs)
    assert isinstance(ours, tuple) and len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("name", NEURON)
@pytest.mark.parametrize("to_input", [False, True])
def test_neuron_methods_with_a_tuple_selector_match_captum(name: str, to_input: bool) -> None:
    ca = pytest.importorskip("captum.attr")
    net, x = Net().eval(), torch.randn(3, 3)
    layer = net.join if to_input else net.split
    kwargs: dict = {"attribute_to_neuron_input": to_input}
    if name == "NeuronConductance":
        kwargs.update(target=1, method="gausslegendre")
    ours = getattr(attr, name)(net, layer).attribute(x, _pick, **kwargs)
    theirs = getattr(ca, name)(net, layer).attribute(x, _pick, **kwargs)
    assert ours.shape == theirs.shape and torch.allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("name", ["LayerGradientShap", "LayerDeepLiftShap", "NeuronGradientShap",
                                  "NeuronDeepLiftShap"])
def test_shap_variants_take_tuple_layers(name: str) -> None:
    net, x = Net().eval(), torch.randn(3, 3)
    method = getattr(attr, name)(net, net.split)
    got = (method.attribute(x, _pick, torch.zeros(2, 3)) if name.startswith("Neuron")
           else method.attribute(x, torch.zeros(2, 3), target=0))
    assert (got.shape == (3, 3)) if name.startswith("Neuron") else [t.shape for t in got] == [(3, 2), (3, 2)]


def test_layer_grad_cam_gives_a_map_per_tensor_as_captum() -> None:
    ca = pytest.importorskip("captum.attr")
    net, x = _conv(), torch.randn(2, 1, 4, 4)
    ours = attr.LayerGradCam(net, net.pair).attribute(x, target=0)
    theirs = ca.LayerGradCam(net, net.pair).attribute(x, target=0)
    assert isinstance(ours, tuple) and len(ours) == 2
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape == (2, 1, 4, 4) and torch.allclose(a, b, atol=1e-6)
