"""Embedding helpers: pass-through layer, reference tokens, input wrapper for layer methods."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from veracity import attr


class TextModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(10, 4)
        self.head = nn.Linear(12, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.embedding(ids)).flatten(1))


def test_interpretable_embedding_round_trip_and_ig_agreement() -> None:
    torch.manual_seed(0)
    model = TextModel().eval()
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    reference = attr.TokenReferenceBase(0).generate_reference(3, torch.device("cpu")).expand(2, 3)
    assert reference.dtype == torch.long and bool((reference == 0).all())
    layer_ig = attr.LayerIntegratedGradients(model, model.embedding).attribute(ids, reference, target=1, n_steps=16)
    original = model.embedding
    with pytest.warns(UserWarning, match="in place"):
        wrapper = attr.configure_interpretable_embedding_layer(model, "embedding")
    try:
        inputs = wrapper.indices_to_embeddings(ids).detach()
        baseline = wrapper.indices_to_embeddings(reference).detach()
        plain = attr.IntegratedGradients(model).attribute(inputs, baseline, target=1, n_steps=16)
    finally:
        attr.remove_interpretable_embedding_layer(model, wrapper)
    assert model.embedding is original
    assert torch.allclose(plain, layer_ig, atol=1e-6)


def test_embedding_helpers_reject_bad_arguments() -> None:
    model = TextModel()
    with pytest.raises(ValueError, match="`embedding_layer_name`"):
        attr.configure_interpretable_embedding_layer(model, "missing")
    with pytest.raises(TypeError, match="`interpretable_emb`"):
        attr.remove_interpretable_embedding_layer(model, model.embedding)


class Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(10, 3)
        self.linear = nn.Linear(3 + 2, 1)

    def forward(self, ids: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.cat([self.embedding(ids).mean(1), features], 1))


def test_model_input_wrapper_attributes_to_raw_inputs() -> None:
    torch.manual_seed(1)
    wrapped = Mixed().eval()
    model = attr.ModelInputWrapper(wrapped)
    ids, features = torch.tensor([[1, 2], [3, 4]]), torch.randn(2, 2)
    assert torch.equal(model(ids, features), wrapped(ids, features))
    result = attr.LayerIntegratedGradients(model, [model.input_maps["features"], wrapped.embedding]).attribute(
        (ids, features), target=0)
    assert torch.allclose(result[0], wrapped.linear.weight[0, 3:] * features, atol=1e-6)
    assert result[1].shape == (2, 2, 3)
