"""Captum's ``DataInfluence`` and ``TracInCPBase``: the checkpoint loop shared by the TracIn
family. A method supplies a per-checkpoint representation of a batch and the score of a pair
of representations; the loops (checkpoints outer, each loaded once into a working copy of the
model; training batches inner) live here."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, nn

from veracity._core.progress import progress_bar
from veracity._core.validate import check_positive_int, fail
from veracity.influence._data import (
    Batch,
    KMostInfluentialResults,
    batches_of,
    checkpoint_list,
    load_checkpoint,
    load_flexible_state_dict,
)


class DataInfluence(ABC):
    """The base of training-data influence methods: ``influence(inputs, ...)`` says how much
    each training example matters for ``inputs``.

    Example:
        >>> class Constant(DataInfluence):
        ...     def influence(self, inputs=None, **kwargs):
        ...         return torch.ones(len(inputs), 3)
        >>> Constant().influence([0, 1]).shape
        torch.Size([2, 3])
    """

    @abstractmethod
    def influence(self, inputs: Any = None, **kwargs: Any) -> Any:
        """Influence of the training data on ``inputs``."""


class TracInCPBase(DataInfluence):
    """TracIn over checkpoints (Pruthi et al. 2020): the influence of training example ``z`` on
    test example ``z'`` is ``sum_c lr_c * <rep_c(z'), rep_c(z)>``, ``rep_c`` a loss gradient at
    checkpoint ``c`` (its learning rate ``lr_c`` from ``checkpoints_load_func``). Batches of
    ``train_dataset`` are tuples ``(*inputs, labels)``. Checkpoints load into a copy of
    ``model``; the user's model is never changed.

    ``influence(inputs, k=None)`` gives scores ``(n_test, n_train)``; with ``k`` the ``k``
    proponents (largest scores) or opponents (``proponents=False``, smallest) as
    :class:`KMostInfluentialResults`. ``self_influence(inputs=None)`` scores each example
    (the training set by default) against itself.
    """

    def __init__(self, model: nn.Module, train_dataset: Any, checkpoints: Any,
                 checkpoints_load_func: Callable[[nn.Module, str], float] = load_flexible_state_dict,
                 loss_fn: Callable | None = None, batch_size: int | None = 1,
                 test_loss_fn: Callable | None = None) -> None:
        if not isinstance(model, nn.Module):
            fail("model", "a torch.nn.Module", model, TypeError)
        self.model = model
        self.train_dataset = train_dataset
        self.checkpoints = checkpoint_list(checkpoints)
        self.checkpoints_load_func = checkpoints_load_func
        self.loss_fn = loss_fn
        self.test_loss_fn = loss_fn if test_loss_fn is None else test_loss_fn
        self.batch_size = batch_size
        # fail early, naming the argument, on a checkpoint that does not fit the model
        for path in self.checkpoints:
            load_checkpoint(model, path, checkpoints_load_func)

    # what a method supplies -------------------------------------------------------------
    @abstractmethod
    def _representation(self, model: nn.Module, batch: Batch, test: bool) -> Any:
        """The batch's representation at the checkpoint loaded in ``model``."""

    @abstractmethod
    def _pair_scores(self, test: Any, train: Any) -> Tensor:
        """``(n_test, n_train)`` inner products of two representations."""

    @abstractmethod
    def _self_scores(self, representation: Any) -> Tensor:
        """Each example's inner product with itself."""

    # the loops ----------------------------------------------------------------------------
    def _checkpoints(self, show_progress: bool, steps_per_checkpoint: int,
                     desc: str) -> Iterator[tuple[nn.Module, float, Any]]:
        with progress_bar(len(self.checkpoints) * steps_per_checkpoint, show_progress, desc) as bar:
            for path in self.checkpoints:
                working, learning_rate = load_checkpoint(self.model, path, self.checkpoints_load_func)
                yield working, learning_rate, bar

    def _train_batches(self) -> list[Batch]:
        return list(batches_of(self.train_dataset, self.batch_size, "train_dataset"))

    def _scores(self, inputs: Any, show_progress: bool) -> Tensor:
        test_batches = list(batches_of(inputs, self.batch_size, "inputs"))
        train_batches = self._train_batches()
        total: Tensor | None = None
        for working, learning_rate, bar in self._checkpoints(show_progress, len(train_batches), "influence"):
            test = [self._representation(working, b, True) for b in test_batches]
            rows = []
            for batch in train_batches:
                train = self._representation(working, batch, False)
                rows.append(torch.cat([self._pair_scores(t, train) for t in test], 0))
                bar.update()
            scores = learning_rate * torch.cat(rows, 1)
            total = scores if total is None else total + scores
        assert total is not None
        return total

    def influence(self, inputs: Any, k: int | None = None, proponents: bool = True,  # type: ignore[override]
                  show_progress: bool = False) -> Tensor | KMostInfluentialResults:
        """Scores ``(n_test, n_train)``, or with ``k`` the top-``k`` proponents / opponents."""
        scores = self._scores(inputs, show_progress)
        if k is None:
            return scores
        check_positive_int("k", k)
        best = scores.topk(min(k, scores.shape[1]), dim=1, largest=proponents)
        return KMostInfluentialResults(best.indices, best.values)

    def self_influence(self, inputs: Any = None, show_progress: bool = False,
                       outer_loop_by_checkpoints: bool = False) -> Tensor:
        """``sum_c lr_c * <rep_c(z), rep_c(z)>`` for every example of ``inputs`` (default: the
        training set). Checkpoints are always the outer loop (each loaded once), so
        ``outer_loop_by_checkpoints`` changes nothing but is accepted for Captum's calls."""
        data = self.train_dataset if inputs is None else inputs
        batches = list(batches_of(data, self.batch_size, "train_dataset" if inputs is None else "inputs"))
        total: Tensor | None = None
        for working, learning_rate, bar in self._checkpoints(show_progress, len(batches), "self influence"):
            parts = []
            for batch in batches:
                parts.append(self._self_scores(self._representation(working, batch, False)))
                bar.update()
            scores = learning_rate * torch.cat(parts)
            total = scores if total is None else total + scores
        assert total is not None
        return total
