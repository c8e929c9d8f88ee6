"""Pick the explained scalar per example from the model output.

A target is normalised once per call into a :class:`TargetIndex`: ``None`` (the model
returns one scalar per example), a ``(batch, k)`` integer tensor of per-example index
tuples into the output's dimensions 1..k, or a callable that maps the output to one scalar
per row (an addition to Captum's forms, for regression heads, sums of classes and the like).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.validate import fail


@dataclass(frozen=True)
class TargetIndex:
    """A normalised target: ``index`` is ``(batch, k)`` long, or None; ``select`` a callable."""

    index: Tensor | None = None
    select: Callable[[Tensor], Tensor] | None = None
    every_output: bool = False  # no target: every output value of a row is explained (Captum's perturbation family)

    def repeat(self, copies: int) -> "TargetIndex":
        """The same targets for ``copies`` stacked copies of the batch (point-major)."""
        if self.index is None or copies == 1:
            return self
        return TargetIndex(self.index.repeat(copies, 1), self.select)

    def scalars(self, output: Tensor) -> Tensor:
        """One explained scalar per row of ``output``."""
        rows = output.shape[0]
        if self.select is not None:
            values = self.select(output)
            if not isinstance(values, Tensor) or values.numel() != rows:
                fail("target", f"a callable returning one value per row ({rows})",
                     values if isinstance(values, Tensor) else str(type(values)), TypeError)
            return values.reshape(rows)
        if self.index is None:
            if self.every_output:
                return output
            if output.numel() != rows:
                fail("target", "an index when the model returns more than one value per example "
                     f"({_per_example(output)})", "None")
            return output.reshape(rows)
        index = self.index.to(output.device)
        if index.shape[0] != rows:
            fail("target", f"one target per example ({rows})", f"{index.shape[0]} targets")
        k = index.shape[1]
        if output.dim() < k + 1:
            fail("target", f"at most {output.dim() - 1} indices ({_per_example(output)})", f"{k} indices")
        for dim in range(k):
            size = output.shape[dim + 1]
            column = index[:, dim]
            if bool(((column >= size) | (column < -size)).any()):
                bad = int(column[(column >= size) | (column < -size)][0])
                fail("target", f"indices in [0, {size}) for output dimension {dim + 1} "
                     f"({_per_example(output)})", str(bad))
        picked = output[(torch.arange(rows, device=output.device),) + index.unbind(1)]
        if picked.dim() > 1:
            fail("target", f"indices that select one value per example ({_per_example(output)})",
                 f"{k} indices")
        return picked


def _per_example(output: Tensor) -> str:
    """The model's output shape per example: engine chunks stack many copies of the user's
    batch, so the chunk's row count would only confuse."""
    return f"the model's output per example has shape {tuple(output.shape[1:])}"


def _as_index_row(value: Any) -> tuple[int, ...]:
    if isinstance(value, Tensor):
        if value.numel() == 1 and not value.is_floating_point():
            return (int(value.item()),)
        fail("target", "integer class indices", value, TypeError)
    if isinstance(value, bool):
        fail("target", "integer class indices", value, TypeError)
    if isinstance(value, int):
        return (value,)
    if isinstance(value, tuple) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return value
    fail("target", "an int or a tuple of ints per example", value, TypeError)


def prepare_target(target: Any, batch: int) -> TargetIndex:
    """Normalise any of Captum's target forms (plus a callable) for a batch of ``batch``."""
    if target is None:
        return TargetIndex()
    if callable(target) and not isinstance(target, Tensor):
        return TargetIndex(select=target)
    if isinstance(target, Tensor):
        if target.is_floating_point():
            fail("target", "an integer tensor of class indices", target, TypeError)
        if target.dim() == 0 or target.numel() == 1:
            rows: list[tuple[int, ...]] = [(int(target.reshape(-1)[0]),)] * batch
        elif target.dim() == 1:
            if target.shape[0] != batch:
                fail("target", f"one target per example ({batch}) or a single one", target)
            rows = [(int(t),) for t in target.tolist()]
        elif target.dim() == 2 and target.shape[0] == batch:
            rows = [tuple(int(v) for v in row) for row in target.tolist()]
        else:
            fail("target", f"a 0-d or 1-d tensor with {batch} entries", target)
    elif isinstance(target, list):
        if len(target) != batch:
            fail("target", f"a list with one target per example ({batch})", f"a list of {len(target)}")
        rows = [_as_index_row(v) for v in target]
        if len({len(r) for r in rows}) > 1:
            fail("target", "index tuples of the same length", target)
    else:
        rows = [_as_index_row(target)] * batch
    return TargetIndex(index=torch.tensor(rows, dtype=torch.long).reshape(batch, -1))
