"""Small networks for the LRP tests: Captum-supported CNNs, a VGG-like and a ResNet-like net."""

from __future__ import annotations

import torch
from torch import nn


class CaptumCNN(nn.Module):
    """Only module types Captum's LRP supports (flatten is functional)."""

    def __init__(self, bn: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4) if bn else nn.Dropout()
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.avg = nn.AvgPool2d(2) if not bn else nn.AdaptiveAvgPool2d(2)
        self.fc1 = nn.Linear(24, 8)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu1(self.bn1(self.conv1(x))))
        x = self.avg(self.relu2(self.conv2(x)))
        return self.fc2(self.act(self.fc1(x.flatten(1))))


def randomise_batchnorm(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


def vgg_like(seed: int = 0, bias: bool = True) -> nn.Sequential:
    """Conv-BN-ReLU blocks with max pooling, a flatten and a dense head (all in one Sequential)."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1, bias=bias), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1, bias=bias), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 2 * 2, 10, bias=bias), nn.ReLU(), nn.Linear(10, 4, bias=bias))
    return randomise_batchnorm(model)


class Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu2(self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))) + x)


class ResNetLike(nn.Module):
    def __init__(self, channels: int = 4, classes: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU(), nn.MaxPool2d(2))
        self.block1 = Block(channels)
        self.block2 = Block(channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.block2(self.block1(self.stem(x)))).flatten(1))


def resnet_like(seed: int = 0) -> ResNetLike:
    torch.manual_seed(seed)
    model = ResNetLike()
    randomise_batchnorm(model)
    return model
