"""Canonizers: same outputs during the session, the model bit-identical afterwards."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.core.model_state import assert_unchanged, snapshot
from veracity._core.canonizers import Compose, MergeBatchNorm, ResidualSum, Sum, batchnorm_pairs
from veracity._core.rules import Gradient, ModuleRules


def randomize_stats(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_()
                m.bias.normal_()
    return model.double().eval()


class ConvBN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1, bias=False)
        self.bn2d = nn.BatchNorm2d(3)
        self.fc = nn.Linear(3 * 5 * 5, 4)
        self.bn1d = nn.BatchNorm1d(4)
        self.act_bn = nn.BatchNorm1d(4)  # after an activation: not foldable
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn2d(self.conv(x))).flatten(1)
        return self.out(self.act_bn(torch.tanh(self.bn1d(self.fc(h)))))


class Block(nn.Module):
    def __init__(self, in_place: bool = True) -> None:
        super().__init__()
        self.in_place = in_place
        self.fc1 = nn.Linear(4, 4)
        self.bn = nn.BatchNorm1d(4)
        self.fc2 = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, skip_grad: bool = True) -> torch.Tensor:
        out = self.fc2(torch.relu(self.bn(self.fc1(x))))
        skip = x if skip_grad else x.detach()
        if self.in_place:
            out += skip
        else:
            out = out + skip
        return torch.relu(out)


class ResNetLike(nn.Module):
    def __init__(self, in_place: bool = True) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Block(in_place), Block(in_place)])
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor, skip_grad: bool = True) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, skip_grad)
        return self.head(x + 1.0)  # outside the blocks: not routed


def test_batchnorm_folded_into_conv2d_and_linear() -> None:
    model = randomize_stats(ConvBN())
    x = torch.randn(6, 2, 5, 5, dtype=torch.float64)
    expected = model(x)
    before = snapshot(model)
    assert batchnorm_pairs(model, x) == [(model.conv, model.bn2d), (model.fc, model.bn1d)]
    with MergeBatchNorm(model, probe=x) as merged:
        assert len(merged.pairs) == 2
        assert id(model.conv.weight) != before[1]["conv.weight"] and model.conv.bias is not None
        probe = torch.randn(2, 3, 5, 5, dtype=torch.float64)
        assert torch.equal(model.bn2d(probe), probe)
        assert torch.allclose(model(x), expected, atol=1e-12)
        # the folded conv alone computes conv followed by the original BatchNorm
        folded = nn.functional.conv2d(x, model.conv.weight, model.conv.bias, padding=1)
    bn = model.bn2d
    reference = (nn.functional.conv2d(x, model.conv.weight, padding=1) - bn.running_mean[:, None, None]) \
        / torch.sqrt(bn.running_var[:, None, None] + bn.eps) * bn.weight[:, None, None] + bn.bias[:, None, None]
    assert torch.allclose(folded, reference, atol=1e-12)
    assert torch.equal(model(x), expected)
    assert_unchanged(model, before)


def test_explicit_pairs_restored_after_an_exception_and_bad_pairs() -> None:
    model = randomize_stats(ConvBN())
    before = snapshot(model)
    with pytest.raises(RuntimeError, match="inside"):
        with MergeBatchNorm(model, pairs=[(model.fc, model.bn1d)]):
            assert id(model.fc.weight) != before[1]["fc.weight"]
            raise RuntimeError("inside the session")
    assert_unchanged(model, before)
    model.bn1d.train()
    with pytest.raises(ValueError, match="`pairs`"):
        with MergeBatchNorm(model, pairs=[(model.conv, model.bn2d), (model.fc, model.bn1d)]):
            pass
    with pytest.raises(ValueError, match="`probe`"):
        MergeBatchNorm(model, probe=torch.randn(1, 2, 5, 5, dtype=torch.float64)).__enter__()
    model.bn1d.eval()
    assert_unchanged(model, before)


@pytest.mark.parametrize("in_place", [True, False])
def test_residual_sum_is_a_module_a_rule_can_take(in_place: bool) -> None:
    model = randomize_stats(ResNetLike(in_place))
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    expected = model(x)
    plain_grad = torch.autograd.grad(expected[:, 0].sum(), x)[0]
    no_skip_grad = torch.autograd.grad(model(x, skip_grad=False)[:, 0].sum(), x)[0]
    before = snapshot(model)

    class FirstOnly:
        """All of the gradient to the block's branch, none to the skip connection."""

        def backward(self, module: nn.Module, inputs: tuple, output: torch.Tensor, grad: torch.Tensor) -> tuple:
            return grad, torch.zeros_like(grad)

    with ResidualSum(model, Block):
        assert isinstance(model.blocks[0].residual_sum, Sum)
        assert torch.allclose(model(x), expected, atol=1e-12)
        for rule, reference in ((Gradient(), plain_grad), (FirstOnly(), no_skip_grad)):
            with ModuleRules(model, [(Sum, rule)]) as rules:
                out = model(x)
            assert set(rules.assigned) == {"blocks.0.residual_sum", "blocks.1.residual_sum"}
            assert torch.allclose(torch.autograd.grad(out[:, 0].sum(), x)[0], reference, atol=1e-12)
    assert torch.equal(model(x), expected)
    assert_unchanged(model, before)


def test_compose_restores_everything_also_when_a_canonizer_fails() -> None:
    model = randomize_stats(ResNetLike())
    x = torch.randn(5, 4, dtype=torch.float64)
    expected = model(x)
    before = snapshot(model)
    with Compose(MergeBatchNorm(model, probe=x), ResidualSum(model, "blocks.*")):
        assert torch.allclose(model(x), expected, atol=1e-12)
        assert [n for n, _ in model.named_modules()].count("blocks.1.residual_sum") == 1
    assert_unchanged(model, before)
    with pytest.raises(ValueError, match="`name`"):
        with Compose(MergeBatchNorm(model, probe=x), ResidualSum(model, Block, name="fc1")):
            pass
    assert_unchanged(model, before)
    with pytest.raises(RuntimeError, match="shapes"):
        with Compose(ResidualSum(model, Block), MergeBatchNorm(model, probe=x)):
            model(x[:, :3])  # wrong width: the model raises inside the session
    assert_unchanged(model, before)
    assert torch.equal(model(x), expected)
