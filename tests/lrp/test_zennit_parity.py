"""Composites equal Zennit 0.5's on the same VGG-like network with BatchNorm (float64).

Zennit imports torchvision, which cannot live beside the pinned CPU torch of ``.venv``: these
tests are marked ``zennit`` and run in the anchors venv by ``make parity-anchors``; elsewhere
they are skipped.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.lrp._models import vgg_like
from veracity import attr, lrp

zennit = pytest.importorskip("zennit", reason="Zennit lives in the anchors venv: make parity-anchors")
from zennit import composites as zc  # noqa: E402
from zennit import rules as zr  # noqa: E402
from zennit.attribution import Gradient  # noqa: E402
from zennit.canonizers import SequentialMergeBatchNorm as ZennitMerge  # noqa: E402

pytestmark = pytest.mark.zennit
D = torch.float64


def _zennit(model: nn.Module, composite, x: torch.Tensor, target: int) -> torch.Tensor:
    def start(output: torch.Tensor) -> torch.Tensor:
        return output * nn.functional.one_hot(torch.tensor(target), output.shape[1]).to(output.dtype)

    with Gradient(model=model, composite=composite) as attributor:
        _, relevance = attributor(x, start)
    return relevance


PAIRS = {
    "EpsilonPlus": (lambda c: lrp.EpsilonPlus(canonizers=c), lambda c: zc.EpsilonPlus(canonizers=c)),
    "EpsilonPlusFlat": (lambda c: lrp.EpsilonPlusFlat(canonizers=c), lambda c: zc.EpsilonPlusFlat(canonizers=c)),
    "EpsilonAlpha2Beta1": (lambda c: lrp.EpsilonAlpha2Beta1(canonizers=c),
                           lambda c: zc.EpsilonAlpha2Beta1(canonizers=c)),
    "EpsilonAlpha2Beta1Flat": (lambda c: lrp.EpsilonAlpha2Beta1Flat(canonizers=c),
                               lambda c: zc.EpsilonAlpha2Beta1Flat(canonizers=c)),
    "EpsilonGammaBox": (lambda c: lrp.EpsilonGammaBox(-1.0, 2.0, canonizers=c),
                        lambda c: zc.EpsilonGammaBox(low=-1.0, high=2.0, canonizers=c)),
}


@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize("merge", [True, False], ids=["merged", "batchnorm-pass"])
def test_composites_equal_zennit(name: str, merge: bool) -> None:
    model = vgg_like().double()
    x = torch.randn(3, 3, 8, 8, dtype=D)
    ours_make, theirs_make = PAIRS[name]
    ours = attr.LRP(model, composite=ours_make([lrp.SequentialMergeBatchNorm()] if merge else None)).attribute(
        x, target=2)
    theirs = _zennit(model, theirs_make([ZennitMerge()] if merge else None), x, 2)
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("ours, theirs", [
    (lrp.Gamma(0.5), zr.Gamma(0.5)), (lrp.WSquare(), zr.WSquare()), (lrp.ZBox(-1.0, 2.0), zr.ZBox(-1.0, 2.0)),
    (lrp.Flat(), zr.Flat()), (lrp.AlphaBeta(3, 2), zr.AlphaBeta(3, 2)), (lrp.ZPlus(), zr.ZPlus()),
    (lrp.Epsilon(0.1, zero_params="bias"), zr.Epsilon(0.1, zero_params="bias")),
], ids=lambda r: type(r).__name__)
def test_each_rule_equals_zennit_on_every_layer(ours, theirs) -> None:
    model = vgg_like().double()
    x = torch.randn(2, 3, 8, 8, dtype=D)
    affine = (nn.Conv2d, nn.Linear)
    mine = lrp.LayerMapComposite([(affine, ours), (nn.ReLU, lrp.Pass()), (nn.BatchNorm2d, lrp.Pass())])
    zennits = zc.LayerMapComposite([(affine, theirs), (nn.ReLU, zr.Pass()), (nn.BatchNorm2d, zr.Pass())])
    torch.testing.assert_close(attr.LRP(model, composite=mine).attribute(x, target=1),
                               _zennit(model, zennits, x, 1), atol=1e-6, rtol=1e-6)


class _ZennitBlock(nn.Module):
    """The ResNet-like block with Zennit's own Sum layer, BatchNorms merged by hand."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        from zennit.layer import Sum

        self.conv1, self.relu1 = _merged(block.conv1, block.bn1), nn.ReLU()
        self.conv2, self.relu2 = _merged(block.conv2, block.bn2), nn.ReLU()
        self.sum = Sum()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu1(self.conv1(x)))
        return self.relu2(self.sum(torch.stack([out, x], dim=-1)))


def _merged(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    merged = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, padding=conv.padding).double()
    with torch.no_grad():
        merged.weight.copy_(conv.weight * scale[:, None, None, None])
        merged.bias.copy_(bn.bias - bn.running_mean * scale)
    return merged


def test_resnet_canonizer_equals_zennit_on_a_hand_canonized_twin() -> None:
    from tests.lrp._models import resnet_like

    model = resnet_like().double()
    twin = nn.Sequential(nn.Sequential(_merged(model.stem[0], model.stem[1]), nn.ReLU(), nn.MaxPool2d(2)),
                         _ZennitBlock(model.block1), _ZennitBlock(model.block2), model.pool, nn.Flatten(),
                         model.fc).eval()
    x = torch.rand(3, 3, 8, 8, dtype=D)
    torch.testing.assert_close(twin(x), model(x))
    ours = attr.LRP(model, composite=lrp.EpsilonPlusFlat(canonizers=[lrp.ResNetCanonizer()])).attribute(x, target=1)
    theirs = _zennit(twin, zc.EpsilonPlusFlat(), x, 1)
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-6)
