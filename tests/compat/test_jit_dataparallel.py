"""TorchScript and nn.DataParallel models: every method Captum 0.9 runs on them (its
tests/attr/test_jit.py list) gives the eager model's attributions and Captum's; methods whose
rules intercept activation calls refuse TorchScript by name (Captum silently returns plain
gradients on a traced model)."""

from __future__ import annotations

import pytest
import torch

from veracity import attr

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def _net() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).eval()


X = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
DETERMINISTIC = {
    "IntegratedGradients": lambda lib, m: lib.IntegratedGradients(m).attribute(X, target=0),
    "Saliency": lambda lib, m: lib.Saliency(m).attribute(X, target=0),
    "InputXGradient": lambda lib, m: lib.InputXGradient(m).attribute(X, target=0),
    "FeatureAblation": lambda lib, m: lib.FeatureAblation(m).attribute(X, target=0),
    "Occlusion": lambda lib, m: lib.Occlusion(m).attribute(X, sliding_window_shapes=(2,), target=0),
}
SEEDED = {  # veracity's draws from a generator: the same on the compiled and the eager model
    "GradientShap": lambda m, g: attr.GradientShap(m).attribute(X, torch.zeros(2, 3), target=0, n_samples=3,
                                                                 generator=g),
    "FeaturePermutation": lambda m, g: attr.FeaturePermutation(m).attribute(X, target=0, generator=g),
    "ShapleyValueSampling": lambda m, g: attr.ShapleyValueSampling(m).attribute(X, target=0, n_samples=3,
                                                                                 generator=g),
    "Lime": lambda m, g: attr.Lime(m).attribute(X, target=0, n_samples=20, generator=g),
    "KernelShap": lambda m, g: attr.KernelShap(m).attribute(X, target=0, n_samples=20, generator=g),
}


def _compiled(kind: str, net: torch.nn.Module) -> torch.nn.Module:
    return {"script": lambda: torch.jit.script(net), "trace": lambda: torch.jit.trace(net, X),
            "data_parallel": lambda: torch.nn.DataParallel(net)}[kind]()


@pytest.mark.parametrize("kind", ["script", "trace", "data_parallel"])
@pytest.mark.parametrize("name", sorted(DETERMINISTIC))
def test_deterministic_methods_equal_eager_and_captum(kind: str, name: str) -> None:
    net = _net()
    model = _compiled(kind, net)
    ours = DETERMINISTIC[name](attr, model)
    assert torch.allclose(ours, DETERMINISTIC[name](attr, net), atol=1e-6)
    ca = pytest.importorskip("captum.attr")
    assert torch.allclose(ours, DETERMINISTIC[name](ca, model), atol=1e-5)


@pytest.mark.parametrize("kind", ["script", "trace", "data_parallel"])
@pytest.mark.parametrize("name", sorted(SEEDED))
def test_seeded_methods_equal_eager(kind: str, name: str) -> None:
    net = _net()
    compiled = SEEDED[name](_compiled(kind, net), torch.Generator().manual_seed(0))
    eager = SEEDED[name](net, torch.Generator().manual_seed(0))
    assert torch.allclose(compiled, eager, atol=1e-5)


@pytest.mark.parametrize("name", ["DeepLift", "GuidedBackprop", "Deconvolution", "LayerDeepLift",
                                  "NeuronGuidedBackprop", "NeuronDeepLift", "GuidedGradCam"])
@pytest.mark.parametrize("kind", ["script", "trace"])
def test_rule_methods_refuse_torchscript(name: str, kind: str) -> None:
    net = _net()
    model = _compiled(kind, net)
    cls = getattr(attr, name)
    with pytest.raises(TypeError, match="`forward_func`.*TorchScript"):
        cls(model, net[0]) if name.startswith(("Layer", "Neuron", "Guided")) and name != "GuidedBackprop" \
            else cls(model)


def test_captum_deeplift_on_a_traced_model_is_plain_gradients() -> None:
    """Why refusing is right: Captum's DeepLift on the traced net differs from its eager result."""
    ca = pytest.importorskip("captum.attr")
    net = _net()
    eager = ca.DeepLift(net).attribute(X, target=0)
    traced = ca.DeepLift(torch.jit.trace(net, X)).attribute(X, target=0)
    assert (eager - traced).abs().max() > 1e-3
    assert torch.allclose(attr.DeepLift(net).attribute(X, target=0), eager, atol=1e-6)


LAYER = {
    "LayerActivation": lambda lib, m, layer: lib.LayerActivation(m, layer).attribute(X),
    "LayerIntegratedGradients": lambda lib, m, layer: lib.LayerIntegratedGradients(m, layer).attribute(X, target=0),
    "LayerConductance": lambda lib, m, layer: lib.LayerConductance(m, layer).attribute(X, target=0),
    "LayerGradCam": lambda lib, m, layer: lib.LayerGradCam(m, layer).attribute(X, target=0),
    "LayerDeepLift": lambda lib, m, layer: lib.LayerDeepLift(m, layer).attribute(X, target=0),
    "NeuronGradient": lambda lib, m, layer: lib.NeuronGradient(m, layer).attribute(X, 1),
    "NeuronIntegratedGradients": lambda lib, m, layer: lib.NeuronIntegratedGradients(m, layer).attribute(X, 1),
    "DeepLift": lambda lib, m, layer: lib.DeepLift(m).attribute(X, target=0),
    "GuidedBackprop": lambda lib, m, layer: lib.GuidedBackprop(m).attribute(X, target=0),
}


@pytest.mark.parametrize("name", sorted(LAYER))
def test_data_parallel_hook_methods_equal_eager_and_captum(name: str) -> None:
    net = _net()
    parallel = torch.nn.DataParallel(net)
    ours = LAYER[name](attr, parallel, net[0])
    assert torch.allclose(ours, LAYER[name](attr, net, net[0]), atol=1e-6)
    ca = pytest.importorskip("captum.attr")
    assert torch.allclose(ours, LAYER[name](ca, parallel, net[0]), atol=1e-5)
