"""Composites give each module the rule they specify; canonizers keep the function and restore
the model bit for bit, also when the forward raises; functional ReLU, in-place activations and
reused modules are handled, other functional operations reported by module name."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from tests.core.model_state import assert_unchanged, snapshot
from tests.lrp._models import resnet_like, vgg_like
from veracity import attr, lrp

D = torch.float64


def test_assignment_on_a_vgg_like_net() -> None:
    model = vgg_like()
    merged = lrp.EpsilonPlusFlat(canonizers=[lrp.SequentialMergeBatchNorm()])
    assert merged.assignment(model) == {
        "0": "Flat", "1": "Pass", "2": "Pass", "4": "ZPlus", "5": "Pass", "6": "Pass", "9": "Epsilon",
        "10": "Pass", "11": "Epsilon"}
    box = lrp.EpsilonGammaBox(low=-1.0, high=1.0)
    assert box.assignment(model) == {
        "0": "ZBox", "1": "Pass", "2": "Pass", "4": "Gamma", "5": "Pass", "6": "Pass", "9": "Epsilon",
        "10": "Pass", "11": "Epsilon"}
    assert lrp.EpsilonAlpha2Beta1().assignment(model)["4"] == "AlphaBeta"
    named = lrp.NameMapComposite([(["0", "4"], lrp.Gamma()), ("11", lrp.Epsilon())])
    assert named.assignment(model) == {"0": "Gamma", "4": "Gamma", "11": "Epsilon"}


def test_assignment_on_a_resnet_like_net() -> None:
    model = resnet_like()
    x = torch.rand(1, 3, 8, 8)
    composite = lrp.EpsilonPlus(canonizers=[lrp.ResNetCanonizer()])
    block = {"conv1": "ZPlus", "bn1": "Pass", "relu1": "Pass", "conv2": "ZPlus", "bn2": "Pass", "relu2": "Pass",
             "residual_sum": "Norm"}
    expected = {"stem.0": "ZPlus", "stem.1": "Pass", "stem.2": "Pass",
                **{f"block{i}.{k}": v for i in (1, 2) for k, v in block.items()}, "pool": "Norm", "fc": "Epsilon"}
    before = snapshot(model)
    assert composite.assignment(model, x) == expected
    assert_unchanged(model, before)
    with pytest.raises(ValueError, match="`example`"):
        composite.assignment(model)


@pytest.mark.parametrize("make, canonizer", [
    (vgg_like, lrp.SequentialMergeBatchNorm()),
    (vgg_like, lrp.MergeBatchNorm([("0", "1"), (["4"], "5")])),
    (resnet_like, lrp.ResNetCanonizer()),
    (resnet_like, lrp.CompositeCanonizer([lrp.ResNetCanonizer()])),
], ids=["sequential", "named", "resnet", "composite"])
def test_canonizers_keep_the_function_and_restore_the_model(make, canonizer) -> None:
    model = make().double()
    x = torch.rand(4, 3, 8, 8, dtype=D)
    expected = model(x)
    before = snapshot(model)
    with canonizer.context(model, x):
        inside = model(x)
        assert any("forward" in vars(m) for m in model.modules())  # something was rewritten
    torch.testing.assert_close(inside, expected, atol=1e-10, rtol=1e-10)
    assert_unchanged(model, before)
    with pytest.raises(RuntimeError, match="boom"), canonizer.context(model, x):
        model(x)
        raise RuntimeError("boom")
    assert_unchanged(model, before)


def test_canonizers_restore_when_the_forward_raises_inside_lrp() -> None:
    model = resnet_like().double()
    x = torch.rand(2, 3, 8, 8, dtype=D)
    before = snapshot(model)

    def explode(module, args):
        raise RuntimeError("boom")

    handle = model.block2.conv2.register_forward_pre_hook(explode)
    composite = lrp.EpsilonPlusFlat(canonizers=[lrp.ResNetCanonizer()])
    with pytest.raises(RuntimeError, match="boom"):
        attr.LRP(model, composite=composite).attribute(x, target=0)
    handle.remove()
    assert_unchanged(model, before)
    assert not torch.overrides._get_current_function_mode_stack()


def test_resnet_relevance_with_canonizer_is_conserved_through_the_blocks() -> None:
    model = resnet_like().double()
    for m in model.modules():  # no bias, BatchNorm shift 0: the only losses would be the additions
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.zero_()
            m.bias.data.zero_()
    model.fc.bias.data.zero_()
    x = torch.rand(2, 3, 8, 8, dtype=D)
    composite = lrp.LayerMapComposite([(lrp.composites.LINEAR, lrp.Epsilon(1e-12)), (nn.ReLU, lrp.Pass()),
                                       (lrp.Sum, lrp.Norm(1e-12)), (nn.AdaptiveAvgPool2d, lrp.Norm(1e-12)),
                                       (nn.BatchNorm2d, lrp.Pass())], canonizers=[lrp.ResNetCanonizer()])
    out = model(x)[:, 1].detach()
    relevance = attr.LRP(model, composite=composite).attribute(x, target=1)
    torch.testing.assert_close(relevance.flatten(1).sum(1), out, atol=1e-9, rtol=1e-8)
    without = lrp.LayerMapComposite(composite.layer_map)  # no Sum: the gradient copies relevance to both branches
    with pytest.warns(UserWarning, match=r"add in 'block1' \(Block\)"):
        doubled = attr.LRP(model, composite=without).attribute(x, target=1)
    assert not torch.allclose(doubled.flatten(1).sum(1), out, rtol=1e-3)


class _Functional(nn.Module):
    """F.relu, an in-place ReLU module and a reused Linear and ReLU."""

    def __init__(self, variant: str) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(5, 6), nn.Linear(6, 6), nn.Linear(6, 2)
        self.variant = variant
        self.act = nn.ReLU(inplace=variant == "inplace")
        self.act2 = nn.ReLU()
        self.shared = nn.Linear(6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.variant == "reused":
            h = self.act(self.shared(self.act(self.fc1(x))))
            return self.fc3(self.act(self.shared(h)))
        relu = nn.functional.relu if self.variant == "functional" else self.act
        h = relu(self.fc1(x))
        return self.fc3(self.act2(self.fc2(h)))


def _unshared() -> nn.Module:
    reference = _Functional("reused")
    twin = nn.Sequential(reference.fc1, nn.ReLU(), copy.deepcopy(reference.shared), nn.ReLU(),
                         copy.deepcopy(reference.shared), nn.ReLU(), reference.fc3)
    return twin


@pytest.mark.parametrize("variant", ["functional", "inplace"])
def test_functional_and_inplace_relu_equal_the_module_version(variant: str) -> None:
    x = torch.randn(4, 5, dtype=D)
    plain = _Functional("module").double().eval()
    other = _Functional(variant).double().eval()
    other.load_state_dict(plain.state_dict())
    for composite in (None, lrp.EpsilonPlus(), lrp.EpsilonAlpha2Beta1Flat()):
        expected = attr.LRP(plain, composite=composite).attribute(x, target=1)
        torch.testing.assert_close(attr.LRP(other, composite=composite).attribute(x, target=1), expected)


def test_reused_modules_equal_separate_copies() -> None:
    x = torch.randn(4, 5, dtype=D)
    model = _Functional("reused").double().eval()
    twin = _unshared().double().eval()
    for composite in (None, lrp.EpsilonAlpha2Beta1(), lrp.EpsilonGammaBox(-3.0, 3.0)):
        torch.testing.assert_close(attr.LRP(model, composite=composite).attribute(x, target=0),
                                   attr.LRP(twin, composite=composite).attribute(x, target=0))
    with pytest.raises(ValueError, match="'shared'.*reused"):
        attr.LayerLRP(model, model.shared).attribute(x, target=0)


def test_functional_nonlinearities_are_reported_with_the_module_name() -> None:
    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tanh(self.fc(x)).mean(0, keepdim=True).expand(x.shape[0], -1) + 0 * x[:, :3]

    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), Head()).eval()
    with pytest.warns(UserWarning, match=r"tanh in '2' \(Head\).*mean in '2' \(Head\)"):
        attr.LRP(model).attribute(torch.randn(2, 4), target=0)
