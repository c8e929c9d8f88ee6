"""Explained scores of many perturbed copies of a batch, and models that score a whole batch.

The perturbation family (and the CAMs and metrics built on it) describes perturbed copies of
a batch as :class:`~veracity._core.chunking.Points`; :func:`scores` evaluates them through
:func:`~veracity._core.engine.forward_points` and returns the explained scalar of every point
and example as one ``(n_points, batch)`` tensor.

A model may also return ONE scalar for the whole batch (a loss, a batch statistic), as Captum
allows for this family. The first model output tells: it is 0-d, a Python number, or a single
row (one value, or values a target picks one from) for several input rows. Each point is then
one model call on the full batch (``perturbations_per_eval`` must be 1 or None, the feature
masks one map for the batch, the target absent or one index into that row) and the scores are
``(n_points, 1)``: the methods' arithmetic is unchanged and their attributions get a first
dimension of 1, as in Captum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.chunking import Points, points_per_chunk
from veracity._core.engine import forward_points
from veracity._core.targets import TargetIndex
from veracity._core.validate import check_optional_positive_int, describe, fail

BuildFn = Callable[[int, int], tuple[Tensor, ...]]


@dataclass
class OutputMode:
    """What :func:`scores` learned from the first model call: one value per example (the
    default) or, when ``per_batch``, one scalar for the whole batch."""

    per_batch: bool = False
    output_shape: tuple[int, ...] = ()  # every_output: the shape of one example's output values


class _OneForAll(Exception):
    """Raised out of the first model call whose output is one value for all its input rows."""

    def __init__(self, output: Any, rows: int) -> None:
        super().__init__("forward_func returned one value for the whole batch")
        self.output, self.rows = output, rows


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _one_for_all(output: Any, rows: int) -> bool:
    """Whether ``output`` (for ``rows`` input rows) is one value, or one row, for all of them."""
    if _is_number(output):
        return True
    if not isinstance(output, Tensor):
        return False
    return output.dim() == 0 or (rows > 1 and output.shape[0] == 1)


def _batch_value(output: Any, target: TargetIndex, batch: int) -> Tensor:
    """The explained scalar of a whole-batch output, 0-d."""
    if _is_number(output):
        output = torch.tensor(output, dtype=torch.float64 if isinstance(output, float) else torch.int64)
    if not isinstance(output, Tensor):
        fail("forward_func", "a model that returns a tensor", f"{describe(output)} from the model", TypeError)
    shape = tuple(output.shape)
    if target.select is not None:
        picked = target.select(output if output.dim() else output.reshape(1))
        if not isinstance(picked, Tensor) or picked.numel() != 1:
            fail("target", f"a callable returning one value for the whole batch (the model returns one output "
                 f"of shape {shape} for a batch of {batch})",
                 picked if isinstance(picked, Tensor) else str(type(picked)), TypeError)
        return picked.reshape(())
    if target.index is not None:
        if output.dim() < 2 or output.shape[0] != 1:
            fail("target", f"None: the model returns a single scalar for the whole batch of {batch} "
                 f"(output shape {shape}), there is nothing to index", "a target")
        return TargetIndex(index=target.index[:1]).scalars(output).reshape(())
    if output.numel() != 1:
        fail("target", f"an index into the model's single output row (shape {shape}) for the whole batch "
             f"of {batch}", "None")
    return output.reshape(())


def _check_per_batch(call: Call, output: Any, rows: int, perturbations_per_eval: int | None,
                     mask_ids: Sequence[Tensor] | None) -> None:
    """Refuse what cannot work when the model scores the whole batch with one value."""
    what = (f"{describe(output)} for {rows} input rows" if isinstance(output, Tensor)
            else f"the number {output!r} for {rows} input rows")
    if perturbations_per_eval is not None and perturbations_per_eval > 1:
        fail("perturbations_per_eval", "1 (or None) when forward_func returns one scalar for the whole "
             f"batch (it returned {what}): every perturbation of the batch needs its own model call",
             str(perturbations_per_eval))
    index = call.target.index
    if index is not None and not bool((index == index[:1]).all()):
        fail("target", "one target for the whole batch when forward_func returns one output for the "
             f"whole batch (it returned {what})", "a different target per example")
    if mask_ids is not None:
        for ids in mask_ids:
            if ids.shape[0] != 1:
                fail("feature_mask", "masks with first dimension 1 (one map shared by the batch) when "
                     f"forward_func returns one scalar for the whole batch (it returned {what})",
                     f"a mask with first dimension {ids.shape[0]}")


def _first_point_alone(probed: Callable[..., Any], call: Call, build: BuildFn) -> tuple[Any, int] | None:
    """Evaluate point 0 by itself: does the model score the whole batch with one value?"""
    try:
        forward_points(call.with_forward(probed), Points.of(1, call.inputs, lambda start, stop: build(0, 1)),
                       lambda *_: None, chunk_rows=call.batch)
    except _OneForAll as one:
        return one.output, one.rows
    except Exception:  # the caller re-raises its own, first error
        return None
    return None


def scores(call: Call, n_points: int, build: BuildFn, perturbations_per_eval: int | None,
           show_progress: bool, desc: str, mask_ids: Sequence[Tensor] | None = None,
           after: Callable[[int, int, tuple[Tensor, ...]], None] | None = None,
           mode: OutputMode | None = None, every_output: bool = False) -> Tensor:
    """The explained scalar of every point and example, ``(n_points, rows)``, at least float32.

    ``rows`` is the batch, or 1 if the first model output is one value for all its rows:
    then ``mode.per_batch`` is set (when a ``mode`` is given) and every point is evaluated
    again, one model call on the whole batch each: the result is then ``(n_points, 1)``.
    (If that first call stacked several points and the model failed on it, point 0 is tried
    alone before the error is re-raised: a batch loss that closes over per-example labels only
    accepts the batch's own rows.) ``mask_ids`` (the feature masks' group ids, if any) must then
    be shared by the batch. ``after(start, stop, chunk)`` runs once per chunk whose scores were
    kept, with its model inputs. ``perturbations_per_eval`` is checked here, once for every
    caller (public ``attribute`` and derived calls alike).

    ``every_output``: with no target and a model that returns several values per example
    (``K``), every value is explained, as Captum's perturbation family does: the result is
    ``(n_points, rows * K)``, column ``b * K + k`` the ``k``-th value (flattened) of example
    ``b``, and ``mode.output_shape`` is the shape of one example's values."""
    check_optional_positive_int("perturbations_per_eval", perturbations_per_eval)
    if every_output and call.target.index is None and call.target.select is None:
        call = call.replace(target=TargetIndex(every_output=True))
    result: list[Tensor] = []
    latest: list[tuple[Tensor, ...]] = []

    def built(start: int, stop: int) -> tuple[Tensor, ...]:
        latest.clear()
        chunk = build(start, stop)
        if after is not None:
            latest.append(chunk)
        return chunk

    def consume(start: int, stop: int, values: Tensor) -> None:
        result.append(values.to(torch.promote_types(values.dtype, torch.float32)))
        if after is not None:
            after(start, stop, latest.pop())

    unchecked = [True]  # only the first model output decides the mode

    forward_func = call.forward_func

    def probed(*arguments: Any) -> Any:
        output = forward_func(*arguments)
        if unchecked:
            unchecked.clear()
            if _one_for_all(output, arguments[0].shape[0]):
                raise _OneForAll(output, arguments[0].shape[0])
        return output

    def per_batch(*arguments: Any) -> Tensor:
        value = _batch_value(forward_func(*arguments), call.target, call.batch)
        return value.to(arguments[0].device).reshape(1).expand(arguments[0].shape[0])

    points = Points.of(n_points, call.inputs, built)
    common: dict[str, Any] = {"chunk_name": "perturbations_per_eval", "show_progress": show_progress, "desc": desc}
    rows = None if perturbations_per_eval is None else perturbations_per_eval * call.batch
    try:
        forward_points(call.with_forward(probed), points, consume, chunk_rows=rows, **common)
        values = torch.cat(result)
        if values.dim() > 2:  # every_output: (n_points, batch, *per example) -> example-major columns
            if mode is not None and math.prod(values.shape[2:]) > 1:  # (batch, 1) outputs stay one per example
                mode.output_shape = tuple(values.shape[2:])
            values = values.reshape(values.shape[0], -1)
        return values
    except _OneForAll as one:
        found = one.output, one.rows  # not the exception: its traceback holds the chunk
    except Exception:
        retry = None if result or points_per_chunk(points, rows) == 1 else _first_point_alone(probed, call, build)
        if retry is None:
            raise
        found = retry
    latest.clear()
    _check_per_batch(call, *found, perturbations_per_eval, mask_ids)
    if mode is not None:
        mode.per_batch = True
    result.clear()
    forward_points(call.replace(forward_func=per_batch, target=TargetIndex()), points, consume,
                   chunk_rows=call.batch, **common)
    return torch.cat(result)[:, :1].contiguous()
