"""Captum's ``TracInCPFast`` and ``TracInCPFastRandProj``: TracIn restricted to the weight of
the last fully connected layer, where a per-example gradient is the outer product
``g a^T`` of the loss gradient at the layer's output and the layer's input, so that
``<g a^T, g' a'^T> = (g . g') (a . a')`` needs no per-example weight gradients at all."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.influence import layer_input_and_output_gradient
from veracity._core.validate import check_positive_int, fail
from veracity.influence._data import (
    Batch,
    KMostInfluentialResults,
    batches_of,
    load_flexible_state_dict,
    loss_reduction,
    require_reduction,
)
from veracity.influence.base import TracInCPBase


def module_name(model: nn.Module, layer: nn.Module | str) -> str:
    """The name of ``layer`` (a module of ``model`` or its name) in ``model.named_modules()``."""
    modules = dict(model.named_modules())
    if isinstance(layer, str):
        if layer not in modules:
            fail("final_fc_layer", f"a name from model.named_modules(), e.g. {[n for n in modules if n][:4]}",
                 repr(layer))
        return layer
    for name, module in modules.items():
        if module is layer:
            return name
    fail("final_fc_layer", "a module of the model (or its name)", f"module {type(layer).__name__}")


class TracInCPFast(TracInCPBase):
    """TracIn on the weight of ``final_fc_layer`` only: the influence of ``z`` on ``z'`` is
    ``sum_c lr_c (g_c(z') . g_c(z)) (a_c(z') . a_c(z))``, ``a`` the layer's input and ``g`` the
    loss gradient at its output (the bias is left out, as in Captum). ``loss_fn`` must reduce by
    ``'sum'`` or ``'mean'`` (a mean is undone by the batch size); one forward and one backward
    per batch.

    Example:
        >>> import os, tempfile
        >>> from torch.utils.data import TensorDataset
        >>> _ = torch.manual_seed(0); model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        >>> path = os.path.join(tempfile.mkdtemp(), "c.pt"); torch.save(model.state_dict(), path)
        >>> data = TensorDataset(torch.randn(5, 3), torch.tensor([0, 1, 0, 1, 1]))
        >>> fast = TracInCPFast(model, model[2], data, [path], loss_fn=nn.CrossEntropyLoss(reduction="sum"))
        >>> fast.influence((torch.randn(2, 3), torch.tensor([1, 0])), k=2).indices.shape
        torch.Size([2, 2])
    """

    def __init__(self, model: nn.Module, final_fc_layer: nn.Module | str, train_dataset: Any, checkpoints: Any,
                 checkpoints_load_func: Callable = load_flexible_state_dict, loss_fn: Callable | None = None,
                 batch_size: int | None = 1, test_loss_fn: Callable | None = None, vectorize: bool = False) -> None:
        require_reduction("loss_fn", loss_fn, ("sum", "mean"), "the fast gradient is taken of the reduced loss")
        if test_loss_fn is not None:
            require_reduction("test_loss_fn", test_loss_fn, ("sum", "mean"),
                              "the fast gradient is taken of the reduced loss")
        self.final_fc_layer_name = module_name(model, final_fc_layer)
        self.final_fc_layer = final_fc_layer
        self.vectorize = vectorize
        super().__init__(model, train_dataset, checkpoints, checkpoints_load_func, loss_fn, batch_size, test_loss_fn)

    def _representation(self, model: nn.Module, batch: Batch, test: bool) -> tuple[Tensor, Tensor]:
        inputs, labels = batch
        loss = self.test_loss_fn if test else self.loss_fn
        assert loss is not None
        layer = model.get_submodule(self.final_fc_layer_name)
        activation, output_grad = layer_input_and_output_gradient(model, layer, inputs, labels, loss)
        if loss_reduction(loss) == "mean":
            output_grad = output_grad * inputs[0].shape[0]
        return output_grad, activation

    def _pair_scores(self, test: tuple[Tensor, Tensor], train: tuple[Tensor, Tensor]) -> Tensor:
        return (test[0] @ train[0].T) * (test[1] @ train[1].T)

    def _self_scores(self, representation: tuple[Tensor, Tensor]) -> Tensor:
        grad, activation = representation
        return (grad * grad).sum(1) * (activation * activation).sum(1)


class TorchNearestNeighbors:
    """Exact maximum-inner-product search in torch: ``setup(data)`` stores the vectors,
    ``get_nearest_neighbors(query, k)`` gives ``(indices, scores)`` of the ``k`` largest inner
    products, computed in blocks of ``chunk_rows`` stored rows. Any object with these two
    methods (e.g. a faiss index wrapper) can take its place.

    Example:
        >>> index = TorchNearestNeighbors()
        >>> index.setup(torch.eye(3))
        >>> index.get_nearest_neighbors(torch.tensor([[0.0, 2.0, 1.0]]), 2)[0].tolist()
        [[1, 2]]
    """

    def __init__(self, chunk_rows: int = 65536) -> None:
        self.chunk_rows = check_positive_int("chunk_rows", chunk_rows)
        self.data: Tensor | None = None

    def setup(self, data: Tensor) -> None:
        self.data = data

    def get_nearest_neighbors(self, query: Tensor, k: int) -> tuple[Tensor, Tensor]:
        if self.data is None:
            fail("nearest_neighbors", "setup(data) before a search", "no data")
        from veracity.influence._data import RunningTopK

        best = RunningTopK(k, largest=True)
        for start in range(0, self.data.shape[0], self.chunk_rows):
            best.add(query @ self.data[start:start + self.chunk_rows].T, start)
        found = best.result()
        return found.indices, found.influence_scores


class FaissNearestNeighbors:
    """The same search with a faiss index (the ``influence`` extra: ``pip install faiss-cpu``):
    exact inner product (``IndexFlatIP``) by default, or any faiss index ``factory`` string such
    as ``"IVF256,Flat"`` for an approximate one (trained on the stored vectors).

    Example:
        >>> index = FaissNearestNeighbors()  # doctest: +SKIP
        >>> index.setup(torch.eye(3))  # doctest: +SKIP
        >>> index.get_nearest_neighbors(torch.tensor([[0.0, 2.0, 1.0]]), 2)[0].tolist()  # doctest: +SKIP
        [[1, 2]]
    """

    def __init__(self, factory: str = "Flat") -> None:
        try:
            import faiss  # noqa: F401
        except ImportError as error:
            raise ImportError("FaissNearestNeighbors needs faiss: pip install 'veracity[influence]'") from error
        self.factory = factory
        self.index: Any = None

    def setup(self, data: Tensor) -> None:
        import faiss

        vectors = data.detach().to("cpu", torch.float32).contiguous().numpy()
        self.index = faiss.index_factory(vectors.shape[1], self.factory, faiss.METRIC_INNER_PRODUCT)
        if not self.index.is_trained:
            self.index.train(vectors)
        self.index.add(vectors)

    def get_nearest_neighbors(self, query: Tensor, k: int) -> tuple[Tensor, Tensor]:
        if self.index is None:
            fail("nearest_neighbors", "setup(data) before a search", "no data")
        scores, indices = self.index.search(query.detach().to("cpu", torch.float32).contiguous().numpy(), k)
        return torch.from_numpy(indices).to(query.device), torch.from_numpy(scores).to(query.device, query.dtype)


class TracInCPFastRandProj(TracInCPFast):
    """TracInCPFast with a nearest-neighbour index over the training examples' "checkpoint
    vectors" ``sqrt(lr_c) * flatten(g a^T)``, optionally randomly projected to
    ``projection_dim`` per checkpoint (separate Gaussian projections of ``g`` and ``a``, whose
    outer product keeps inner products in expectation), so that ``influence(inputs, k)`` is
    one search. Without ``projection_dim`` the scores equal TracInCPFast's. The index is
    :class:`TorchNearestNeighbors` (exact, chunked) unless ``nearest_neighbors`` is given (e.g.
    :class:`FaissNearestNeighbors`).

    Example:
        >>> import os, tempfile
        >>> from torch.utils.data import TensorDataset
        >>> _ = torch.manual_seed(0); model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        >>> path = os.path.join(tempfile.mkdtemp(), "c.pt"); torch.save(model.state_dict(), path)
        >>> data = TensorDataset(torch.randn(5, 3), torch.tensor([0, 1, 0, 1, 1]))
        >>> loss = nn.CrossEntropyLoss(reduction="sum")
        >>> test = (torch.randn(2, 3), torch.tensor([1, 0]))
        >>> exact = TracInCPFast(model, model[2], data, [path], loss_fn=loss).influence(test, k=3)
        >>> fast = TracInCPFastRandProj(model, model[2], data, [path], loss_fn=loss).influence(test, k=3)
        >>> torch.equal(exact.indices, fast.indices)
        True
    """

    def __init__(self, model: nn.Module, final_fc_layer: nn.Module | str, train_dataset: Any, checkpoints: Any,
                 checkpoints_load_func: Callable = load_flexible_state_dict, loss_fn: Callable | None = None,
                 batch_size: int | None = 1, test_loss_fn: Callable | None = None, vectorize: bool = False,
                 nearest_neighbors: Any = None, projection_dim: int | None = None, seed: int = 0) -> None:
        super().__init__(model, final_fc_layer, train_dataset, checkpoints, checkpoints_load_func, loss_fn,
                         batch_size, test_loss_fn, vectorize)
        if projection_dim is not None:
            check_positive_int("projection_dim", projection_dim)
        self.projection_dim = projection_dim
        self.seed = seed
        self._projections: list[tuple[Tensor, Tensor] | None] = []
        self.nearest_neighbors = nearest_neighbors if nearest_neighbors is not None else TorchNearestNeighbors()
        self.nearest_neighbors.setup(self.compute_intermediate_quantities(train_dataset, test=False))

    def _projection(self, index: int, grad_dim: int, act_dim: int, like: Tensor) -> tuple[Tensor, Tensor] | None:
        while len(self._projections) <= index:
            self._projections.append(None)
        if self.projection_dim is None or grad_dim * act_dim <= self.projection_dim:
            return None
        if self._projections[index] is None:
            generator = torch.Generator().manual_seed(self.seed + index)
            grad_out = max(1, min(grad_dim, int(math.sqrt(self.projection_dim))))
            act_out = max(1, min(act_dim, self.projection_dim // grad_out))
            self._projections[index] = (
                torch.randn(grad_dim, grad_out, generator=generator, dtype=like.dtype) / math.sqrt(grad_out),
                torch.randn(act_dim, act_out, generator=generator, dtype=like.dtype) / math.sqrt(act_out))
        projection = self._projections[index]
        assert projection is not None
        return projection[0].to(like.device), projection[1].to(like.device)

    def compute_intermediate_quantities(self, inputs: Any, test: bool = True) -> Tensor:
        """Each example's vector ``(n, D)``: inner products of these are the influence scores."""
        batches = list(batches_of(inputs, self.batch_size, "inputs"))
        columns = []
        for index, (working, learning_rate, _) in enumerate(self._checkpoints(False, 0, "")):
            rows = []
            for batch in batches:
                grad, activation = self._representation(working, batch, test)
                projection = self._projection(index, grad.shape[1], activation.shape[1], grad)
                if projection is not None:
                    grad, activation = grad @ projection[0], activation @ projection[1]
                rows.append((grad.unsqueeze(2) * activation.unsqueeze(1)).flatten(1))
            columns.append(math.sqrt(learning_rate) * torch.cat(rows))
        return torch.cat(columns, 1)

    def influence(self, inputs: Any = None, k: int | None = 5,  # type: ignore[override]
                  proponents: bool = True) -> Tensor | KMostInfluentialResults:
        """With ``k``: the ``k`` proponents / opponents from the index; ``k=None``: all scores."""
        if inputs is None:
            fail("inputs", "a batch (*inputs, labels)", inputs)
        query = self.compute_intermediate_quantities(inputs)
        if k is None:
            stored = self.nearest_neighbors.data if isinstance(self.nearest_neighbors, TorchNearestNeighbors) else None
            if stored is None:
                fail("k", "an int when a custom nearest_neighbors index is used", k)
            return query @ stored.T
        check_positive_int("k", k)
        indices, scores = self.nearest_neighbors.get_nearest_neighbors(query if proponents else -query, k)
        return KMostInfluentialResults(indices, scores if proponents else -scores)
