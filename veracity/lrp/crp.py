"""Concept Relevance Propagation (Achtibat et al., Nature Machine Intelligence 2023).

A *concept* is a channel of a layer. Its conditional relevance ``R(x | y, layer: c)`` is the LRP
heatmap of the target ``y`` with the relevance at the layer's output kept only in channel ``c``
(``R_i = sum_j z_ij / z_j * [j in c] * R_j`` there, the composite's rules everywhere else).
Rules are linear in the relevance, so the heatmaps over all channels sum to the unconditional
one, provided every path from the output to the input goes through the layer (in a residual
network, condition on a block's output: relevance on a skip connection *around* a layer is not
masked by that layer's condition). :func:`conditional_relevance` evaluates many channels as
stacked copies of the batch: one forward and one backward per chunk of channels, not a loop;
the copies are the same above the layer, so that part of the model runs once per chunk.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.lrp_engine import layer_output_shape, relevance_pass
from veracity._core.validate import fail
from veracity.lrp.composites import Composite

__all__ = ["conditional_relevance", "concept_relevance", "resolve_layer"]


def resolve_layer(model: nn.Module, layer: nn.Module | str) -> nn.Module:
    """A module of ``model``, given as the module or its name in ``named_modules()``.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
        >>> resolve_layer(model, "1") is model[1]
        True
    """
    if isinstance(layer, str):
        named = dict(model.named_modules())
        if layer not in named:
            fail("layer", "a module of the model or its name from model.named_modules()", repr(layer))
        return named[layer]
    if not isinstance(layer, nn.Module) or not any(m is layer for m in model.modules()):
        fail("layer", "a module of the model or its name", layer, TypeError)
    return layer


def _check(model: Any, composite: Any) -> Composite:
    if not isinstance(model, nn.Module):
        fail("model", "a torch.nn.Module", model, TypeError)
    if not isinstance(composite, Composite):
        fail("composite", "a veracity.lrp composite (e.g. EpsilonPlusFlat())", composite, TypeError)
    return composite


def _channels(channels: Any, count: int) -> list[int]:
    if channels is None:
        return list(range(count))
    if isinstance(channels, int) and not isinstance(channels, bool):
        channels = [channels]
    if isinstance(channels, Tensor):
        channels = channels.flatten().tolist()
    if not isinstance(channels, (list, tuple)) or not channels or not all(
            isinstance(c, int) and not isinstance(c, bool) and 0 <= c < count for c in channels):
        fail("channels", f"channel indices in [0, {count}) (a list, an int or None for all)", channels)
    return list(channels)


def conditional_relevance(model: nn.Module, composite: Composite, inputs: Tensor | tuple[Tensor, ...],
                          target: Any, layer: nn.Module | str, channels: Sequence[int] | int | None = None, *,
                          additional_forward_args: Any = None, batch_size: int | None = None,
                          show_progress: bool = False) -> Tensor | tuple[Tensor, ...]:
    """The input heatmap of each chosen channel of ``layer``: shape ``(batch, channels, *input)``
    (a tuple for tuple inputs). ``channels=None``: every channel. ``batch_size`` caps the model
    rows per pass (channels x examples); by default the memory budget decides.

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> from veracity.lrp import EpsilonPlus
        >>> model, x = toy_cnn()
        >>> heatmaps = conditional_relevance(model, EpsilonPlus(), x, 0, model[0])
        >>> heatmaps.shape
        torch.Size([2, 4, 1, 8, 8])
    """
    composite = _check(model, composite)
    module = resolve_layer(model, layer)
    call = Call.of(model, inputs, target, additional_forward_args, need_float=True)
    shape = layer_output_shape(call, module)
    if len(shape) < 2:
        fail("layer", "a layer whose output has a channel dimension (batch, channels, ...)", f"shape {shape}")
    chosen = _channels(channels, shape[1])
    index = torch.tensor(chosen, device=call.inputs[0].device)
    masks = torch.nn.functional.one_hot(index, shape[1]).to(call.inputs[0].dtype)
    masks = masks.reshape(len(chosen), shape[1], *([1] * (len(shape) - 2)))
    result = relevance_pass(call, model, composite.assign, composite.canonizer_factories(), masks=(module, masks),
                            chunk_rows=batch_size, show_progress=show_progress, desc="CRP")
    per_input = tuple(r.reshape(len(chosen), call.batch, *r.shape[1:]).transpose(0, 1) for r in result.inputs)
    return call.finish(per_input)


def concept_relevance(model: nn.Module, composite: Composite, inputs: Tensor | tuple[Tensor, ...], target: Any,
                      layer: nn.Module | str, channels: Sequence[int] | int | None = None, *,
                      additional_forward_args: Any = None, abs_norm: bool = False) -> Tensor:
    """The relevance of each chosen channel of ``layer``: its relevance summed over positions,
    shape ``(batch, channels)``, from one LRP pass. ``abs_norm`` divides by the sum of absolute
    relevances over all channels of the layer (the paper's relative importance).

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> from veracity.lrp import EpsilonPlus
        >>> model, x = toy_cnn()
        >>> shares = concept_relevance(model, EpsilonPlus(), x, 0, "0", abs_norm=True)
        >>> shares.shape, torch.allclose(shares.abs().sum(1), torch.ones(2))
        (torch.Size([2, 4]), True)
    """
    composite = _check(model, composite)
    module = resolve_layer(model, layer)
    call = Call.of(model, inputs, target, additional_forward_args, need_float=True)
    result = relevance_pass(call, model, composite.assign, composite.canonizer_factories(), taps=[(module, False)])
    return _channel_sums(result.taps[0][0], channels, abs_norm)


def _channel_sums(relevance: Tensor, channels: Sequence[int] | int | None, abs_norm: bool = False) -> Tensor:
    """Per example and channel, the sum over every other dimension; the chosen channels."""
    if relevance.dim() < 2:
        fail("layer", "a layer whose output has a channel dimension (batch, channels, ...)",
             f"shape {tuple(relevance.shape)}")
    sums = relevance.flatten(2).sum(2) if relevance.dim() > 2 else relevance
    if abs_norm:
        sums = sums / sums.abs().sum(1, keepdim=True).clamp(min=torch.finfo(sums.dtype).tiny)
    return sums[:, _channels(channels, sums.shape[1])]
