"""Small models with known closed forms, shared by every test."""

from __future__ import annotations

import pytest
import torch
from torch import nn


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


class LinearModel(nn.Module):
    """f(x) = x @ W.T + b: gradients are W, IG with baseline b0 is W * (x - b0)."""

    def __init__(self, features: int = 6, outputs: int = 3) -> None:
        super().__init__()
        self.linear = nn.Linear(features, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class AdditiveModel(nn.Module):
    """f(x) = sum_i g_i(x_i): every attribution method should recover g_i(x_i) - g_i(x'_i)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        terms = torch.stack([torch.sin(flat[:, 0]), flat[:, 1] ** 2, torch.tanh(flat[:, 2]) * 3,
                             flat[:, 3] * 2.0], dim=1)
        if flat.shape[1] > 4:
            terms = torch.cat([terms, 0.5 * flat[:, 4:]], dim=1)
        return terms.sum(1, keepdim=True)


class MLP(nn.Module):
    def __init__(self, features: int = 6, hidden: int = 16, outputs: int = 3) -> None:
        super().__init__()
        self.fc1 = nn.Linear(features, hidden)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(hidden, hidden)
        self.relu = nn.ReLU()
        self.fc3 = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.relu(self.fc2(self.act(self.fc1(x)))))


class SmallCNN(nn.Module):
    def __init__(self, outputs: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(6 * 4 * 4, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu1(self.conv1(x)))
        return self.fc(self.relu2(self.conv2(x)).flatten(1))


class TwoInputModel(nn.Module):
    """Two inputs and an extra (non-attributed) scale argument."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(5, 3)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, scale: torch.Tensor | float = 1.0) -> torch.Tensor:
        return torch.tanh(self.a(x1) + self.b(x2)) * scale


@pytest.fixture
def linear_model() -> LinearModel:
    return LinearModel().eval()


@pytest.fixture
def mlp() -> MLP:
    return MLP().eval()


@pytest.fixture
def cnn() -> SmallCNN:
    return SmallCNN().eval()


@pytest.fixture
def two_input_model() -> TwoInputModel:
    return TwoInputModel().eval()
