"""Normalise `inputs`, `baselines` and `additional_forward_args`; format results back.

Every method sees inputs as a tuple of batch-first tensors, baselines as a tuple of tensors
of the inputs' shapes, and extra arguments as a tuple. Results go back to the container
type the user passed (tensor in, tensor out; tuple in, tuple out).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence, cast

import torch
from torch import Tensor

from veracity._core.validate import describe, fail

TensorOrTuple = Tensor | tuple[Tensor, ...]


def as_tuple(inputs: Any, name: str = "inputs") -> tuple[tuple[Tensor, ...], bool]:
    """Return ``(tuple_of_tensors, was_tuple)`` after checking that every element is a tensor."""
    if isinstance(inputs, Tensor):
        return (inputs,), False
    if isinstance(inputs, tuple) and len(inputs) > 0 and all(isinstance(t, Tensor) for t in inputs):
        return inputs, True
    fail(name, "a tensor or a non-empty tuple of tensors (batch first)", inputs, TypeError)


def format_like(was_tuple: bool, values: Sequence[Tensor]) -> TensorOrTuple:
    """Give results back in the container type of the user's inputs."""
    return tuple(values) if was_tuple else values[0]


def check_inputs(inputs: tuple[Tensor, ...], name: str = "inputs", need_float: bool = False) -> int:
    """Check batch alignment and finiteness; return the batch size."""
    for i, tensor in enumerate(inputs):
        where = name if len(inputs) == 1 else f"{name}[{i}]"
        if tensor.dim() == 0:
            fail(where, "a tensor with a batch dimension first", tensor)
        if need_float and not tensor.is_floating_point():
            fail(where, "a floating-point tensor (gradients need one; attribute to an "
                 "embedding layer for token ids)", tensor, TypeError)
        if tensor.is_floating_point() or tensor.is_complex():
            if not bool(torch.isfinite(tensor).all()):
                fail(where, "finite values only", "a tensor containing NaN or inf")
    batch = inputs[0].shape[0]
    for i, tensor in enumerate(inputs[1:], start=1):
        if tensor.shape[0] != batch:
            fail(name, f"every tensor with the same batch size ({batch}, from {name}[0])",
                 f"batch size {tensor.shape[0]} for {name}[{i}]")
    return batch


def prepare_inputs(inputs: Any, need_float: bool = False) -> tuple[tuple[Tensor, ...], bool, int]:
    """``as_tuple`` then ``check_inputs``: the common first step of every method."""
    tup, was_tuple = as_tuple(inputs)
    batch = check_inputs(tup, need_float=need_float)
    return tup, was_tuple, batch


def _one_baseline(value: Any, like: Tensor, name: str) -> Tensor:
    if value is None:
        return torch.zeros_like(like)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.full_like(like, float(value))
    if not isinstance(value, Tensor):
        fail(name, "None, a number or a tensor", value, TypeError)
    value = value.to(device=like.device, dtype=like.dtype if like.is_floating_point() else value.dtype)
    shape = tuple(like.shape)
    if value.dim() == 0:
        return value.expand(shape)
    if tuple(value.shape) == shape:
        return value
    if tuple(value.shape) == shape[1:] or (value.shape[0] == 1 and tuple(value.shape[1:]) == shape[1:]):
        return value.expand(shape)
    fail(name, f"a tensor of shape {shape}, (1, *{shape[1:]}) or {shape[1:]}", value)


def _numpy_and_lists(baselines: Any) -> Any:
    """Baselines given as numpy arrays become tensors; a list is one baseline per input (a tuple)."""
    if isinstance(baselines, list):
        return tuple(_numpy_and_lists(b) for b in baselines)
    if isinstance(baselines, tuple):
        return tuple(_numpy_and_lists(b) for b in baselines)
    if type(baselines).__module__ == "numpy" and hasattr(baselines, "__array__"):
        return torch.as_tensor(baselines)
    return baselines


def prepare_baselines(baselines: Any, inputs: tuple[Tensor, ...], name: str = "baselines") -> tuple[Tensor, ...]:
    """One baseline per input, broadcast to the input's shape (views, no copies). Numpy arrays
    and lists (one baseline per input) are accepted as well."""
    baselines = _numpy_and_lists(baselines)
    if isinstance(baselines, tuple):
        if len(baselines) != len(inputs):
            fail(name, f"a tuple of {len(inputs)} baselines, one per input", baselines)
        items = baselines
    else:
        if len(inputs) > 1 and baselines is not None and not isinstance(baselines, (int, float)):
            fail(name, f"a tuple of {len(inputs)} baselines, one per input, or a number", baselines)
        items = (baselines,) * len(inputs)
    result = []
    for i, (value, like) in enumerate(zip(items, inputs)):
        where = name if len(inputs) == 1 else f"{name}[{i}]"
        baseline = _one_baseline(value, like, where)
        if baseline.is_floating_point() and not bool(torch.isfinite(baseline).all()):
            fail(where, "finite values only", "a tensor containing NaN or inf")
        result.append(baseline)
    return tuple(result)


def prepare_baseline_distribution(
    baselines: Any, inputs: tuple[Tensor, ...], name: str = "baselines"
) -> tuple[Tensor, ...]:
    """Shap-style baselines: any number of rows per input, only ``shape[1:]`` must match.

    A callable is called with the inputs (or with no argument if it takes none).
    """
    if callable(baselines) and not isinstance(baselines, Tensor):
        try:
            takes_args = len(inspect.signature(baselines).parameters) > 0
        except (TypeError, ValueError):
            takes_args = True
        baselines = baselines(inputs if len(inputs) > 1 else inputs[0]) if takes_args else baselines()
    baselines = _numpy_and_lists(baselines)
    if baselines is None:
        fail(name, "a tensor (or tuple of tensors) of baseline rows, or a callable returning one",
             baselines, TypeError)
    items = baselines if isinstance(baselines, tuple) else (baselines,)
    if len(items) != len(inputs):
        fail(name, f"{len(inputs)} baseline distributions, one per input", baselines)
    result = []
    for i, (value, like) in enumerate(zip(items, inputs)):
        where = name if len(inputs) == 1 else f"{name}[{i}]"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = torch.full_like(like[:1], float(value))
        if not isinstance(value, Tensor):
            fail(where, "a tensor of baseline rows", value, TypeError)
        if tuple(value.shape) == tuple(like.shape[1:]):
            value = value.unsqueeze(0)
        if tuple(value.shape[1:]) != tuple(like.shape[1:]) or value.shape[0] < 1:
            fail(where, f"a tensor of shape (n_baselines, *{tuple(like.shape[1:])})", value)
        value = value.to(device=like.device, dtype=like.dtype)
        if not bool(torch.isfinite(value).all()):
            fail(where, "finite values only", "a tensor containing NaN or inf")
        result.append(value)
    counts = {t.shape[0] for t in result}
    if len(counts) > 1:
        fail(name, "the same number of baseline rows for every input", f"counts {sorted(counts)}")
    return tuple(result)


def prepare_additional_args(args: Any) -> tuple[Any, ...]:
    """`additional_forward_args`: None, one object, or a tuple of objects."""
    if args is None:
        return ()
    return args if isinstance(args, tuple) else (args,)


def repeat_args(args: tuple[Any, ...], batch: int, copies: int) -> tuple[Any, ...]:
    """Tile tensors whose first dimension is the batch, ``copies`` times (point-major)."""
    if copies == 1:
        return args
    return tuple(
        a.repeat(copies, *([1] * (a.dim() - 1)))
        if isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == batch
        else a
        for a in args
    )


def sum_per_example(values: Sequence[Tensor]) -> Tensor:
    """Sum every tensor over all but the first dimension and add them up: one scalar per example."""
    return cast(Tensor, sum(v.reshape(v.shape[0], -1).sum(1) for v in values))  # values is never empty


def call_forward(forward_func: Callable[..., Any], inputs: Sequence[Tensor], args: tuple[Any, ...]) -> Tensor:
    """Call the model and check that it returned a tensor."""
    output = forward_func(*inputs, *args)
    if not isinstance(output, Tensor):
        fail("forward_func", "a model that returns a tensor", f"{describe(output)} from the model",
             TypeError)
    return output


def softmax_outputs(forward_func: Callable[..., Any]) -> Callable[..., Tensor]:
    """The model with a softmax over dimension 1 of its output: class probabilities instead of
    logits (Score-CAM's scores, metrics on probabilities)."""

    def probabilities(*args: Any) -> Tensor:
        return torch.softmax(forward_func(*args), dim=1)

    return probabilities
