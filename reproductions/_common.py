"""Shared pieces of the reproductions: the output folder, the digits CNN (trained once per
process and seed), and the JSON record of each run."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from veracity.data.digits import Digits, DigitsCNN, load_digits, train_digits_cnn

OUT_ENV = "VERACITY_OUT"


def out_dir(path: str | Path | None = None) -> Path:
    """``path``, else ``$VERACITY_OUT/reproductions``, else ``out/reproductions`` (created)."""
    folder = Path(path) if path is not None else Path(os.environ.get(OUT_ENV, "out")) / "reproductions"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@lru_cache(maxsize=None)
def digits(seed: int = 0) -> Digits:
    """scikit-learn's digits, split under ``seed`` (cached)."""
    return load_digits(seed)


@lru_cache(maxsize=None)
def digits_cnn(seed: int = 0, smooth: bool = False, epochs: int = 30) -> DigitsCNN:
    """The demo's digits CNN trained under ``seed`` (cached per process; eval mode, frozen)."""
    model = train_digits_cnn(digits(0), seed=seed, epochs=epochs, smooth=smooth)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def accuracy(model: torch.nn.Module, data: Digits) -> float:
    """Test accuracy of ``model`` on ``data``."""
    with torch.no_grad():
        return float((model(data.test_x).argmax(1) == data.test_y).float().mean())


def save(name: str, results: dict[str, Any], folder: Path) -> Path:
    """Write ``results`` to ``folder/<name>.json`` and return the path."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True))
    return path


def load(name: str, folder: Path | None = None) -> dict[str, Any] | None:
    """The saved results of reproduction ``name``, or None if it has not run."""
    path = (folder or out_dir()) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
