"""Reading a data set of ``(input, target)`` pairs in batches, and the manifest of a run over it."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

import veracity
from veracity._core.validate import check_positive_int, fail
from veracity.dataset.store import FORMAT, example_hash, jsonable, model_fingerprint


def dataset_of(data: Any) -> Any:
    """The map-style dataset behind ``data`` (a Dataset, or a DataLoader that reads it in order)."""
    if isinstance(data, torch.utils.data.DataLoader):
        if not isinstance(data.sampler, torch.utils.data.SequentialSampler):
            fail("data", "a DataLoader that reads its dataset in order (no shuffle, no custom sampler)",
                 type(data.sampler).__name__)
        data = data.dataset
    if not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
        fail("data", "a map-style torch Dataset (with __len__ and __getitem__) or a DataLoader over one",
             data, TypeError)
    if len(data) == 0:
        fail("data", "at least one example", "an empty data set")
    return data


def example(dataset: Any, index: int) -> tuple[Tensor, Any]:
    """Example ``index`` as ``(input tensor, target)``; a TypeError for anything else (a model of
    several inputs, whose examples hold a tuple of tensors, is not supported by the dataset runs)."""
    item = dataset[index]
    if not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[0], Tensor):
        fail("data", "examples that are (input tensor, target) pairs (models of several inputs are not "
             "supported by the dataset runs)", f"example {index}: {type(item).__name__}"
             + (f" of length {len(item)}" if isinstance(item, (tuple, list)) else "")
             + (f" holding a {type(item[0]).__name__}" if isinstance(item, (tuple, list)) and item else ""),
             TypeError)
    return item[0], item[1]


def batch(dataset: Any, start: int, stop: int, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
    """Examples ``start..stop`` stacked: inputs ``(stop - start, ...)`` and targets, on ``device``
    (a TensorDataset of two tensors is sliced: the same rows, without a Python call per example)."""
    if isinstance(dataset, torch.utils.data.TensorDataset) and len(dataset.tensors) == 2:
        inputs, targets = dataset.tensors[0][start:stop], dataset.tensors[1][start:stop]
    else:
        pairs = [example(dataset, i) for i in range(start, stop)]
        inputs = torch.stack([p[0] for p in pairs])
        targets = torch.stack([torch.as_tensor(p[1]) for p in pairs])
    if device is not None:
        inputs, targets = inputs.to(device), targets.to(device)
    return inputs, targets


def device_of(model: Any) -> torch.device | None:
    """Where the model's parameters live (the inputs go there), None for a parameterless model."""
    parameters = getattr(model, "parameters", None)
    if not callable(parameters):
        return None
    first = next(iter(parameters()), None)
    return None if first is None else first.device


def manifest(dataset: Any, model: Any, method: Any, arguments: Any, arrays: list[str], *, batch_size: int,
             chunk_size: int, seed: int) -> dict[str, Any]:
    """The manifest of a fresh store for a run over ``dataset`` (no chunk complete yet)."""
    check_positive_int("batch_size", batch_size)
    check_positive_int("chunk_size", chunk_size)
    if isinstance(seed, bool) or not isinstance(seed, int):
        fail("seed", "an integer", seed, TypeError)
    n = len(dataset)
    return {
        "format": FORMAT,
        "method": method,
        "arguments": jsonable(arguments),
        "model": model_fingerprint(model),
        "data": {"n_examples": n, "first": example_hash(dataset[0]), "last": example_hash(dataset[n - 1])},
        "chunk_size": chunk_size,
        "batch_size": batch_size,
        "seed": seed,
        "arrays": arrays,
        "n_examples": n,
        "n_chunks": -(-n // chunk_size),
        "veracity_version": veracity.__version__,
        "complete": [],
        "checksums": {},
    }
