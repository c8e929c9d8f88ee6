"""How many points go into one model call, and the loop over chunks.

A method's points (:class:`Points`) are split into chunks: ``internal_batch_size`` /
``perturbations_per_eval`` rows per model call when the user gives them, honoured exactly.
Otherwise the memory budget (:mod:`veracity._core.config`) sets a *ceiling*, and below it
:func:`run_chunks` picks the faster of two sizes by timing the workload's own first chunks:

* candidates: the ceiling ``L`` (capped at an eighth of the points, so tuning never dominates a
  workload), ``L // 2`` and ``L // 4``; input bytes cannot tell them apart, activations in cache
  can (on a wide CNN the best size sat anywhere between the two extremes);
* schedule: the smallest (a warm-up, not timed), then each candidate twice, largest first; each
  keeps its best seconds per point, and a smaller size replaces a larger only when it wins by
  3%, since on a tie fewer calls are safer;
* the decision, in rows per call, is remembered per (forward function and the models it reaches,
  call site, row shapes and dtypes, device, grad and inference mode), so repeated and short
  workloads start at the tuned size (not when a large candidate capped below the ceiling won:
  a longer workload tunes again). Workloads too short to tune (``L < 2``) use the ceiling.

Tuning costs no extra model calls: every timed chunk is a chunk the workload needed. Methods give
identical results for any chunk boundaries, so only speed depends on the timings. On CUDA
out-of-memory :func:`run_chunks` halves the chunk once and retries.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
import types
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Hashable

import torch
from torch import Tensor

from veracity._core import config
from veracity._core.progress import progress_bar
from veracity._core.validate import fail

BuildFn = Callable[[int, int], tuple[Tensor, ...]]
RowSignature = tuple[tuple[tuple[int, ...], torch.dtype], ...]

_DIVISORS = (1, 2, 4)   # candidates L, L // 2, L // 4: together they straddle a cache cliff
_SMALL_MUST_WIN_BY = 0.03
_TUNE_SHARE = 8         # L <= n_points // 8 keeps the schedule (2L + 2L/2 + 3L/4) within half the points
_CACHE_ENTRIES = 256
_SEARCH_DEPTH = 4       # closures -> bound methods -> attribution objects -> models
_OWNER_ATTRIBUTES = ("forward_func", "attribution_method", "model")


@dataclass(frozen=True)
class Points:
    """``n_points`` stacked versions of a batch of ``batch`` examples.

    ``build(start, stop)`` returns the model inputs for points ``start..stop-1``: each tensor
    has ``(stop - start) * batch * copies`` rows. ``copies`` is 2 when every point carries its
    reference alongside (DeepLift): rows are then copy-major, ``[copy][point][example]``, and
    the first copy is the explained one. Callbacks get values regrouped per point.
    ``signature`` (shape and dtype of one row per input) keys the tuned chunk sizes.
    """

    n_points: int
    batch: int
    build: BuildFn
    row_bytes: int
    device: torch.device
    copies: int = 1
    signature: RowSignature = ()

    @classmethod
    def of(cls, n_points: int, like: tuple[Tensor, ...], build: BuildFn, copies: int = 1) -> "Points":
        row_bytes = sum(t[:1].numel() * t.element_size() for t in like)
        signature = tuple((tuple(t.shape[1:]), t.dtype) for t in like)
        return cls(n_points, like[0].shape[0], build, max(row_bytes, 1), like[0].device, copies, signature)


class ChunkPlan(int):
    """The automatic chunk size: an ``int`` (the ceiling, in points) that :func:`run_chunks` may
    lower by timing. Callers that only need a number use it as one.

    Example:
        >>> plan = ChunkPlan(8, rows_per_point=4)
        >>> plan == 8, plan.rows_per_point
        (True, 4)
    """

    rows_per_point: int

    def __new__(cls, ceiling: int, rows_per_point: int) -> "ChunkPlan":
        plan = super().__new__(cls, ceiling)
        plan.rows_per_point = rows_per_point
        return plan


def points_per_chunk(points: Points, rows: int | None, name: str = "internal_batch_size") -> int:
    """How many points go into one model call.

    ``rows`` (the user's ``internal_batch_size`` and the like) counts model rows, as in Captum;
    it is rounded down to whole points, at least one, and returned as a plain ``int``. ``None``
    means: fit the memory budget, returned as a :class:`ChunkPlan` when tuning may go below it.

    Example:
        >>> points = Points.of(100, (torch.zeros(4, 3),), lambda start, stop: ())
        >>> points_per_chunk(points, 10)
        2
    """
    if rows is not None:
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            fail(name, "a positive integer or None", rows)
        per_point = points.batch * points.copies
        return max(1, min(points.n_points, rows // per_point))
    budget = config.chunk_budget_bytes(points.device)
    per_point_bytes = points.row_bytes * points.batch * points.copies
    ceiling = max(1, min(points.n_points, budget // per_point_bytes))
    if ceiling > 1 and config.current_budget().tuning:
        return ChunkPlan(ceiling, points.batch * points.copies)
    return ceiling


def run_chunks(points: Points, size: int, show_progress: bool, desc: str, step: Callable[[int, int], None],
               *, model: Any = None) -> None:
    """Call ``step(start, stop)`` on consecutive chunks covering all points, in order.

    ``size`` from :func:`points_per_chunk`: a plain ``int`` is used as is, a :class:`ChunkPlan`
    is tuned. ``model`` names what the tuned size is remembered for; by default the models and
    functions reachable from ``step``'s closure. On CUDA out-of-memory the chunk is halved once.

    Example:
        >>> calls = []
        >>> run_chunks(Points.of(5, (torch.zeros(1),), lambda a, b: ()), 2, False, "",
        ...            lambda start, stop: calls.append((start, stop)))
        >>> calls
        [(0, 2), (2, 4), (4, 5)]
    """
    sizer = _sizer(points, size, step if model is None else model)
    retried = False
    with progress_bar(points.n_points, show_progress, desc) as bar:
        start = 0
        while start < points.n_points:
            stop = min(points.n_points, start + sizer.next_size())
            timing = sizer.tuning
            began = _now(points.device) if timing else 0.0
            try:
                step(start, stop)
            except torch.cuda.OutOfMemoryError:
                if stop - start == 1 or retried:
                    raise
                retried = True
                torch.cuda.empty_cache()
                sizer = _Sizer(max(1, (stop - start) // 2))
                continue
            if timing:
                sizer.record(stop - start, _now(points.device) - began)
            bar.update(stop - start)
            start = stop


def forget_tuned_sizes() -> None:
    """Drop every remembered tuning decision (benchmarks and tests start from scratch).

    Example:
        >>> forget_tuned_sizes()
    """
    with _lock:
        _tuned.clear()


def _now(device: torch.device) -> float:
    if device.type == "cuda":  # kernels run asynchronously: wait for them before reading the clock
        torch.cuda.synchronize(device)
    return time.perf_counter()


class _Sizer:
    """The chunk sizes of one :func:`run_chunks`: a schedule of timed sizes, then a fixed one."""

    def __init__(self, fixed: int, schedule: tuple[int, ...] = (), key: Hashable = None,
                 models: tuple[weakref.ref, ...] = (), rows_per_point: int = 1, capped: bool = False) -> None:
        self.fixed, self.schedule, self.key = fixed, list(schedule), key
        self.models, self.rows_per_point, self.capped = models, rows_per_point, capped
        self.seconds_per_point: dict[int, float] = {}
        self.warm = False

    @property
    def tuning(self) -> bool:
        return bool(self.schedule)

    def next_size(self) -> int:
        return self.schedule[0] if self.schedule else self.fixed

    def record(self, k: int, seconds: float) -> None:
        self.schedule.pop(0)
        if self.warm:  # the first call pays for lazy initialisation and allocation
            best = self.seconds_per_point.get(k, float("inf"))
            self.seconds_per_point[k] = min(best, seconds / k)
        self.warm = True
        if not self.schedule:
            times = self.seconds_per_point
            large = max(times)
            self.fixed = large
            for size in sorted(times, reverse=True)[1:]:
                if times[size] < times[self.fixed] * (1 - _SMALL_MUST_WIN_BY):
                    self.fixed = size
            # A large candidate capped below the ceiling (a short workload) that wins says
            # nothing about the ceiling: a longer workload should tune again.
            if not (self.capped and self.fixed == large):
                _remember(self.key, self.fixed * self.rows_per_point, self.models)


def _sizer(points: Points, size: int, owner: Any) -> _Sizer:
    if not isinstance(size, ChunkPlan):
        return _Sizer(int(size))
    ceiling = int(size)
    models, codes = _reachable(owner)
    key = (points.signature, str(points.device), frozenset(id(m) for m in models), codes,
           torch.is_grad_enabled(), torch.is_inference_mode_enabled())
    refs = tuple(weakref.ref(m) for m in models)
    rows = _recall(key)
    if rows is not None:
        return _Sizer(max(1, min(ceiling, rows // size.rows_per_point)))
    large = min(ceiling, points.n_points // _TUNE_SHARE)
    if large < 2:  # too few points to tune without slowing the workload down
        return _Sizer(ceiling)
    sizes = sorted({max(1, large // d) for d in _DIVISORS}, reverse=True)  # largest first
    schedule = (sizes[-1], *sizes, *sizes)  # the first (smallest) chunk warms up, untimed
    return _Sizer(ceiling, schedule, key, refs, size.rows_per_point, large < ceiling)


def _reachable(root: Any) -> tuple[list[torch.nn.Module], frozenset[types.CodeType]]:
    """The modules and function code reachable from ``root`` through closures, bound methods,
    partials and the ``forward_func`` / ``attribution_method`` / ``model`` attributes of
    engine calls and attribution objects: what the tuned size depends on, stable across calls."""
    models: list[torch.nn.Module] = []
    codes: set[types.CodeType] = set()
    seen: set[int] = set()

    def visit(obj: Any, depth: int) -> None:
        if depth < 0 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, torch.nn.Module):
            models.append(obj)
        elif isinstance(obj, types.MethodType):
            visit(obj.__self__, depth)
            visit(obj.__func__, depth)
        elif isinstance(obj, functools.partial):
            visit(obj.func, depth - 1)
        elif isinstance(obj, types.FunctionType):
            codes.add(obj.__code__)
            for cell in obj.__closure__ or ():
                try:
                    visit(cell.cell_contents, depth - 1)
                except ValueError:  # an empty cell: a variable not yet assigned
                    pass
        elif not isinstance(obj, (Tensor, str, bytes, int, float, tuple, list, dict)):
            for name in _OWNER_ATTRIBUTES:
                found = _stored_attribute(obj, name)
                if found is not None:
                    visit(found, depth - 1)

    visit(root, _SEARCH_DEPTH)
    return models, frozenset(codes)


def _stored_attribute(obj: Any, name: str) -> Any:
    """``obj.name`` when it is plain storage (instance dict or slot); no properties run."""
    attributes = getattr(obj, "__dict__", None)
    if attributes is not None and name in attributes:
        return attributes[name]
    if isinstance(inspect.getattr_static(obj, name, None), types.MemberDescriptorType):
        return getattr(obj, name, None)
    return None


_lock = threading.Lock()
_tuned: OrderedDict[Hashable, tuple[int, tuple[weakref.ref, ...]]] = OrderedDict()


def _recall(key: Hashable) -> int | None:
    with _lock:
        entry = _tuned.get(key)
        if entry is None:
            return None
        rows, refs = entry
        if any(ref() is None for ref in refs):  # a model died; its id may now be another's
            del _tuned[key]
            return None
        _tuned.move_to_end(key)
        return rows


def _remember(key: Hashable, rows: int, refs: tuple[weakref.ref, ...]) -> None:
    with _lock:
        _tuned[key] = (rows, refs)
        _tuned.move_to_end(key)
        while len(_tuned) > _CACHE_ENTRIES:
            _tuned.popitem(last=False)
