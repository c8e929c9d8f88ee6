"""Bad input gets a clear error naming the argument, never a silent wrong answer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.axioms.registry import ALL_SPECS, Spec
from tests.conftest import MLP, TwoInputModel
from veracity import attr


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_target_out_of_range(spec: Spec) -> None:
    x = torch.randn(2, 6)
    with pytest.raises(ValueError, match="`target`"):
        spec.make(MLP().eval()).attribute(x, target=3, **spec.kwargs(x))


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_target_of_wrong_length(spec: Spec) -> None:
    x = torch.randn(3, 6)
    with pytest.raises(ValueError, match="`target`"):
        spec.make(MLP().eval()).attribute(x, target=[0, 1], **spec.kwargs(x))


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_nan_in_inputs(spec: Spec) -> None:
    x = torch.randn(2, 6)
    kwargs = spec.kwargs(x)
    x[0, 1] = float("nan")
    with pytest.raises(ValueError, match="`inputs`.*NaN"):
        spec.make(MLP().eval()).attribute(x, target=0, **kwargs)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_model_returning_a_non_tensor(spec: Spec) -> None:
    class ReturnsDict(nn.Module):
        def forward(self, x):
            return {"logits": x.sum(1, keepdim=True)}

    x = torch.randn(2, 6)
    with pytest.raises(TypeError, match="`forward_func`"):
        spec.make(ReturnsDict()).attribute(x, target=0, **spec.kwargs(x))


def test_tuple_inputs_with_different_batch_sizes() -> None:
    with pytest.raises(ValueError, match="`inputs`.*batch size"):
        attr.Saliency(TwoInputModel()).attribute((torch.randn(3, 4), torch.randn(2, 5)), target=0)


def test_wrong_baseline_shape() -> None:
    with pytest.raises(ValueError, match="`baselines`"):
        attr.IntegratedGradients(MLP()).attribute(torch.randn(3, 6), torch.zeros(2, 6), target=0)
    with pytest.raises(ValueError, match="`baselines`"):
        attr.DeepLift(MLP()).attribute(torch.randn(3, 6), torch.zeros(3, 5), target=0)
    with pytest.raises(ValueError, match="`baselines`"):
        attr.GradientShap(MLP()).attribute(torch.randn(3, 6), torch.zeros(4, 5), target=0)
    with pytest.raises(ValueError, match="`baselines`"):
        attr.IntegratedGradients(TwoInputModel()).attribute(
            (torch.randn(2, 4), torch.randn(2, 5)), torch.zeros(2, 4), target=0)


def test_bad_steps_methods_and_types() -> None:
    x = torch.randn(2, 6)
    ig = attr.IntegratedGradients(MLP())
    with pytest.raises(ValueError, match="`n_steps`"):
        ig.attribute(x, target=0, n_steps=0)
    with pytest.raises(ValueError, match="`method`.*gausslegendre"):
        ig.attribute(x, target=0, method="simpson")
    with pytest.raises(ValueError, match="`n_steps`"):
        ig.attribute(x, target=0, method="riemann_trapezoid", n_steps=1)
    with pytest.raises(ValueError, match="`nt_type`"):
        attr.NoiseTunnel(attr.Saliency(MLP())).attribute(x, nt_type="smooth", target=0)
    with pytest.raises(ValueError, match="`n_samples`"):
        attr.GradientShap(MLP()).attribute(x, torch.zeros(1, 6), n_samples=0, target=0)
    with pytest.raises(ValueError, match="`stdevs`"):
        attr.NoiseTunnel(attr.Saliency(MLP())).attribute(x, stdevs=-1.0, target=0)
    with pytest.raises(TypeError, match="`inputs`"):
        attr.Saliency(MLP()).attribute([x], target=0)
    with pytest.raises(TypeError, match="`inputs`.*floating"):
        attr.Saliency(MLP()).attribute(torch.ones(2, 6, dtype=torch.long), target=0)
    with pytest.raises(ValueError, match="`internal_batch_size`"):
        ig.attribute(x, target=0, internal_batch_size=0)
    with pytest.raises(ValueError, match="`target`"):
        attr.Saliency(MLP()).attribute(x)  # three outputs per example need a target
