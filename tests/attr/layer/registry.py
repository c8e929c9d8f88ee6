"""Test fixtures for every method of :mod:`veracity.registry` that takes a layer (layer, neuron
and CAM families), on ``tests.conftest.SmallCNN``.

The claims (batch invariance, completeness, chunk argument, baseline kind) come from the
library registry; here only how to build and call each method deterministically. A method
without an entry in ``FIXTURES`` gets the default: ``cls(model, model.conv2)`` called as
``attribute(x, target=1)`` (layer scope) or ``attribute(x, NEURON)`` (neuron scope).
``baselines(x)`` gives the baselines of a completeness check (None: the method's default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from veracity import registry
from veracity.registry import MethodEntry


@dataclass
class Case:
    """The registry entry ``name`` built by ``make(model)`` and run by ``call(method, x, **extra)``."""

    name: str
    make: Callable[[Any], Any] | None = None  # model -> method; None: cls(model, model.conv2)
    call: Callable[..., Any] | None = None  # (method, x, **extra) -> attributions
    baselines: Callable[[torch.Tensor], Any] | None = None  # passed as `baselines=` where given

    def __post_init__(self) -> None:
        self.claims: MethodEntry = registry.get(self.name)
        if self.make is None:
            self.make = lambda m: self.claims.cls(m, m.conv2)
        if self.call is None:
            if self.claims.scope == "neuron":
                self.call = lambda a, x, **kw: a.attribute(x, NEURON, **kw)
            else:
                self.call = lambda a, x, **kw: a.attribute(x, target=1, **kw)

    @property
    def per_example(self) -> bool:
        """Batch == each example alone (a permutation or a noise draw mixes the batch)."""
        return self.claims.batch_invariant


def _background(x: torch.Tensor) -> torch.Tensor:
    return torch.linspace(-0.5, 0.5, 3 * x[0].numel()).reshape(3, *x.shape[1:])


def _seeded() -> torch.Generator:
    return torch.Generator().manual_seed(3)


def _tenth(x: torch.Tensor) -> torch.Tensor:
    return torch.full_like(x, 0.1)


def _channels(x: torch.Tensor) -> torch.Tensor:
    return torch.arange(4).view(1, 4, 1, 1)


NEURON = (2, 1, 1)

FIXTURES = [
    Case("LayerActivation", call=lambda a, x, **kw: a.attribute(x, **kw)),
    Case("LayerIntegratedGradients", call=lambda a, x, **kw: a.attribute(x, target=1, **{"n_steps": 8, **kw}),
         baselines=_tenth),
    Case("LayerConductance", call=lambda a, x, **kw: a.attribute(x, target=1, **{"n_steps": 8, **kw}),
         baselines=_tenth),
    Case("InternalInfluence", call=lambda a, x, **kw: a.attribute(x, target=1, **{"n_steps": 8, **kw})),
    Case("LayerDeepLift", call=lambda a, x, **kw: a.attribute(x, **{"baselines": 0.1, **kw}, target=1),
         baselines=_tenth),
    Case("LayerDeepLiftShap", baselines=_background,
         call=lambda a, x, **kw: a.attribute(x, **{"baselines": _background(x), **kw}, target=1)),
    Case("LayerGradientShap", call=lambda a, x, **kw: a.attribute(
        x, _background(x), n_samples=4, target=1, generator=_seeded(), **kw)),
    Case("LayerFeatureAblation", lambda m: registry.get("LayerFeatureAblation").cls(m, m.relu1),
         lambda a, x, **kw: a.attribute(x, target=1, layer_mask=_channels(x), **kw)),
    Case("LayerFeaturePermutation", lambda m: registry.get("LayerFeaturePermutation").cls(m, m.relu1),
         lambda a, x, **kw: a.attribute(x, target=1, layer_mask=_channels(x), generator=_seeded(), **kw)),
    Case("LayerEigenCam", call=lambda a, x, **kw: a.attribute(x, **kw)),
    Case("LayerScoreCam", lambda m: registry.get("LayerScoreCam").cls(m, m.relu1),
         lambda a, x, **kw: a.attribute(x, target=1, upsample_to_input=True, **kw)),
    Case("LayerAblationCam", lambda m: registry.get("LayerAblationCam").cls(m, m.relu1)),
    Case("LayerMabCam", call=lambda a, x, **kw: a.attribute(x, band_values=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0), **kw)),
    Case("NeuronIntegratedGradients", call=lambda a, x, **kw: a.attribute(x, NEURON, **{"n_steps": 8, **kw}),
         baselines=_tenth),
    Case("NeuronConductance", call=lambda a, x, **kw: a.attribute(x, NEURON, target=1, **{"n_steps": 8, **kw})),
    Case("NeuronGradientShap", call=lambda a, x, **kw: a.attribute(
        x, NEURON, _background(x), n_samples=4, generator=_seeded(), **kw)),
    Case("NeuronDeepLift", call=lambda a, x, **kw: a.attribute(x, NEURON, **{"baselines": 0.1, **kw}),
         baselines=_tenth),
    Case("NeuronDeepLiftShap", baselines=_background,
         call=lambda a, x, **kw: a.attribute(x, NEURON, **{"baselines": _background(x), **kw})),
]

_BY_NAME = {case.name: case for case in FIXTURES}
CASES = [_BY_NAME.get(entry.name) or Case(entry.name) for entry in registry.methods(takes_layer=True)]
