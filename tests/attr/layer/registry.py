"""Every layer, neuron and CAM class with deterministic arguments, on ``tests.conftest.SmallCNN``.

``call(method, x)`` runs one attribution; the generic tests (batch == per example, hooks
removed, model untouched) iterate over this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from veracity import attr


@dataclass
class Case:
    name: str
    make: Callable[[Any], Any]  # model -> method
    call: Callable[[Any, torch.Tensor], Any]
    per_example: bool = True  # permutation mixes the batch: no per-example equality


def _background(x: torch.Tensor) -> torch.Tensor:
    return torch.linspace(-0.5, 0.5, 3 * x[0].numel()).reshape(3, *x.shape[1:])


def _seeded() -> torch.Generator:
    return torch.Generator().manual_seed(3)


NEURON = (2, 1, 1)

CASES = [
    Case("LayerActivation", lambda m: attr.LayerActivation(m, m.conv2), lambda a, x: a.attribute(x)),
    Case("LayerGradientXActivation", lambda m: attr.LayerGradientXActivation(m, m.conv2),
         lambda a, x: a.attribute(x, target=1)),
    Case("LayerIntegratedGradients", lambda m: attr.LayerIntegratedGradients(m, m.conv2),
         lambda a, x: a.attribute(x, target=1, n_steps=8)),
    Case("LayerConductance", lambda m: attr.LayerConductance(m, m.conv2),
         lambda a, x: a.attribute(x, target=1, n_steps=8)),
    Case("InternalInfluence", lambda m: attr.InternalInfluence(m, m.conv2),
         lambda a, x: a.attribute(x, target=1, n_steps=8)),
    Case("LayerDeepLift", lambda m: attr.LayerDeepLift(m, m.conv2), lambda a, x: a.attribute(x, 0.1, target=1)),
    Case("LayerDeepLiftShap", lambda m: attr.LayerDeepLiftShap(m, m.conv2),
         lambda a, x: a.attribute(x, _background(x), target=1)),
    Case("LayerGradientShap", lambda m: attr.LayerGradientShap(m, m.conv2),
         lambda a, x: a.attribute(x, _background(x), n_samples=4, target=1, generator=_seeded()),
         per_example=False),
    Case("LayerFeatureAblation", lambda m: attr.LayerFeatureAblation(m, m.relu1),
         lambda a, x: a.attribute(x, target=1, layer_mask=torch.arange(4).view(1, 4, 1, 1))),
    Case("LayerFeaturePermutation", lambda m: attr.LayerFeaturePermutation(m, m.relu1),
         lambda a, x: a.attribute(x, target=1, layer_mask=torch.arange(4).view(1, 4, 1, 1),
                                  generator=_seeded()), per_example=False),
    Case("LayerGradCam", lambda m: attr.LayerGradCam(m, m.conv2), lambda a, x: a.attribute(x, target=1)),
    Case("LayerGradCamPlusPlus", lambda m: attr.LayerGradCamPlusPlus(m, m.conv2),
         lambda a, x: a.attribute(x, target=1)),
    Case("LayerXGradCam", lambda m: attr.LayerXGradCam(m, m.conv2), lambda a, x: a.attribute(x, target=1)),
    Case("LayerHiResCam", lambda m: attr.LayerHiResCam(m, m.conv2), lambda a, x: a.attribute(x, target=1)),
    Case("LayerCam", lambda m: attr.LayerCam(m, m.conv2), lambda a, x: a.attribute(x, target=1)),
    Case("LayerEigenCam", lambda m: attr.LayerEigenCam(m, m.conv2), lambda a, x: a.attribute(x)),
    Case("LayerScoreCam", lambda m: attr.LayerScoreCam(m, m.relu1),
         lambda a, x: a.attribute(x, target=1, upsample_to_input=True)),
    Case("LayerAblationCam", lambda m: attr.LayerAblationCam(m, m.relu1), lambda a, x: a.attribute(x, target=1)),
    Case("GuidedGradCam", lambda m: attr.GuidedGradCam(m, m.conv2), lambda a, x: a.attribute(x, target=1)),
    Case("NeuronGradient", lambda m: attr.NeuronGradient(m, m.conv2), lambda a, x: a.attribute(x, NEURON)),
    Case("NeuronIntegratedGradients", lambda m: attr.NeuronIntegratedGradients(m, m.conv2),
         lambda a, x: a.attribute(x, NEURON, n_steps=8)),
    Case("NeuronConductance", lambda m: attr.NeuronConductance(m, m.conv2),
         lambda a, x: a.attribute(x, NEURON, target=1, n_steps=8)),
    Case("NeuronGradientShap", lambda m: attr.NeuronGradientShap(m, m.conv2),
         lambda a, x: a.attribute(x, NEURON, _background(x), n_samples=4, generator=_seeded()),
         per_example=False),
    Case("NeuronDeepLift", lambda m: attr.NeuronDeepLift(m, m.conv2), lambda a, x: a.attribute(x, NEURON, 0.1)),
    Case("NeuronDeepLiftShap", lambda m: attr.NeuronDeepLiftShap(m, m.conv2),
         lambda a, x: a.attribute(x, NEURON, _background(x))),
    Case("NeuronGuidedBackprop", lambda m: attr.NeuronGuidedBackprop(m, m.conv2),
         lambda a, x: a.attribute(x, NEURON)),
    Case("NeuronDeconvolution", lambda m: attr.NeuronDeconvolution(m, m.conv2),
         lambda a, x: a.attribute(x, NEURON)),
    Case("NeuronFeatureAblation", lambda m: attr.NeuronFeatureAblation(m, m.conv2),
         lambda a, x: a.attribute(x, NEURON)),
]
