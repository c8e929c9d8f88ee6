"""Relevance maximisation (Achtibat et al. 2023): for each concept (channel) of a layer, the k
examples of a data set in which it is most *relevant* to the decision, and, for comparison, the
k in which it is most *activated* (activation maximisation).

The data set is streamed in batches with a progress bar: one LRP pass per batch gives every
channel's relevance and activation at once; a running top-k per channel keeps memory at
``channels x k``. Each example is explained for its own label (``target="label"``, when the
data set yields ``(input, label, ...)``) or for the model's prediction (``target="prediction"``).
Activations are the layer's outputs in the explained model, canonizers applied (a Conv with its
BatchNorm merged: the BatchNorm's output), as the relevances are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.lrp_engine import predicted_classes, relevance_pass
from veracity._core.progress import progress_bar
from veracity._core.validate import check_choice, check_positive_int, fail
from veracity.lrp.composites import Composite
from veracity.lrp.crp import _channels, _check, resolve_layer

__all__ = ["Maximization", "relevance_maximization"]


@dataclass(frozen=True)
class Maximization:
    """Per chosen channel (rows, in ``channels`` order) the data-set indices of the top-k
    examples and their scores, by relevance and by activation, best first."""

    channels: list[int]
    relevance_indices: Tensor
    relevance_scores: Tensor
    activation_indices: Tensor
    activation_scores: Tensor


def _batches(data: Any, batch_size: int) -> tuple[Iterator[Any], int]:
    if isinstance(data, torch.utils.data.DataLoader):
        if not isinstance(data.sampler, torch.utils.data.SequentialSampler):
            fail("data", "a DataLoader that keeps the data set's order (shuffle=False)", "a shuffling DataLoader")
        return iter(data), len(data.dataset)  # type: ignore[arg-type]
    if isinstance(data, torch.utils.data.Dataset) or hasattr(data, "__getitem__"):
        loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
        return iter(loader), len(data)
    fail("data", "a torch Dataset or DataLoader", data, TypeError)


def _split(batch: Any) -> tuple[Tensor, Tensor | None]:
    if isinstance(batch, Tensor):
        return batch, None
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], Tensor):
        label = batch[1] if len(batch) > 1 and isinstance(batch[1], Tensor) else None
        return batch[0], label
    fail("data", "examples that are tensors or (tensor, label, ...) tuples", batch, TypeError)


def _merge(best: tuple[Tensor, Tensor] | None, scores: Tensor, indices: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The running top-k per row of ``scores`` (rows: channels), ties to the earlier example."""
    if best is not None:
        scores = torch.cat([best[0], scores], 1)
        indices = torch.cat([best[1], indices], 1)
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
    return scores.gather(1, order), indices.gather(1, order)


def _reduce(values: Tensor, how: str) -> Tensor:
    flat = values.flatten(2) if values.dim() > 2 else values.unsqueeze(2)
    return flat.sum(2) if how == "sum" else flat.amax(2)


def relevance_maximization(model: nn.Module, composite: Composite, data: Any, layer: nn.Module | str,
                           channels: Sequence[int] | int | None = None, k: int = 8, *, target: str = "label",
                           reduce: str = "sum", batch_size: int = 32, show_progress: bool = True) -> Maximization:
    """The top-``k`` examples of ``data`` per channel of ``layer``, by relevance and by activation.

    ``reduce``: ``"sum"`` (the paper's ``T_sum``) or ``"max"`` over the channel's positions.

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> from veracity.lrp import EpsilonPlus
        >>> model, _ = toy_cnn()
        >>> data = torch.utils.data.TensorDataset(torch.rand(10, 1, 8, 8), torch.arange(10) % 3)
        >>> found = relevance_maximization(model, EpsilonPlus(), data, model[0], [0, 2], k=3, show_progress=False)
        >>> found.relevance_indices.shape, found.activation_scores.shape
        (torch.Size([2, 3]), torch.Size([2, 3]))
    """
    composite = _check(model, composite)
    module = resolve_layer(model, layer)
    k = check_positive_int("k", k)
    batch_size = check_positive_int("batch_size", batch_size)
    check_choice("target", target, ("label", "prediction"))
    check_choice("reduce", reduce, ("sum", "max"))
    batches, total = _batches(data, batch_size)
    best_relevance: tuple[Tensor, Tensor] | None = None
    best_activation: tuple[Tensor, Tensor] | None = None
    chosen: list[int] | None = None
    seen = 0
    with progress_bar(total, show_progress, "relevance maximisation") as bar:
        for batch in batches:
            x, label = _split(batch)
            call = Call.of(model, x, None, need_float=True)
            if target == "label":
                if label is None:
                    fail("target", "'prediction' for a data set without labels", "'label'")
                classes = label
            else:
                classes = predicted_classes(call)
            call = Call.of(model, x, classes.reshape(-1).tolist(), need_float=True)
            result = relevance_pass(call, model, composite.assign, composite.canonizer_factories(),
                                    taps=[(module, False)], report=seen == 0)
            relevance, activation = result.taps[0][0], result.values[0][0]
            if chosen is None:
                chosen = _channels(channels, relevance.shape[1])
            index = torch.arange(seen, seen + x.shape[0]).expand(len(chosen), -1)
            # scores on the CPU: the running top-k is small
            best_relevance = _merge(best_relevance, _reduce(relevance, reduce)[:, chosen].T.cpu(), index, k)
            best_activation = _merge(best_activation, _reduce(activation, reduce)[:, chosen].T.cpu(), index, k)
            seen += x.shape[0]
            bar.update(x.shape[0])
    if best_relevance is None or best_activation is None or chosen is None:
        fail("data", "a data set with at least one example", "an empty one")
    return Maximization(chosen, best_relevance[1], best_relevance[0], best_activation[1], best_activation[0])
