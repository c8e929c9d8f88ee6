"""PCACE: maximal correlation dominates Pearson, finds a nonlinear dependence, ranks the
channel the score depends on first, and ablating it costs the score more than the bottom one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from veracity.neurons import maximal_correlation, pcace_ranking


class Squared(nn.Module):
    """Score = (GAP of channel 2)^2 + 0.1 GAP of channel 0; channels 1 and 3 unused."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        with torch.no_grad():
            self.conv.bias.zero_()  # maps centred on 0: the squared score is not monotone in them
        self.mask = torch.ones(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.conv(x) * self.mask.view(1, 4, 1, 1)
        pooled = maps.mean((2, 3))
        score = pooled[:, 2] ** 2 + 0.1 * pooled[:, 0]
        return torch.stack([score, -score], 1)


def test_maximal_correlation_properties() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 2, generator=g, dtype=torch.float64)
    y = x[:, 0] ** 2
    assert maximal_correlation(y, x) > 0.9
    assert abs(float(torch.corrcoef(torch.stack([y, x[:, 0]]))[0, 1])) < 0.3
    assert maximal_correlation(2 * x[:, 1] + 1, x) == pytest.approx(1.0, abs=1e-9)
    independent = maximal_correlation(torch.randn(400, generator=g, dtype=torch.float64), x)
    assert independent < 0.35
    assert maximal_correlation(y, torch.zeros(400, 1, dtype=torch.float64)) == 0.0


def test_pcace_ranks_the_used_channel_first() -> None:
    model = Squared().eval()
    x = torch.randn(300, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    result = pcace_ranking(model, x, "conv", target=0)
    assert int(result.ranking[0]) == 2
    assert bool((result.rho >= result.pearson - 1e-9).all())
    assert bool(((result.rho >= 0) & (result.rho <= 1)).all())
    assert float(result.rho[2]) > 0.9 > float(result.pearson[2]) + 0.2  # nonlinear: Pearson misses it
    # ablation: zeroing the top channel moves the score more than zeroing the bottom one
    with torch.no_grad():
        base = model(x)[:, 0]
    changes = []
    for channel in (int(result.ranking[0]), int(result.ranking[-1])):
        model.mask = torch.ones(4)
        model.mask[channel] = 0
        with torch.no_grad():
            changes.append(float((model(x)[:, 0] - base).abs().mean()))
    model.mask = torch.ones(4)
    assert changes[0] > 10 * changes[1]
    with pytest.raises(ValueError, match="`n_bins`"):
        pcace_ranking(model, x, "conv", target=0, n_bins=1)


def test_pcace_plot() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    model = Squared().eval()
    result = pcace_ranking(model, torch.randn(40, 1, 6, 6), "conv", target=0)
    assert len(result.plot(top=3).axes) == 6
