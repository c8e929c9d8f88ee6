"""Engine helpers for neuron analysis: activations with the model's outputs in one pass, the
model run with a layer's units masked, and a first-tensor view of structured outputs.

Neuron rankings need a layer's activations and the class scores of the same examples
(PCACE), or the model's outputs when some units of a layer are zeroed (ablation). Both run
through :func:`veracity._core.engine.forward_points`, chunked under the memory budget.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.capture import example_points, is_batch_aligned
from veracity._core.engine import forward_points
from veracity._core.inputs import prepare_additional_args, prepare_inputs
from veracity._core.layers import Values, capturing, make_sites, run_hooked, user_format
from veracity._core.targets import TargetIndex
from veracity._core.validate import fail


def first_tensor(value: Any) -> Tensor:
    """The first tensor of a model output: a tensor, a tuple/list, a dict or a Hugging Face
    ``ModelOutput`` (its first field, e.g. ``last_hidden_state`` or ``logits``).

    Example:
        >>> first_tensor((torch.ones(2), torch.zeros(3))).shape
        torch.Size([2])
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, dict) and value:
        return first_tensor(next(iter(value.values())))
    if isinstance(value, (tuple, list)) and value:
        return first_tensor(value[0])
    fail("forward_func", "an output holding a tensor", value, TypeError)


def tensor_output(forward_func: Callable[..., Any]) -> Callable[..., Tensor]:
    """``forward_func`` whose output is reduced to its first tensor (for structured outputs)."""
    return lambda *args: first_tensor(forward_func(*args))


def _split_args(args: tuple[Any, ...], batch: int, chunk: tuple[Tensor, ...], n_inputs: int) -> tuple[Any, ...]:
    given = iter(chunk[n_inputs:])
    return tuple(next(given) if is_batch_aligned(a, batch) else a for a in args)


def activations_and_outputs(forward_func: Callable[..., Any], inputs: Any, layers: list[nn.Module],
                            additional_forward_args: Any = None, *, chunk_rows: int | None = None,
                            show_progress: bool = False) -> tuple[list[Any], Tensor]:
    """``(activations per layer, outputs)`` for the whole batch, one forward pass per chunk.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
        >>> acts, out = activations_and_outputs(model, torch.randn(5, 3), [model[1]], chunk_rows=2)
        >>> acts[0].shape, out.shape
        (torch.Size([5, 4]), torch.Size([5, 2]))
    """
    tup, _, batch = prepare_inputs(inputs)
    args = prepare_additional_args(additional_forward_args)
    sites = make_sites(forward_func, layers, False)
    model_call = capturing(tensor_output(forward_func), sites)
    aligned = tuple(a for a in args if is_batch_aligned(a, batch))
    parts: list[list[Values]] = [[] for _ in sites]
    outputs: list[Tensor] = []

    def run(*chunk: Tensor) -> Tensor:
        return model_call(*chunk[:len(tup)], *_split_args(args, batch, chunk, len(tup)))

    def consume(start: int, stop: int, values: Tensor) -> None:
        outputs.append(values[:, 0].clone())
        for site, part in zip(sites, parts):
            part.append(tuple(v.clone() for v in site.record.pop()))

    forward_points(Call(run, tup, False, batch, TargetIndex()), example_points(tup + aligned), consume, raw=True,
                   chunk_rows=chunk_rows, chunk_name="chunk_rows", show_progress=show_progress, desc="activations")
    joined = [user_format(tuple(torch.cat(c) for c in zip(*part)), site) for part, site in zip(parts, sites)]
    return joined, torch.cat(outputs)


def outputs_with_layer_scaled(forward_func: Callable[..., Any], inputs: Any, layer: nn.Module, scale: Tensor,
                              additional_forward_args: Any = None, *, chunk_rows: int | None = None) -> Tensor:
    """The model's outputs with ``layer``'s output multiplied by ``scale`` (broadcast over the
    per-example shape: a 0/1 mask ablates units), one forward pass per chunk.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Identity())
        >>> out = outputs_with_layer_scaled(model, torch.ones(3, 2), model[1], torch.tensor([1.0, 0.0]))
        >>> bool((out[:, 1] == 0).all())
        True
    """
    tup, _, batch = prepare_inputs(inputs)
    args = prepare_additional_args(additional_forward_args)
    sites = make_sites(forward_func, [layer], False)
    aligned = tuple(a for a in args if is_batch_aligned(a, batch))
    wrapped = tensor_output(forward_func)

    def change(values: Values) -> Values:
        if scale.dim() > values[0].dim() - 1:
            fail("scale", f"a mask broadcastable to the layer's per-example shape {tuple(values[0].shape[1:])}",
                 scale)
        return (values[0] * scale.to(values[0]),) + tuple(values[1:])

    def run(*chunk: Tensor) -> Tensor:
        return run_hooked(wrapped, sites, [change], (*chunk[:len(tup)], *_split_args(args, batch, chunk, len(tup))))

    outputs: list[Tensor] = []
    forward_points(Call(run, tup, False, batch, TargetIndex()), example_points(tup + aligned),
                   lambda s, e, values: outputs.append(values[:, 0].clone()), raw=True, chunk_rows=chunk_rows,
                   chunk_name="chunk_rows", desc="ablation")
    return torch.cat(outputs)
