"""``attribute_dataset``: attributions and model outputs of a whole data set, written chunk by chunk
into a resumable Zarr store (see :mod:`veracity.dataset.store` for the layout)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import veracity
from veracity._core.predict import predict
from veracity._core.progress import progress_bar
from veracity._core.validate import check_positive_int, fail
from veracity.dataset.store import (
    FORMAT,
    MANIFEST,
    DatasetStore,
    chunk_checksum,
    differences,
    example_hash,
    jsonable,
    model_fingerprint,
    open_store,
    read_manifest,
    write_manifest,
    zarr_module,
)


def _dataset_of(data: Any) -> Any:
    """The map-style dataset behind ``data`` (a Dataset, or a DataLoader that reads it in order)."""
    if isinstance(data, torch.utils.data.DataLoader):
        if not isinstance(data.sampler, torch.utils.data.SequentialSampler):
            fail("data", "a DataLoader that reads its dataset in order (no shuffle, no custom sampler)",
                 type(data.sampler).__name__)
        data = data.dataset
    if not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
        fail("data", "a map-style torch Dataset (with __len__ and __getitem__) or a DataLoader over one",
             data, TypeError)
    return data


def _example(dataset: Any, index: int) -> tuple[Tensor, Any]:
    example = dataset[index]
    if not isinstance(example, (tuple, list)) or len(example) != 2 or not isinstance(example[0], Tensor):
        fail("data", "examples that are (input tensor, target) pairs", f"example {index}: {type(example).__name__}"
             + (f" of length {len(example)}" if isinstance(example, (tuple, list)) else ""), TypeError)
    return example[0], example[1]


def _batch(dataset: Any, start: int, stop: int) -> tuple[Tensor, Tensor]:
    pairs = [_example(dataset, i) for i in range(start, stop)]
    inputs = torch.stack([p[0] for p in pairs])
    targets = torch.stack([torch.as_tensor(p[1]) for p in pairs])
    return inputs, targets


def _create(path: Path, name: str, n: int, chunk_size: int, row: np.ndarray) -> Any:
    zarr = zarr_module()
    return zarr.open_array(store=str(path / name), mode="w", shape=(n, *row.shape[1:]),
                           chunks=(chunk_size, *row.shape[1:]), dtype=row.dtype, fill_value=0)


def _open(path: Path, name: str) -> Any:
    return zarr_module().open_array(store=str(path / name), mode="r+")


def attribute_dataset(method: Any, data: Any, store: str | os.PathLike[str], *, batch_size: int = 64,
                      chunk_size: int = 256, show_progress: bool = True, **attribute_kwargs: Any) -> DatasetStore:
    """Attribute every example of ``data`` with ``method`` and write the attributions, the model's
    outputs and the targets into the Zarr store at ``store``, ``chunk_size`` examples per chunk.

    ``method`` is an attribution object (``veracity.attr.IntegratedGradients(model)`` ...);
    ``data`` a map-style Dataset (or a DataLoader reading one in order) of ``(input, target)``
    pairs; ``attribute_kwargs`` go to ``method.attribute`` for every batch of ``batch_size``
    examples. A chunk is recorded complete in the manifest only after it is written, so calling
    again after an interruption computes only the chunks not yet complete. A store made with a
    different model, data, method or arguments is refused with a ValueError naming what differs.

    Example:
        >>> import tempfile, veracity.attr as va
        >>> from veracity.data.toy import toy_mlp
        >>> model, x = toy_mlp(batch=5)
        >>> data = torch.utils.data.TensorDataset(x, torch.zeros(5, dtype=torch.long))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     result = attribute_dataset(va.IntegratedGradients(model), data, d, chunk_size=2,
        ...                                show_progress=False, n_steps=8)
        ...     result.manifest["complete"], result.numpy("attributions").shape
        ([0, 1, 2], (5, 4))
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("chunk_size", chunk_size)
    if not callable(getattr(method, "attribute", None)) or not hasattr(method, "forward_func"):
        fail("method", "an attribution object such as veracity.attr.IntegratedGradients(model)", method, TypeError)
    if "target" in attribute_kwargs or "inputs" in attribute_kwargs:
        fail("attribute_kwargs", "no `inputs` or `target`: they come from the data set",
             str(sorted(k for k in attribute_kwargs if k in ("inputs", "target"))))
    dataset = _dataset_of(data)
    n = len(dataset)
    if n == 0:
        fail("data", "at least one example", "an empty data set")
    path = Path(store)
    n_chunks = -(-n // chunk_size)
    wanted: dict[str, Any] = {
        "format": FORMAT,
        "method": type(method).__name__,
        "arguments": jsonable(attribute_kwargs),
        "model": model_fingerprint(method.forward_func),
        "data": {"n_examples": n, "first": example_hash(dataset[0]), "last": example_hash(dataset[n - 1])},
        "chunk_size": chunk_size,
        "batch_size": batch_size,
        "n_examples": n,
        "n_chunks": n_chunks,
        "veracity_version": veracity.__version__,
        "complete": [],
        "checksums": {},
    }
    if (path / MANIFEST).exists():
        manifest = read_manifest(path)
        found = differences(manifest, wanted)
        if found:
            raise ValueError(f"`store`: {str(path)!r} was made by a different run: " + "; ".join(found))
        if manifest["complete"]:
            open_store(path, verify=True)  # refuses a corrupt chunk before anything is added to it
    elif path.exists() and any(path.iterdir()):
        fail("store", "a new or empty directory, or a veracity dataset store",
             f"{str(path)!r} (not empty, no manifest)")
    else:
        path.mkdir(parents=True, exist_ok=True)
        manifest = wanted
        write_manifest(path, manifest)
    complete = set(manifest["complete"])
    arrays: dict[str, Any] = {}
    if complete or all((path / name).exists() for name in ("attributions", "outputs", "targets")):
        try:
            arrays = {name: _open(path, name) for name in ("attributions", "outputs", "targets")}
        except Exception:
            if complete:
                raise
            arrays = {}  # created but never written: make them again
    todo = [c for c in range(n_chunks) if c not in complete]
    with progress_bar(total=n, show_progress=show_progress, desc=f"{type(method).__name__} over the data set") as bar:
        bar.update(n - sum(min(chunk_size, n - c * chunk_size) for c in todo))
        for chunk in todo:
            start, stop = chunk * chunk_size, min(n, (chunk + 1) * chunk_size)
            parts: dict[str, list[np.ndarray]] = {"attributions": [], "outputs": [], "targets": []}
            for lo in range(start, stop, batch_size):
                inputs, targets = _batch(dataset, lo, min(stop, lo + batch_size))
                attribution = method.attribute(inputs, target=targets, **attribute_kwargs)
                if not isinstance(attribution, Tensor):
                    fail("method", "a method returning one attribution tensor for one input tensor",
                         type(attribution).__name__, TypeError)
                parts["attributions"].append(attribution.detach().cpu().numpy())
                parts["outputs"].append(predict(method.forward_func, inputs, batch_size=batch_size).cpu().numpy())
                parts["targets"].append(targets.cpu().numpy())
                bar.update(inputs.shape[0])
            rows = {name: np.concatenate(values) for name, values in parts.items()}
            if not arrays:
                arrays = {name: _create(path, name, n, chunk_size, row) for name, row in rows.items()}
            for name, row in rows.items():
                if tuple(arrays[name].shape[1:]) != row.shape[1:] or np.dtype(arrays[name].dtype) != row.dtype:
                    fail("data", f"examples whose {name} have one shape and dtype "
                         f"{tuple(arrays[name].shape[1:])} {np.dtype(arrays[name].dtype)}",
                         f"{row.shape[1:]} {row.dtype} in chunk {chunk}")
                if arrays[name].shape[0] != n or arrays[name].chunks[0] != chunk_size:
                    fail("store", f"a {name!r} array of {n} rows in chunks of {chunk_size}",
                         f"{arrays[name].shape[0]} rows in chunks of {arrays[name].chunks[0]} (a corrupt store)")
                arrays[name][start:stop] = row
            complete.add(chunk)
            checksums = {**manifest["checksums"], str(chunk): {name: chunk_checksum(row) for name, row in rows.items()}}
            manifest = {**manifest, "complete": sorted(complete), "checksums": checksums}
            write_manifest(path, manifest)
    return open_store(path)
