"""Captum's ``TracInCP``: TracIn with full per-example parameter gradients."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.influence import gradient_matrix
from veracity._core.validate import fail
from veracity.influence._data import (
    Batch,
    KMostInfluentialResults,
    batches_of,
    load_flexible_state_dict,
    per_example_loss,
    require_reduction,
)
from veracity.influence.base import TracInCPBase


def layer_parameters(model: nn.Module, layers: list[str] | None) -> list[str] | None:
    """Names of the parameters of the named layers (all parameters when None)."""
    if layers is None:
        return None
    modules = dict(model.named_modules())
    names = []
    for layer in layers:
        if layer not in modules:
            fail("layers", f"names from model.named_modules(), e.g. {[n for n in modules if n][:4]}", repr(layer))
        prefix = f"{layer}." if layer else ""
        names += [prefix + n for n, _ in modules[layer].named_parameters()]
    if not names:
        fail("layers", "layers that own parameters", layers)
    return names


class TracInCP(TracInCPBase):
    """TracIn with the gradients of every parameter of ``layers`` (all parameters by default):
    ``sum_c lr_c * grad L(z') . grad L(z)``. Per-example gradients come from the engine, one
    vectorised call per batch. ``loss_fn`` must give one loss per example
    (``reduction='none'``), or with ``sample_wise_grads_per_batch=True`` reduce by ``'sum'`` or
    ``'mean'`` (both mean per-example gradients of the unreduced loss, as in Captum).

    Example:
        >>> import os, tempfile
        >>> from torch.utils.data import TensorDataset
        >>> _ = torch.manual_seed(0); model = nn.Linear(3, 2)
        >>> path = os.path.join(tempfile.mkdtemp(), "c.pt"); torch.save(model.state_dict(), path)
        >>> data = TensorDataset(torch.randn(6, 3), torch.tensor([0, 1, 0, 1, 1, 0]))
        >>> tracin = TracInCP(model, data, [path], loss_fn=nn.CrossEntropyLoss(reduction="none"), batch_size=4)
        >>> scores = tracin.influence((torch.randn(2, 3), torch.tensor([0, 1])))
        >>> scores.shape, bool((tracin.self_influence() >= 0).all())
        (torch.Size([2, 6]), True)
    """

    def __init__(self, model: nn.Module, train_dataset: Any, checkpoints: Any,
                 checkpoints_load_func: Callable[[nn.Module, str], float] = load_flexible_state_dict,
                 layers: list[str] | None = None, loss_fn: Callable | None = None, batch_size: int | None = 1,
                 test_loss_fn: Callable | None = None, sample_wise_grads_per_batch: bool = False) -> None:
        allowed = ("sum", "mean") if sample_wise_grads_per_batch else ("none",)
        why = ("sample_wise_grads_per_batch=True" if sample_wise_grads_per_batch
               else "one loss per example; or pass sample_wise_grads_per_batch=True")
        require_reduction("loss_fn", loss_fn, allowed, why)
        if test_loss_fn is not None:
            require_reduction("test_loss_fn", test_loss_fn, allowed, why)
        super().__init__(model, train_dataset, checkpoints, checkpoints_load_func, loss_fn, batch_size, test_loss_fn)
        self.layers = layers
        self.sample_wise_grads_per_batch = sample_wise_grads_per_batch
        self.parameter_names = layer_parameters(model, layers)
        self._train_loss = per_example_loss(self.loss_fn)
        self._test_loss = per_example_loss(self.test_loss_fn)

    def _representation(self, model: nn.Module, batch: Batch, test: bool) -> Tensor:
        inputs, labels = batch
        return gradient_matrix(model, inputs, labels, self._test_loss if test else self._train_loss,
                               self.parameter_names)

    def _pair_scores(self, test: Tensor, train: Tensor) -> Tensor:
        return test @ train.T

    def _self_scores(self, representation: Tensor) -> Tensor:
        return (representation * representation).sum(1)

    def influence(self, inputs: Any, k: int | None = None, proponents: bool = True,  # type: ignore[override]
                  show_progress: bool = False, aggregate: bool = False) -> Tensor | KMostInfluentialResults:
        """Scores ``(n_test, n_train)`` or the top-``k``; ``aggregate=True`` scores the sum of
        the test losses (one row)."""
        if aggregate:
            summed = self.compute_intermediate_quantities(inputs, aggregate=True)
            scores = summed @ self.compute_intermediate_quantities(self.train_dataset).T
            if k is None:
                return scores
            best = scores.topk(min(k, scores.shape[1]), dim=1, largest=proponents)
            return KMostInfluentialResults(best.indices, best.values)
        return super().influence(inputs, k, proponents, show_progress)

    def compute_intermediate_quantities(self, inputs: Any, aggregate: bool = False) -> Tensor:
        """Each example's gradients at every checkpoint times ``sqrt(lr)``, joined:
        ``(n, C * P)``, so that influence is a dot product (``aggregate``: their sum, one row)."""
        batches = list(batches_of(inputs, self.batch_size, "inputs"))
        columns = []
        for working, learning_rate, _ in self._checkpoints(False, 0, ""):
            rows = torch.cat([self._representation(working, b, aggregate) for b in batches])
            columns.append(math.sqrt(learning_rate) * rows)
        result = torch.cat(columns, 1)
        return result.sum(0, keepdim=True) if aggregate else result
