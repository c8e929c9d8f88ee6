"""Captum's ``SimilarityInfluence``: the training examples whose layer activations are most
similar to a test example's."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from veracity._core.capture import capture_layers
from veracity._core.validate import check_choice, check_positive_int, fail
from veracity.influence._data import RunningTopK
from veracity.influence.base import DataInfluence


def cosine_similarity(test: Tensor, train: Tensor, replace_nan: float = 0.0) -> Tensor:
    """Pairwise cosine similarity ``(n_test, n_train)`` of flattened activations; a zero vector
    is replaced by ``replace_nan`` before the product.

    Example:
        >>> cosine_similarity(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0], [0.0, 3.0]])).tolist()
        [[1.0, 0.0]]
    """
    test, train = test.reshape(test.shape[0], -1), train.reshape(train.shape[0], -1)
    test_norm = test.norm(dim=1, keepdim=True)
    train_norm = train.norm(dim=1, keepdim=True)
    test = torch.where(test_norm != 0, test / test_norm, torch.full_like(test, replace_nan))
    train = torch.where(train_norm != 0, train / train_norm, torch.full_like(train, replace_nan))
    return test @ train.T


def euclidean_distance(test: Tensor, train: Tensor) -> Tensor:
    """Pairwise Euclidean distance ``(n_test, n_train)`` of flattened activations (use it with
    ``similarity_direction="min"``).

    Example:
        >>> euclidean_distance(torch.zeros(1, 2), torch.tensor([[3.0, 4.0]])).tolist()
        [[5.0]]
    """
    return torch.cdist(test.reshape(test.shape[0], -1), train.reshape(train.shape[0], -1))


class SimilarityInfluence(DataInfluence):
    """For each test example and each of ``layers``, the ``top_k`` examples of
    ``influence_src_dataset`` (batches are the model's inputs) whose activations are most
    similar by ``similarity_metric(test_acts, train_acts) -> (n_test, n_train)``; largest first
    for ``similarity_direction="max"``, smallest first for ``"min"``. Activations are computed
    in memory (``activation_dir``, ``model_id`` and ``load_src_from_disk`` are accepted for
    Captum's calls and not used), chunked over the dataset with a running top-k.

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
        >>> data = TensorDataset(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]]))
        >>> sim = SimilarityInfluence(model, "0", data, activation_dir="unused", batch_size=2)
        >>> indices, scores = sim.influence(torch.tensor([[1.0, 0.0]]), top_k=1)["0"]
        >>> indices.tolist()
        [[0]]
    """

    def __init__(self, module: nn.Module, layers: str | list[str], influence_src_dataset: Dataset,
                 activation_dir: str, model_id: str = "", similarity_metric: Callable = cosine_similarity,
                 similarity_direction: str = "max", batch_size: int = 1, **kwargs: Any) -> None:
        if not isinstance(module, nn.Module):
            fail("module", "a torch.nn.Module", module, TypeError)
        self.module = module
        self.layers = [layers] if isinstance(layers, str) else list(layers)
        known = dict(module.named_modules())
        for layer in self.layers:
            if layer not in known:
                fail("layers", f"names from module.named_modules(), e.g. {[n for n in known if n][:4]}", repr(layer))
        self.influence_src_dataset = influence_src_dataset
        self.activation_dir, self.model_id = activation_dir, model_id
        self.similarity_metric = similarity_metric
        self.similarity_direction = check_choice("similarity_direction", similarity_direction, ("max", "min"))
        self.batch_size = check_positive_int("batch_size", batch_size)

    def influence(self, inputs: Tensor | tuple[Tensor, ...], top_k: int = 1,  # type: ignore[override]
                  additional_forward_args: Any = None, load_src_from_disk: bool = True,
                  **kwargs: Any) -> dict[str, tuple[Tensor, Tensor]]:
        """``{layer: (indices, scores)}``, each ``(n_test, top_k)``."""
        check_positive_int("top_k", top_k)
        args = () if additional_forward_args is None else additional_forward_args
        test = capture_layers(self.module, inputs, self.layers, args)
        assert isinstance(test, dict)
        best = {layer: RunningTopK(top_k, self.similarity_direction == "max") for layer in self.layers}
        loader = self.influence_src_dataset if isinstance(self.influence_src_dataset, DataLoader) else \
            DataLoader(self.influence_src_dataset, batch_size=self.batch_size, shuffle=False)
        offset = 0
        for batch in loader:
            batch_inputs = tuple(batch) if isinstance(batch, (list, tuple)) else batch
            train = capture_layers(self.module, batch_inputs, self.layers, args)
            assert isinstance(train, dict)
            rows = 0
            for layer in self.layers:
                scores = self.similarity_metric(test[layer], train[layer])
                if not isinstance(scores, Tensor) or scores.dim() != 2 or scores.shape[0] != test[layer].shape[0]:
                    fail("similarity_metric", "a function returning a (n_test, n_train) tensor", scores)
                best[layer].add(scores, offset)
                rows = scores.shape[1]
            offset += rows
        return {layer: tuple(best[layer].result()) for layer in self.layers}  # type: ignore[misc]
