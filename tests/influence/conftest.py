"""A tiny classifier with three saved checkpoints (learning rates 0.1, 0.2, 0.3) and data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset


def load_with_lr(model: nn.Module, path: str) -> float:
    saved = torch.load(path)
    model.load_state_dict(saved["model"])
    return float(saved["lr"])


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double().eval()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder: Path = tmp_path_factory.mktemp("checkpoints")
    model = tiny_model()
    paths = []
    for c in range(3):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.2 * torch.randn_like(p))
        path = folder / f"c{c}.pt"
        torch.save({"model": model.state_dict(), "lr": 0.1 * (c + 1)}, path)
        paths.append(str(path))
    x, y = torch.randn(13, 5, dtype=torch.float64), torch.randint(0, 3, (13,))
    test = (torch.randn(4, 5, dtype=torch.float64), torch.randint(0, 3, (4,)))
    return {"model": model, "paths": paths, "data": TensorDataset(x, y), "x": x, "y": y, "test": test}
