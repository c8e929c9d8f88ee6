"""Activations of many layers in one engine pass, shaped for probes: neurons as columns."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from veracity._core.activations import tensor_output
from veracity._core.capture import capture_layers
from veracity._core.validate import check_choice, fail


def named_layers(model: nn.Module, layers: Any) -> dict[str, nn.Module]:
    """``layers`` (a name, a module, or a list of them) as ``{name: module}`` of ``model``.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
        >>> list(named_layers(model, ["1", model[0]]))
        ['1', '0']
    """
    if not isinstance(model, nn.Module):
        fail("model", "a torch.nn.Module", model, TypeError)
    items = layers if isinstance(layers, (list, tuple)) else [layers]
    if not items:
        fail("layers", "a layer name or module, or a non-empty list of them", layers, TypeError)
    named = dict(model.named_modules())
    names_of = {id(m): n for n, m in named.items()}
    resolved: dict[str, nn.Module] = {}
    for item in items:
        if isinstance(item, str):
            if item not in named:
                close = [n for n in named if n and (item in n or n in item)][:5]
                fail("layers", "names from model.named_modules()" + (f" (close: {close})" if close else ""),
                     f"{item!r}, which the model does not have")
            resolved[item] = named[item]
        elif isinstance(item, nn.Module):
            if id(item) not in names_of:
                fail("layers", "modules of the model", f"a {type(item).__name__} that is not part of it")
            resolved[names_of[id(item)]] = item
        else:
            fail("layers", "layer names or modules", item, TypeError)
    return resolved


def _reduce(value: Any, reduce: str) -> Any:
    if reduce == "none":
        return value
    parts = value if isinstance(value, tuple) else (value,)
    if reduce == "channels":
        return torch.cat([p.reshape(p.shape[0], p.shape[1], -1).mean(2) if p.dim() > 2 else p for p in parts], 1)
    return torch.cat([p.reshape(p.shape[0], -1) for p in parts], 1)


def layer_activations(model: nn.Module, inputs: Any, layers: Any, additional_forward_args: Any = None, *,
                      reduce: str = "flatten", to_input: bool = False, chunk_rows: int | None = None,
                      show_progress: bool = False) -> dict[str, Tensor]:
    """``{layer name: activations}`` for every layer, from one forward pass per chunk.

    ``reduce``: ``"flatten"`` gives ``(examples, neurons)``; ``"channels"`` averages conv maps
    over space, ``(examples, channels)``; ``"none"`` keeps the layer's shape. Structured model
    outputs (Hugging Face ``ModelOutput``, tuples) are fine: only the layers are read.

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> model, x = toy_cnn(batch=3)
        >>> acts = layer_activations(model, x, ["0", "1", "4"], reduce="channels")
        >>> {k: tuple(v.shape) for k, v in acts.items()}
        {'0': (3, 4), '1': (3, 4), '4': (3, 3)}
    """
    check_choice("reduce", reduce, ("flatten", "channels", "none"))
    modules = named_layers(model, layers)
    values = capture_layers(tensor_output(model), inputs, modules,
                            () if additional_forward_args is None else additional_forward_args,
                            to_input=to_input, chunk_rows=chunk_rows, show_progress=show_progress)
    assert isinstance(values, dict)
    return {name: _reduce(value, reduce) for name, value in values.items()}


def token_activations(hidden: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """``(batch, tokens, neurons)`` activations of a text encoder as ``(real tokens, neurons)``:
    padding positions (``attention_mask == 0``) are dropped, tokens in reading order.

    Example:
        >>> hidden = torch.arange(12.0).reshape(2, 3, 2)
        >>> token_activations(hidden, torch.tensor([[1, 1, 0], [1, 0, 0]])).tolist()
        [[0.0, 1.0], [2.0, 3.0], [6.0, 7.0]]
    """
    if hidden.dim() != 3:
        fail("hidden", "a (batch, tokens, neurons) tensor", hidden)
    if attention_mask is None:
        return hidden.reshape(-1, hidden.shape[2])
    if tuple(attention_mask.shape) != tuple(hidden.shape[:2]):
        fail("attention_mask", f"a mask of shape {tuple(hidden.shape[:2])}", attention_mask)
    return hidden[attention_mask.bool()]
