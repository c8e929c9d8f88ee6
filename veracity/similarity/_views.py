"""Checks shared by the similarity explanations: the two views of a pair."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from veracity._core.validate import describe, fail


def check_view(name: str, view: Any, min_dims: int = 2) -> Tensor:
    """A batch-first tensor with at least ``min_dims`` dimensions."""
    if not isinstance(view, Tensor):
        fail(name, "a batch-first tensor", view, TypeError)
    if view.dim() < min_dims:
        fail(name, f"a tensor of at least {min_dims} dimensions (batch first)", describe(view))
    return view


def check_same_batch(first_name: str, first: Any, second_name: str, second: Any) -> None:
    """Both views hold the same number of examples (pairs are matched by row)."""
    first_shapes = [tuple(t.shape) for t in (first if isinstance(first, tuple) else (first,))]
    second_shapes = [tuple(t.shape) for t in (second if isinstance(second, tuple) else (second,))]
    if first_shapes[0][:1] != second_shapes[0][:1]:
        shown = ", ".join(str(s) for s in second_shapes)
        fail(second_name, f"a batch of {first_shapes[0][0]} examples like `{first_name}` "
             f"(shape {', '.join(str(s) for s in first_shapes)}): pairs are matched row by row",
             f"shape {shown}")
