"""``attribute_dataset``: attributions and model outputs of a whole data set, written chunk by chunk
into a resumable Zarr store (see :mod:`veracity.dataset.store` for the layout and
:mod:`veracity.dataset.runner` for the chunk loop, one process or the ranks of torchrun)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch  # noqa: F401 - the example uses it
from torch import Tensor

from veracity._core.predict import predict
from veracity._core.validate import fail
from veracity.dataset.examples import batch, dataset_of, device_of, manifest
from veracity.dataset.runner import Plan, Rows, run
from veracity.dataset.store import ARRAYS, DatasetStore


def attribute_dataset(method: Any, data: Any, store: str | os.PathLike[str], *, batch_size: int = 64,
                      chunk_size: int = 256, seed: int = 0, show_progress: bool = True,
                      distributed: bool | None = None, **attribute_kwargs: Any) -> DatasetStore:
    """Attribute every example of ``data`` with ``method`` and write the attributions, the model's
    outputs and the targets into the Zarr store at ``store``, ``chunk_size`` examples per chunk.

    ``method`` is an attribution object (``veracity.attr.IntegratedGradients(model)`` ...);
    ``data`` a map-style Dataset (or a DataLoader reading one in order) of ``(input, target)``
    pairs (inputs go to the device of the model's parameters); ``attribute_kwargs`` go to
    ``method.attribute`` for every batch of ``batch_size`` examples. Each chunk is computed under
    the seed ``seed * 1_000_003 + chunk`` (the caller's random state is restored after), with the
    engine's chunk sizes fixed (``memory_budget(tune=False)``: timings must not change the bits).

    Resume: a chunk is recorded complete in the manifest only after it is written, so calling
    again after an interruption (an exception, Ctrl-C, kill -9) computes only the chunks not yet
    complete. A store made with a different model, data, method, arguments, chunk size, batch
    size or seed is refused with a ValueError naming what differs; a corrupt chunk is refused.

    Distributed: under ``torchrun --nproc-per-node N`` (or in a started process group) the ranks
    share the chunks and rank 0 writes the manifest; the store is byte for byte the one a single
    process writes. ``distributed=False`` ignores the launcher's environment.

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
    if not callable(getattr(method, "attribute", None)) or not hasattr(method, "forward_func"):
        fail("method", "an attribution object such as veracity.attr.IntegratedGradients(model)", method, TypeError)
    if "target" in attribute_kwargs or "inputs" in attribute_kwargs:
        fail("attribute_kwargs", "no `inputs` or `target`: they come from the data set",
             str(sorted(k for k in attribute_kwargs if k in ("inputs", "target"))))
    dataset = dataset_of(data)
    model = method.forward_func
    wanted = manifest(dataset, model, type(method).__name__, attribute_kwargs, list(ARRAYS),
                      batch_size=batch_size, chunk_size=chunk_size, seed=seed)
    device = device_of(getattr(model, "__self__", model))

    def compute(start: int, stop: int, advance: Callable[[int], object]) -> Rows:
        parts: dict[str, list[np.ndarray]] = {name: [] for name in ARRAYS}
        for lo in range(start, stop, batch_size):
            inputs, targets = batch(dataset, lo, min(stop, lo + batch_size), device)
            attribution = method.attribute(inputs, target=targets, **attribute_kwargs)
            if not isinstance(attribution, Tensor):
                fail("method", "a method returning one attribution tensor for one input tensor",
                     type(attribution).__name__, TypeError)
            parts["attributions"].append(attribution.detach().cpu().numpy())
            parts["outputs"].append(predict(model, inputs, batch_size=batch_size).cpu().numpy())
            parts["targets"].append(targets.cpu().numpy())
            advance(inputs.shape[0])
        return {name: np.concatenate(values) for name, values in parts.items()}

    return run(Plan(Path(store), wanted, compute, f"{type(method).__name__} over the data set", show_progress,
                    seed, distributed))

