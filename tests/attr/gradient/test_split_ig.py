"""Split IG against a hand-computed split on a saturating model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from veracity.attr import IntegratedGradients, SplitIntegratedGradients


class Saturating(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.0, -0.5, 2.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(4 * (x @ self.w)).unsqueeze(1)


def test_left_plus_right_is_integrated_gradients() -> None:
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3), nn.Softmax(1)).eval()
    x = torch.randn(4, 5)
    split = SplitIntegratedGradients(model).attribute_split(x, target=1, n_steps=60, internal_batch_size=28)
    full = IntegratedGradients(model).attribute(x, target=1, n_steps=60, method="riemann_right")
    torch.testing.assert_close(split.left + split.right, full, atol=1e-6, rtol=1e-5)


def test_split_matches_hand_computation() -> None:
    model = Saturating().eval()
    x = torch.tensor([[2.0, 0.5, 1.0], [0.3, 0.1, 0.2]], dtype=torch.float64)
    model = model.double()
    n = 40
    split = SplitIntegratedGradients(model).attribute_split(x, n_steps=n, ratio=0.9)
    for i in range(2):
        f0 = model(torch.zeros(1, 3, dtype=torch.float64))[0, 0]
        f1 = model(x[i:i + 1])[0, 0]
        threshold = f0 + 0.9 * (f1 - f0)
        left = torch.zeros(3, dtype=torch.float64)
        split_alpha = 1.0
        for k in range(1, n + 1):
            point = (k / n * x[i]).clone().requires_grad_()
            value = model(point.unsqueeze(0))[0, 0]
            if value > threshold:
                split_alpha = k / n
                break
            left += torch.autograd.grad(value, point)[0] / n
        assert float(split.split_alpha[i]) == pytest.approx(split_alpha)
        torch.testing.assert_close(split.left[i], left * x[i])


def test_saturated_example_has_small_right_part() -> None:
    model = Saturating().eval()
    x = torch.tensor([[3.0, 0.0, 3.0]])
    split = SplitIntegratedGradients(model).attribute_split(x)
    assert float(split.split_alpha[0]) < 0.3
    assert split.right.abs().sum() < 0.2 * split.left.abs().sum()


def test_ratio_is_checked() -> None:
    with pytest.raises(ValueError, match="`ratio`"):
        SplitIntegratedGradients(Saturating()).attribute(torch.randn(1, 3), ratio=1.5)
