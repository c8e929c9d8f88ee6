"""Gradients of explained scalars with respect to a model's parameters, summed or per example.

Influence methods (TracIn, influence functions) and parameter-space checks need the gradient of
a target output or of a loss with respect to the weights: summed over a batch (one
``torch.autograd.grad`` per chunk) or one gradient per example (``torch.func.vmap`` over
``torch.func.grad``, one vectorised call per chunk). The model is called through
``torch.func.functional_call`` with *detached aliases* of the parameters and clones of the
buffers, so the user's ``requires_grad`` flags, ``.grad`` fields and running statistics are
never touched, and frozen parameters can be differentiated too.

Rows are assumed independent (a model in eval mode): the per-example path sees each example
alone, the summed path a chunk at a time. A model vmap cannot run (data-dependent control flow,
``.item()``, in-place updates of buffers) falls back to one forward per chunk and one backward
per example, with the same results.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from veracity._core.capture import example_points, is_batch_aligned, rows_of
from veracity._core.chunking import points_per_chunk, run_chunks
from veracity._core.inputs import prepare_additional_args, prepare_inputs
from veracity._core.targets import TargetIndex, prepare_target
from veracity._core.validate import describe, fail

LossFn = Callable[[Tensor, Any], Tensor]  # (outputs, labels); labels is None when none are given


def select_parameters(model: nn.Module, parameters: Sequence[str | nn.Module] | None) -> dict[str, Tensor]:
    """The chosen parameters by name, in ``named_parameters()`` order.

    ``None``: every parameter that requires grad. Otherwise names from ``named_parameters()``
    and/or modules of the model (all their parameters); frozen ones may be chosen explicitly.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
        >>> list(select_parameters(model, [model[1], "0.bias"]))
        ['0.bias', '1.weight', '1.bias']
    """
    named = dict(model.named_parameters())
    if parameters is None:
        chosen = {n for n, p in named.items() if p.requires_grad}
        if not chosen:
            fail("parameters", "a model with parameters that require grad, or an explicit selection",
                 "a model whose parameters are all frozen")
    else:
        items = [parameters] if isinstance(parameters, (str, nn.Module)) else list(parameters)
        name_of = {id(p): n for n, p in named.items()}
        chosen = set()
        for item in items:
            if isinstance(item, str):
                if item not in named:
                    fail("parameters", f"names from model.named_parameters(), e.g. {list(named)[:4]}", repr(item))
                chosen.add(item)
            elif isinstance(item, nn.Module):
                owned = list(item.parameters())
                if not owned or any(id(p) not in name_of for p in owned):
                    fail("parameters", "modules of the model that own parameters", describe(item))
                chosen.update(name_of[id(p)] for p in owned)
            else:
                fail("parameters", "parameter names or modules of the model", item, TypeError)
        if not chosen:
            fail("parameters", "at least one parameter name or module", parameters)
    return {n: p for n, p in named.items() if n in chosen}


def _check_output(output: Any, rows: int) -> Tensor:
    if not isinstance(output, Tensor) or output.dim() == 0 or output.shape[0] != rows:
        fail("model", f"a tensor output with one row per input row ({rows})", output)
    return output


def _loss_values(loss_fn: LossFn, output: Tensor, labels: Tensor | None, rows: int) -> Tensor:
    values = loss_fn(output, labels)
    if not isinstance(values, Tensor) or values.dim() == 0 or values.numel() != rows:
        fail("loss_fn", f"one loss per example ({rows}), e.g. reduction='none' (a mean over a chunk "
             "would make the gradients depend on the chunk size)", values)
    return values.reshape(rows)


def _pick(output: Tensor, index: Tensor) -> Tensor:
    """``output[0, *index]`` with plain tensor arithmetic, so that vmap can batch it."""
    position = index.new_zeros(())
    for dim, size in enumerate(output.shape[1:]):
        position = position * size + torch.where(index[dim] < 0, index[dim] + size, index[dim])
    return output.reshape(-1).gather(0, position.reshape(1))


def _validate_target(model: nn.Module, state: tuple[dict, ...], target: TargetIndex, inputs: tuple[Tensor, ...],
                     args: tuple[Any, ...], batch: int) -> None:
    """Check every index against the output shape (vmap cannot run data-dependent checks)."""
    with torch.no_grad():
        output = _check_output(functional_call(model, state, (*(t[:1] for t in inputs), *rows_of(args, batch, 0, 1))),
                               1)
    target.scalars(torch.zeros((batch, *output.shape[1:]), dtype=output.dtype))


def parameter_gradients(
    model: nn.Module,
    inputs: Tensor | tuple[Tensor, ...],
    *,
    target: Any = None,
    loss_fn: LossFn | None = None,
    labels: Tensor | None = None,
    additional_forward_args: Any = None,
    parameters: Sequence[str | nn.Module] | None = None,
    per_example: bool = False,
    chunk_rows: int | None = None,
    vectorize: bool = True,
    show_progress: bool = False,
) -> dict[str, Tensor]:
    """Gradients of the explained scalars with respect to ``parameters``: name -> tensor.

    The explained scalar of an example is its ``target`` output (Captum's target forms, a
    callable, or a :class:`TargetIndex`), or with ``loss_fn`` its loss ``loss_fn(outputs,
    labels)``, which must give one value per example (``reduction='none'``); a mean-reduced
    loss is rejected with an error naming ``loss_fn``, since its chunk-wise gradients would
    depend on the chunk size. ``per_example=False`` returns the sum over the batch, shaped like
    each parameter; ``per_example=True`` returns ``(batch, *param.shape)`` per parameter.
    ``vectorize=False`` forces the fallback (one backward per example). Batch-aligned extra
    arguments are split with the inputs; others are passed to every chunk.

    Example:
        >>> model = torch.nn.Linear(3, 2)
        >>> x = torch.randn(4, 3)
        >>> grads = parameter_gradients(model, x, target=0, per_example=True)
        >>> torch.allclose(grads["weight"][:, 0], x), bool((grads["weight"][:, 1] == 0).all())
        (True, True)
    """
    if not isinstance(model, nn.Module):
        fail("model", "a torch.nn.Module (its parameters are differentiated)", model, TypeError)
    tup, _, batch = prepare_inputs(inputs)
    args = prepare_additional_args(additional_forward_args)
    chosen = select_parameters(model, parameters)
    if loss_fn is not None:
        if target is not None:
            fail("target", "None when loss_fn is given (the loss is the explained scalar)", target)
        if not callable(loss_fn):
            fail("loss_fn", "a callable loss_fn(outputs, labels)", loss_fn, TypeError)
        if labels is not None and not is_batch_aligned(labels, batch):
            fail("labels", f"a tensor with one row per example ({batch})", labels)
    explained = target if isinstance(target, TargetIndex) else prepare_target(target, batch)
    # the rest of the state: constants for autograd; buffers cloned so updates cannot leak out
    frozen = {n: p.detach() for n, p in model.named_parameters() if n not in chosen}
    buffers = {n: b.clone() for n, b in model.named_buffers()}

    def scalars_of(output: Tensor, labels_rows: Tensor | None, target_rows: TargetIndex) -> Tensor:
        rows = output.shape[0]
        if loss_fn is not None:
            return _loss_values(loss_fn, output, labels_rows, rows)
        return target_rows.scalars(output)

    def forward(leaves: dict[str, Tensor], chunk: tuple[Tensor, ...], chunk_args: tuple[Any, ...]) -> Tensor:
        output = functional_call(model, (leaves, frozen, buffers), (*chunk, *chunk_args))
        return _check_output(output, chunk[0].shape[0])

    def rows(start: int, stop: int) -> tuple[tuple[Tensor, ...], tuple[Any, ...], Tensor | None, TargetIndex]:
        index = explained.index
        target_rows = explained if index is None else TargetIndex(index[start:stop], explained.select)
        return (tuple(t[start:stop] for t in tup), rows_of(args, batch, start, stop),
                None if labels is None else labels[start:stop], target_rows)

    def loop_step(start: int, stop: int) -> dict[str, Tensor]:
        chunk, chunk_args, labels_rows, target_rows = rows(start, stop)
        with torch.enable_grad():
            leaves = {n: p.detach().requires_grad_() for n, p in chosen.items()}
            scalars = scalars_of(forward(leaves, chunk, chunk_args), labels_rows, target_rows)
            if not scalars.requires_grad:
                fail("model", "an output that depends on the parameters through autograd",
                     "an output with no gradient (is the model run under torch.no_grad()?)")
            wanted = list(leaves.values())
            if not per_example:
                found = [torch.autograd.grad(scalars.sum(), wanted, allow_unused=True)]
            else:
                found = [torch.autograd.grad(scalars[i], wanted, retain_graph=i < stop - start - 1,
                                             allow_unused=True) for i in range(stop - start)]
        columns = zip(*[[torch.zeros_like(w) if g is None else g for g, w in zip(row, wanted)] for row in found])
        values = [torch.stack(c) if per_example else c[0] for c in columns]
        return dict(zip(leaves, values))

    aligned_at = [i for i, a in enumerate(args) if is_batch_aligned(a, batch)]
    index_dim = None if explained.index is None else 0

    def one_example(leaves: dict[str, Tensor], example: tuple[Tensor, ...], aligned: tuple[Tensor, ...],
                    label: Tensor | None, index: Tensor | None) -> Tensor:
        given = dict(zip(aligned_at, aligned))
        example_args = tuple(given[i].unsqueeze(0) if i in given else a for i, a in enumerate(args))
        output = forward(leaves, tuple(t.unsqueeze(0) for t in example), example_args)
        if loss_fn is not None:
            return _loss_values(loss_fn, output, None if label is None else label.unsqueeze(0), 1).sum()
        if index is not None:
            return _pick(output, index).sum()
        return explained.scalars(output).sum()

    batched = vmap(grad(one_example), in_dims=(None, 0, 0, None if labels is None else 0, index_dim))
    use_vmap = per_example and vectorize

    def vmap_step(start: int, stop: int) -> dict[str, Tensor]:
        chunk, chunk_args, labels_rows, target_rows = rows(start, stop)
        aligned = tuple(chunk_args[i] for i in aligned_at)
        leaves = {n: p.detach() for n, p in chosen.items()}
        return batched(leaves, chunk, aligned, labels_rows, target_rows.index)

    if use_vmap and loss_fn is None and explained.index is not None:
        _validate_target(model, (chosen, frozen, buffers), explained, tup, args, batch)
    param_bytes = sum(p.numel() * p.element_size() for p in chosen.values()) if per_example else 0
    points = example_points(tup, param_bytes)
    result: dict[str, Tensor] = {}

    def step(start: int, stop: int) -> None:
        nonlocal use_vmap
        found = None
        if use_vmap:
            try:
                found = vmap_step(start, stop)
            except torch.cuda.OutOfMemoryError:
                raise
            except (RuntimeError, ValueError, TypeError, NotImplementedError):
                use_vmap = False  # e.g. data-dependent control flow: the loop is always correct
        if found is None:
            found = loop_step(start, stop)
        for name, value in found.items():
            if not per_example:
                result[name] = result[name] + value if name in result else value
            elif start == 0 and stop == batch:
                result[name] = value  # one chunk: no copy
            else:
                if name not in result:
                    result[name] = value.new_empty((batch, *value.shape[1:]))
                result[name][start:stop] = value

    run_chunks(points, points_per_chunk(points, chunk_rows, "chunk_rows"), show_progress, "parameter gradients",
               step)
    return result
