"""The user's objects are sacred: no mutation, no hooks or modes left behind, also on errors."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from tests.axioms.registry import ALL_SPECS, Spec
from tests.conftest import SmallCNN


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
               for m in model.modules())


def _no_function_mode() -> bool:
    return not torch.overrides._get_current_function_mode_stack()


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_model_and_inputs_untouched(spec: Spec) -> None:
    model = SmallCNN().eval()
    before = copy.deepcopy(model.state_dict())
    x = torch.randn(3, 1, 8, 8)
    x_before = x.clone()
    spec.make(model).attribute(x, target=1, **spec.kwargs(x))
    assert torch.equal(x, x_before) and not x.requires_grad and x.grad is None
    assert not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(p.grad is None for p in model.parameters())
    assert _no_hooks(model) and _no_function_mode()


class _Explodes(SmallCNN):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.relu(x)
        raise RuntimeError("boom")


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_hooks_and_rules_removed_when_model_raises(spec: Spec) -> None:
    model = _Explodes().eval()
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(RuntimeError, match="boom"):
        spec.make(model).attribute(x, target=0, **spec.kwargs(x))
    assert _no_hooks(model) and _no_function_mode()


def test_training_mode_warns_and_is_kept() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2)).train()
    from veracity.attr import Saliency

    with pytest.warns(UserWarning, match="training mode"):
        Saliency(model).attribute(torch.randn(2, 4), target=0)
    assert model.training
