"""Embedding helpers with Captum's names: a pass-through embedding layer so input-space methods
can take embeddings, reference token sequences, and a wrapper that gives every model input its
own identity layer so that layer methods can attribute to raw inputs."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import torch
from torch import Tensor, nn

from veracity._core.validate import fail


class InterpretableEmbeddingBase(nn.Module):
    """Stands in for an embedding layer and passes precomputed embeddings through unchanged.

    ``indices_to_embeddings(ids)`` runs the original layer (kept as ``embedding``), so the
    caller computes embeddings outside the model and explains them with any input method.

    Example:
        >>> import torch
        >>> layer = InterpretableEmbeddingBase(torch.nn.Embedding(5, 3), "embedding")
        >>> vectors = layer.indices_to_embeddings(torch.tensor([[1, 2]]))
        >>> bool(torch.equal(layer(vectors), vectors))
        True
    """

    def __init__(self, embedding: nn.Module, full_name: str) -> None:
        super().__init__()
        self.num_embeddings = getattr(embedding, "num_embeddings", None)
        self.embedding_dim = getattr(embedding, "embedding_dim", None)
        self.embedding = embedding
        self.full_name = full_name

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if inputs:
            return inputs[0]
        if kwargs:
            return next(iter(kwargs.values()))
        fail("inputs", "the precomputed embedding tensor as the first argument", "no arguments", TypeError)

    def indices_to_embeddings(self, *inputs: Any, **kwargs: Any) -> Tensor:
        return self.embedding(*inputs, **kwargs)


def _parent_and_name(model: nn.Module, dotted: str) -> tuple[nn.Module, str]:
    parts = dotted.split(".")
    parent = model
    for part in parts[:-1]:
        if not hasattr(parent, part):
            fail("embedding_layer_name", "the dotted name of a submodule of the model", repr(dotted))
        parent = getattr(parent, part)
    if not isinstance(getattr(parent, parts[-1], None), nn.Module):
        fail("embedding_layer_name", "the dotted name of a submodule of the model", repr(dotted))
    return parent, parts[-1]


def configure_interpretable_embedding_layer(model: nn.Module,
                                            embedding_layer_name: str = "embedding") -> InterpretableEmbeddingBase:
    """Replace ``model.<embedding_layer_name>`` by an :class:`InterpretableEmbeddingBase`, in place.

    Unlike every attribution method, this changes the caller's model on purpose (as in
    Captum); undo it with :func:`remove_interpretable_embedding_layer`. LayerIntegratedGradients
    on the embedding layer gives the same result without touching the model.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential()
        >>> model.add_module("embedding", torch.nn.Embedding(5, 3))
        >>> layer = configure_interpretable_embedding_layer(model)
        >>> remove_interpretable_embedding_layer(model, layer)
        >>> type(model.embedding).__name__
        'Embedding'
    """
    if not isinstance(model, nn.Module):
        fail("model", "a torch.nn.Module", model, TypeError)
    parent, name = _parent_and_name(model, embedding_layer_name)
    embedding = getattr(parent, name)
    if isinstance(embedding, InterpretableEmbeddingBase):
        fail("embedding_layer_name", "a layer not configured already", f"{embedding_layer_name!r}, already one")
    warnings.warn("configure_interpretable_embedding_layer replaces the model's embedding layer in place; call "
                  "remove_interpretable_embedding_layer afterwards.", UserWarning, stacklevel=2)
    wrapper = InterpretableEmbeddingBase(embedding, embedding_layer_name)
    setattr(parent, name, wrapper)
    return wrapper


def remove_interpretable_embedding_layer(model: nn.Module, interpretable_emb: InterpretableEmbeddingBase) -> None:
    """Put the original embedding layer back."""
    if not isinstance(interpretable_emb, InterpretableEmbeddingBase):
        fail("interpretable_emb", "the layer configure_interpretable_embedding_layer returned", interpretable_emb,
             TypeError)
    parent, name = _parent_and_name(model, interpretable_emb.full_name)
    setattr(parent, name, interpretable_emb.embedding)


class TokenReferenceBase:
    """Reference (baseline) token sequences made of one token id, e.g. padding.

    Example:
        >>> TokenReferenceBase(0).generate_reference(3, torch.device("cpu"))
        tensor([0, 0, 0])
    """

    def __init__(self, reference_token_idx: int = 0) -> None:
        self.reference_token_idx = reference_token_idx

    def generate_reference(self, sequence_length: int, device: torch.device | str) -> Tensor:
        return torch.full((sequence_length,), self.reference_token_idx, dtype=torch.long, device=device)


class InputIdentity(nn.Module):
    """An identity layer for one named model input (a place to hook)."""

    def __init__(self, input_name: str) -> None:
        super().__init__()
        self.input_name = input_name

    def forward(self, x: Any) -> Any:
        return x


class ModelInputWrapper(nn.Module):
    """The wrapped model, with each positional/keyword input passed through an identity layer.

    ``input_maps[name]`` is the layer of the input called ``name`` in the model's forward
    signature: give it to a layer method to attribute to that raw input (useful for mixed
    inputs such as token ids next to continuous features).

    Example:
        >>> import torch
        >>> from veracity.attr import LayerIntegratedGradients
        >>> class Model(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.linear = torch.nn.Linear(3, 1)
        ...     def forward(self, x):
        ...         return self.linear(x)
        >>> wrapped = ModelInputWrapper(Model().eval())
        >>> LayerIntegratedGradients(wrapped, wrapped.input_maps["x"]).attribute(torch.randn(2, 3)).shape
        torch.Size([2, 3])
    """

    def __init__(self, module_to_wrap: nn.Module) -> None:
        super().__init__()
        self.module = module_to_wrap
        parameters = inspect.signature(module_to_wrap.forward).parameters.values()
        self.arg_name_list = [p.name for p in parameters
                              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        self.input_maps = nn.ModuleDict({name: InputIdentity(name) for name in self.arg_name_list})

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        mapped = [self.input_maps[name](a) for name, a in zip(self.arg_name_list, args)]
        mapped += list(args[len(mapped):])
        mapped_kwargs = {k: self.input_maps[k](v) if k in self.input_maps else v for k, v in kwargs.items()}
        return self.module(*mapped, **mapped_kwargs)
