"""Methods run on a derived Call (attribute_call) give what their public attribute() gives.

NoiseTunnel, the layer/neuron adapters and the CAMs hand a normalised Call to the method they
wrap; nothing is turned back into the user's form. With zero noise every noisy copy is the
input itself, so SmoothGrad must reproduce the wrapped method exactly, for every family, with
per-example targets and extra arguments tiled along with the copies.
"""

from __future__ import annotations

import pytest
import torch

from veracity import attr, registry
from veracity._core.call import Call
from veracity.attr._base import Attribution


class TwoInputNet(torch.nn.Module):
    """A CNN with an extra per-example argument (a scale), so tiling mistakes show."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 3, 3, padding=1)
        self.relu = torch.nn.ReLU()
        self.fc = torch.nn.Linear(3 * 6 * 6, 4)

    def forward(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return self.fc(self.relu(self.conv(x)).flatten(1)) * scale.view(-1, 1)


def _model_and_inputs() -> tuple[TwoInputNet, torch.Tensor, torch.Tensor, torch.Tensor]:
    model = TwoInputNet().double().eval()
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    scale = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    return model, x, scale, torch.tensor([0, 2, 3])


CASES = {
    "Saliency": (lambda m: attr.Saliency(m), {"target": True}),
    "IntegratedGradients": (lambda m: attr.IntegratedGradients(m), {"target": True, "n_steps": 8}),
    "DeepLift": (lambda m: attr.DeepLift(m), {"target": True}),
    "FeatureAblation": (lambda m: attr.FeatureAblation(m), {"target": True}),
    "LayerGradCam": (lambda m: attr.LayerGradCam(m, m.conv), {"target": True}),
    "LayerIntegratedGradients": (lambda m: attr.LayerIntegratedGradients(m, m.conv), {"target": True, "n_steps": 8}),
    "LayerConductance": (lambda m: attr.LayerConductance(m, m.conv), {"target": True, "n_steps": 8}),
    "NeuronGradient": (lambda m: attr.NeuronGradient(m, m.conv), {"neuron_selector": (1, 2, 2)}),
    "NeuronConductance": (lambda m: attr.NeuronConductance(m, m.conv),
                          {"neuron_selector": (1, 2, 2), "target": True, "n_steps": 8}),
    "NeuronFeatureAblation": (lambda m: attr.NeuronFeatureAblation(m, m.conv), {"neuron_selector": (0, 1, 1)}),
    "LayerActivation": (lambda m: attr.LayerActivation(m, m.conv), {}),
    "LayerEigenCam": (lambda m: attr.LayerEigenCam(m, m.relu), {}),
    "LayerScoreCam": (lambda m: attr.LayerScoreCam(m, m.relu), {"target": True}),
    "LayerAblationCam": (lambda m: attr.LayerAblationCam(m, m.relu), {"target": True, "relu_attributions": False}),
    "GuidedGradCam": (lambda m: attr.GuidedGradCam(m, m.conv), {"target": True}),
    "SplitIntegratedGradients": (lambda m: attr.SplitIntegratedGradients(m), {"target": True, "n_steps": 16}),
    "Occlusion": (lambda m: attr.Occlusion(m), {"target": True, "sliding_window_shapes": (1, 2, 2)}),
}


def _kwargs(spec: dict, target: torch.Tensor) -> dict:
    return {k: (target if k == "target" else v) for k, v in spec.items()}


def _plain(name: str) -> tuple:
    """The method's factory, its keyword arguments, the model, inputs, extra argument and the
    result of the public ``attribute``."""
    model, x, scale, target = _model_and_inputs()
    make, spec = CASES[name]
    kwargs = _kwargs(spec, target)
    return make, kwargs, model, x, scale, make(model).attribute(x, additional_forward_args=(scale,), **kwargs)


@pytest.mark.parametrize("name", CASES)
def test_noise_free_smoothgrad_is_the_method_itself(name: str) -> None:
    make, kwargs, model, x, scale, plain = _plain(name)
    tunnel = attr.NoiseTunnel(make(model)).attribute(x, nt_samples=3, stdevs=0.0, nt_samples_batch_size=2,
                                                     additional_forward_args=(scale,), **kwargs)
    assert torch.allclose(tunnel, plain, atol=1e-10)
    assert plain.abs().sum() > 0  # the comparison is not between zeros


@pytest.mark.parametrize("name", CASES)
def test_attribute_call_equals_attribute(name: str) -> None:
    make, kwargs, model, x, scale, plain = _plain(name)
    call = Call.of(model, x, kwargs.pop("target", None), (scale,))
    assert torch.allclose(make(model).attribute_call(call, **kwargs), plain, atol=1e-12)


def _defined_by(cls: type, name: str) -> type:
    return next(klass for klass in cls.__mro__ if name in vars(klass))


def test_every_registered_method_takes_a_call() -> None:
    # attribute_call must come from the class that defines attribute: an inherited one takes
    # the parent's arguments (Occlusion is a FeatureAblation with other arguments)
    wrong = [m.name for m in registry.methods()
             if _defined_by(m.cls, "attribute_call") is not _defined_by(m.cls, "attribute")
             or m.cls.attribute_call is Attribution.attribute_call]
    assert not wrong, f"methods whose attribute_call does not match their attribute: {wrong}"
