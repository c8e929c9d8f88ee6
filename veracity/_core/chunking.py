"""How many points go into one model call, and the loop over chunks.

A method's points (:class:`Points`) are split into chunks: ``internal_batch_size`` /
``perturbations_per_eval`` rows per model call when the user gives them, else as many as the
memory budget (:mod:`veracity._core.config`) allows. :func:`run_chunks` walks the chunks, with
one retry at half the size on CUDA out-of-memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from veracity._core import config
from veracity._core.progress import progress_bar
from veracity._core.validate import fail

BuildFn = Callable[[int, int], tuple[Tensor, ...]]


@dataclass(frozen=True)
class Points:
    """``n_points`` stacked versions of a batch of ``batch`` examples.

    ``build(start, stop)`` returns the model inputs for points ``start..stop-1``: each tensor
    has ``(stop - start) * batch * copies`` rows. ``copies`` is 2 when every point carries its
    reference alongside (DeepLift): rows are then copy-major, ``[copy][point][example]``, and
    the first copy is the explained one. Callbacks get values regrouped per point.
    """

    n_points: int
    batch: int
    build: BuildFn
    row_bytes: int
    device: torch.device
    copies: int = 1

    @classmethod
    def of(cls, n_points: int, like: tuple[Tensor, ...], build: BuildFn, copies: int = 1) -> "Points":
        row_bytes = sum(t[:1].numel() * t.element_size() for t in like)
        return cls(n_points, like[0].shape[0], build, max(row_bytes, 1), like[0].device, copies)


def points_per_chunk(points: Points, rows: int | None, name: str = "internal_batch_size") -> int:
    """How many points go into one model call.

    ``rows`` (the user's ``internal_batch_size`` and the like) counts model rows, as in Captum;
    it is rounded down to whole points, at least one. ``None`` means: fit the memory budget.
    """
    if rows is not None:
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            fail(name, "a positive integer or None", rows)
        per_point = points.batch * points.copies
        return max(1, min(points.n_points, rows // per_point))
    budget = config.chunk_budget_bytes(points.device)
    per_point_bytes = points.row_bytes * points.batch * points.copies
    return max(1, min(points.n_points, budget // per_point_bytes))


def run_chunks(points: Points, size: int, show_progress: bool, desc: str, step: Callable[[int, int], None]) -> None:
    """Call ``step`` on consecutive chunks; on CUDA out-of-memory, halve the chunk once and retry."""
    retried = False
    with progress_bar(points.n_points, show_progress, desc) as bar:
        start = 0
        while start < points.n_points:
            stop = min(points.n_points, start + size)
            try:
                step(start, stop)
            except torch.cuda.OutOfMemoryError:
                if stop - start == 1 or retried:
                    raise
                retried = True
                torch.cuda.empty_cache()
                size = max(1, (stop - start) // 2)
                continue
            bar.update(stop - start)
            start = stop
