"""scikit-learn's bundled 8x8 digits (no download) and a small CNN trained on them in seconds.

Needs scikit-learn (the ``demo`` or ``dev`` extra).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Digits:
    """Train and test splits: images ``(n, 1, 8, 8)`` in [0, 1] and integer labels."""

    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor


def load_digits(seed: int = 0) -> Digits:
    """A stratified 75/25 split of sklearn's digits, pixel values scaled to [0, 1].

    Example:
        >>> data = load_digits()
        >>> tuple(data.train_x.shape[1:]), int(data.test_y.max())
        ((1, 8, 8), 9)
    """
    try:
        from sklearn.datasets import load_digits as sk_load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("veracity.data.load_digits needs scikit-learn: pip install 'veracity[demo]'") from error
    bunch = sk_load_digits()
    x = torch.tensor(bunch.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(bunch.target, dtype=torch.long)
    idx = torch.arange(len(y)).numpy()
    train_idx, test_idx = train_test_split(idx, test_size=0.25, stratify=bunch.target, random_state=seed)
    return Digits(x[train_idx], y[train_idx], x[test_idx], y[test_idx])


class DigitsCNN(nn.Module):
    """conv3x3(1->16) -> act -> pool2 -> conv3x3(16->32) -> act -> pool2 -> fc(128->64) -> act -> fc(64->10).

    ``smooth=True`` swaps ReLU for Softplus(beta=10) and max-pool for log-sum-exp pooling
    with r=10, the smooth network of Kokhlikyan et al. 2021.
    """

    def __init__(self, smooth: bool = False) -> None:
        super().__init__()
        self.smooth = smooth
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(128, 64)
        self.fc2 = nn.Linear(64, 10)
        self.act1 = nn.Softplus(beta=10) if smooth else nn.ReLU()
        self.act2 = nn.Softplus(beta=10) if smooth else nn.ReLU()
        self.act3 = nn.Softplus(beta=10) if smooth else nn.ReLU()
        self.pool1 = _LogSumExpPool(10.0) if smooth else nn.MaxPool2d(2)
        self.pool2 = _LogSumExpPool(10.0) if smooth else nn.MaxPool2d(2)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        return self.fc2(self.act3(self.fc1(x.flatten(1))))


class _LogSumExpPool(nn.Module):
    """Smooth max over 2x2 windows: (logsumexp(r * u) - log 4) / r."""

    def __init__(self, r: float) -> None:
        super().__init__()
        self.r = r

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        windows = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
        return (torch.logsumexp(self.r * windows, dim=-1) - torch.log(torch.tensor(4.0))) / self.r


def train_digits_cnn(data: Digits | None = None, seed: int = 0, epochs: int = 30, smooth: bool = False,
                     shuffle_labels: bool = False) -> DigitsCNN:
    """Train :class:`DigitsCNN` with Adam (lr 1e-2, batch 64); a few seconds on a CPU.

    ``shuffle_labels=True`` permutes the training labels (the data randomisation test of
    Adebayo et al. 2018; give it more epochs to memorise). Returns the model in eval mode.

    Example:
        >>> model = train_digits_cnn(epochs=1)
        >>> model.training
        False
    """
    data = data or load_digits()
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = DigitsCNN(smooth=smooth)
    labels = data.train_y
    if shuffle_labels:
        labels = labels[torch.randperm(len(labels), generator=generator)]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(data.train_x[idx]), labels[idx])
            loss.backward()
            optimizer.step()
    return model.eval()
