"""Shared pieces of the influence methods: batches of (inputs, labels), checkpoints loaded into
a working copy of the model, loss checks, and a running top-k over training batches."""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from veracity._core.validate import check_positive_int, describe, fail

Batch = tuple[tuple[Tensor, ...], Any]


class KMostInfluentialResults(NamedTuple):
    """Captum's result of ``influence(..., k=k)``: ``indices`` and ``influence_scores``, both
    ``(n_test, k)``, the most influential training examples first."""

    indices: Tensor
    influence_scores: Tensor


def load_flexible_state_dict(model: nn.Module, path: str) -> float:
    """Load a checkpoint saved as a state dict (optionally under ``"model_state_dict"``, keys
    optionally prefixed ``"module."`` by DataParallel) into ``model``; return its
    ``"learning_rate"`` entry, 1.0 when absent (Captum's default loader).

    Example:
        >>> import os, tempfile
        >>> model = nn.Linear(2, 1)
        >>> path = os.path.join(tempfile.mkdtemp(), "c.pt")
        >>> torch.save({"model_state_dict": model.state_dict(), "learning_rate": 0.5}, path)
        >>> load_flexible_state_dict(nn.Linear(2, 1), path)
        0.5
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path!r} holds {describe(checkpoint)}, not a state dict")
    learning_rate = float(checkpoint.get("learning_rate", 1.0))
    state = checkpoint.get("model_state_dict", checkpoint)
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()
             if k != "learning_rate"}
    model.load_state_dict(state)
    return learning_rate


def checkpoint_list(checkpoints: Any) -> list[str]:
    """Captum's ``checkpoints``: a folder (its files, sorted), one path, or an iterable of paths."""
    import os

    if isinstance(checkpoints, (str, os.PathLike)):
        path = str(checkpoints)
        if os.path.isdir(path):
            found = sorted(os.path.join(path, f) for f in os.listdir(path))
            if not found:
                fail("checkpoints", "a folder with checkpoint files", f"the empty folder {path!r}")
            return found
        return [path]
    paths = [str(c) for c in checkpoints]
    if not paths:
        fail("checkpoints", "at least one checkpoint path", checkpoints)
    return paths


def load_checkpoint(model: nn.Module, path: str, load_func: Callable[[nn.Module, str], Any],
                    name: str = "checkpoints") -> tuple[nn.Module, float]:
    """A copy of ``model`` with the checkpoint at ``path`` loaded, and its learning
    rate. The user's model is never changed; a checkpoint that does not load is an error naming
    ``name``."""
    working = copy.deepcopy(model)
    try:
        learning_rate = load_func(working, path)
    except Exception as error:  # noqa: BLE001 - re-raised with the argument named
        raise ValueError(f"`{name}`: expected checkpoints that load into the model, got {path!r}, which "
                         f"failed with {type(error).__name__}: {error}") from error
    return working, 1.0 if learning_rate is None else float(learning_rate)


def loss_reduction(loss_fn: Any) -> str | None:
    return getattr(loss_fn, "reduction", None)


def require_reduction(name: str, loss_fn: Any, allowed: tuple[str, ...], why: str) -> None:
    """An error naming ``name`` when ``loss_fn.reduction`` is set and not one of ``allowed``."""
    if loss_fn is None:
        fail(name, "a loss function loss_fn(outputs, labels)", loss_fn)
    if not callable(loss_fn):
        fail(name, "a callable loss_fn(outputs, labels)", loss_fn, TypeError)
    reduction = loss_reduction(loss_fn)
    if reduction is not None and reduction not in allowed:
        fail(name, f"a loss with reduction {' or '.join(repr(a) for a in allowed)} ({why})",
             f"{type(loss_fn).__name__} with reduction={reduction!r}")


def per_example_loss(loss_fn: Any) -> Callable[[Tensor, Any], Tensor]:
    """A loss giving one value per example: ``loss_fn`` itself for ``reduction='none'``, a copy
    with ``reduction='none'`` for a reducing ``nn.Module``, else ``loss_fn`` called on one
    example at a time (vectorised), which is then its own sum."""
    reduction = loss_reduction(loss_fn)
    if reduction == "none":
        return loss_fn
    if reduction is not None and isinstance(loss_fn, nn.Module):
        unreduced: Any = copy.copy(loss_fn)
        unreduced.reduction = "none"
        return unreduced
    return lambda outputs, labels: loss_fn(outputs, labels).reshape(-1)


def data_loader(data: Any, batch_size: int | None, name: str) -> Iterable[Any]:
    """A DataLoader as given, a Dataset wrapped in one of ``batch_size``."""
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, Dataset):
        size = check_positive_int("batch_size", batch_size) if batch_size is not None else 1
        return DataLoader(data, batch_size=size, shuffle=False)
    fail(name, "a torch Dataset or DataLoader", data, TypeError)


def split_batch(batch: Any, name: str) -> Batch:
    """``(inputs, labels)`` of a batch ``(*inputs, labels)``."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        fail(name, "batches (*inputs, labels): the last element the labels", batch)
    inputs = tuple(batch[:-1])
    if not all(isinstance(t, Tensor) for t in inputs):
        fail(name, "tensors as model inputs", describe(inputs), TypeError)
    return inputs, batch[-1]


def batches_of(data: Any, batch_size: int | None, name: str) -> Iterator[Batch]:
    """The batches of a dataset / loader, or the one batch of a tuple ``(*inputs, labels)``."""
    if isinstance(data, (tuple, list)):
        yield split_batch(data, name)
        return
    for batch in data_loader(data, batch_size, name):
        yield split_batch(batch, name)


class RunningTopK:
    """The ``k`` largest (``largest=True``) or smallest scores per row over column blocks."""

    def __init__(self, k: int, largest: bool) -> None:
        self.k, self.largest = k, largest
        self.scores: Tensor | None = None
        self.indices: Tensor | None = None

    def add(self, scores: Tensor, offset: int) -> None:
        index = torch.arange(offset, offset + scores.shape[1], device=scores.device).expand_as(scores)
        if self.scores is not None and self.indices is not None:
            scores = torch.cat([self.scores, scores], 1)
            index = torch.cat([self.indices, index], 1)
        keep = min(self.k, scores.shape[1])
        best = scores.topk(keep, dim=1, largest=self.largest)
        self.scores, self.indices = best.values, index.gather(1, best.indices)

    def result(self) -> KMostInfluentialResults:
        if self.scores is None or self.indices is None:
            fail("train_dataset", "at least one training example", "an empty dataset")
        return KMostInfluentialResults(self.indices, self.scores)
