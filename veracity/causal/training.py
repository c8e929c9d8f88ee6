"""Train one small digits model per setting of a :class:`~veracity.causal.grid.TreatmentGrid`.

Training code, not explanation code: it builds, trains and scores its own models (listed in
``TRAINING_CODE`` of the architecture test). Every setting is trained deterministically from
its treatments alone (initialisation under ``seed``, minibatch order under ``data_order``, a
fixed subset for ``train_fraction``), so the same grid gives bit-identical models and the
caller's global random state is left as it was.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import torch
from torch import Tensor, nn

from veracity._core.progress import progress_bar
from veracity._core.validate import check_positive_int, fail
from veracity.causal.grid import TreatmentGrid
from veracity.data.digits import Digits

SUBSET_SEED = 12345  # the train_fraction subset does not depend on any treatment


class DigitsMLP(nn.Module):
    """flatten -> Linear(64 -> width) -> ReLU -> Linear(width -> 10): a digits model trained in
    well under a second on a CPU.

    Example:
        >>> import torch
        >>> DigitsMLP(width=8)(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    def __init__(self, width: int = 32, pixels: int = 64, classes: int = 10) -> None:
        super().__init__()
        self.hidden = nn.Linear(pixels, width)
        self.act = nn.ReLU()
        self.out = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.act(self.hidden(x.flatten(1))))


@dataclass(frozen=True)
class ModelGrid:
    """The trained models of a grid: ``models[i]`` was trained with ``configs[i]`` and reaches
    test accuracy ``accuracies[i]``; ``grid`` is the grid they came from."""

    grid: TreatmentGrid
    configs: list[dict[str, Any]]
    models: list[nn.Module]
    accuracies: list[float]

    def __len__(self) -> int:
        return len(self.models)


@contextmanager
def single_thread() -> Iterator[None]:
    """Run on one intra-op thread, restoring the caller's setting after. On layers this small,
    thread hand-offs cost more than they save (training the grid measured 30x slower with two
    threads on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _check_data(data: Any) -> Digits:
    if not isinstance(data, Digits):
        fail("data", "a veracity.data.digits.Digits (load_digits())", data, TypeError)
    if data.train_x.shape[1:] != (1, 8, 8) or len(data.train_x) != len(data.train_y) or len(data.train_y) == 0:
        fail("data", "train_x of shape (n, 1, 8, 8) and n > 0 labels",
             f"train_x {tuple(data.train_x.shape)} and train_y {tuple(data.train_y.shape)}")
    return data


def train_setting(config: Mapping[str, Any], data: Digits, batch_size: int = 64) -> nn.Module:
    """A :class:`DigitsMLP` trained with the treatments of ``config`` (Adam, cross-entropy);
    returned in eval mode with gradients of its parameters switched off.

    Example:
        >>> from veracity.data.digits import load_digits
        >>> config = TreatmentGrid({"seed": [0]}).configs()[0]
        >>> train_setting({**config, "epochs": 1, "width": 8}, load_digits()).training
        False
    """
    data = _check_data(data)
    check_positive_int("batch_size", batch_size)
    n = len(data.train_y)
    keep = torch.randperm(n, generator=torch.Generator().manual_seed(SUBSET_SEED))
    keep = keep[:max(1, int(round(float(config["train_fraction"]) * n)))]
    x, y = data.train_x[keep], data.train_y[keep]
    with torch.random.fork_rng(devices=[]):  # the caller's global generator is left alone
        torch.manual_seed(int(config["seed"]))
        model = DigitsMLP(int(config["width"]))
    order_generator = torch.Generator().manual_seed(int(config["data_order"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=float(config["learning_rate"]))
    model.train()
    with single_thread():
        for _ in range(int(config["epochs"])):
            order = torch.randperm(len(y), generator=order_generator)
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                optimizer.step()
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def accuracy_on(model: nn.Module, data: Digits) -> float:
    """Share of ``data``'s test digits that ``model`` classifies correctly.

    Example:
        >>> from veracity.data.digits import load_digits
        >>> 0.0 <= accuracy_on(DigitsMLP(8).eval(), load_digits()) <= 1.0
        True
    """
    with torch.no_grad():
        return float((model(data.test_x).argmax(1) == data.test_y).float().mean())


def train_grid(grid: TreatmentGrid, data: Digits, batch_size: int = 64, show_progress: bool = False) -> ModelGrid:
    """One trained :class:`DigitsMLP` per setting of ``grid`` (a progress bar over the grid
    with ``show_progress``); the same grid gives the same models.

    Example:
        >>> from veracity.data.digits import load_digits
        >>> grid = TreatmentGrid({"seed": [0, 1]}, fixed={"epochs": 1, "width": 8})
        >>> trained = train_grid(grid, load_digits())
        >>> len(trained), len(trained.accuracies)
        (2, 2)
    """
    if not isinstance(grid, TreatmentGrid):
        fail("grid", "a TreatmentGrid", grid, TypeError)
    data = _check_data(data)
    configs = grid.configs()
    models, accuracies = [], []
    with single_thread(), progress_bar(len(configs), show_progress, "training the grid") as bar:
        for config in configs:
            model = train_setting(config, data, batch_size)
            models.append(model)
            accuracies.append(accuracy_on(model, data))
            bar.update(1)
    return ModelGrid(grid, configs, models, accuracies)
