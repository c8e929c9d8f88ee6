"""The memory budget that bounds the automatic chunk size: a global default and a context.

The budget is a *ceiling* on one chunk's expanded inputs. On CPU it is small, 1 MiB: measured on
the benchmark CNN with 2 threads, forward passes run fastest at 8-24 rows of 3x64x64 images, 30%
slower at 64 rows and 2-3x slower as whole 800-row expansions; at 3x224x224, 1-4 rows per call
are fastest. On CUDA it is a fraction of the free memory, since activations are typically tens of
times the input size. Below the ceiling, :mod:`veracity._core.chunking` times the first chunks to
find the fastest size (input bytes do not tell: activations decide what stays in cache), unless
tuning is off.

:func:`set_memory_budget` sets the process-wide default; :func:`memory_budget` overrides it in a
``with`` block, per thread and per asyncio task (a :class:`contextvars.ContextVar`), nesting and
restoring on exit, also on error.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, replace
from typing import Any, Iterator

import torch

_CPU_BUDGET_BYTES = 1024**2
_CUDA_FREE_FRACTION = 1 / 64


@dataclass(frozen=True)
class BudgetSettings:
    """How the engine sizes chunks when no ``internal_batch_size`` (or the like) is given.

    ``bytes_per_chunk``: bytes of expanded inputs per model call; ``None`` uses the device
    default (1 MiB on CPU, ``cuda_free_fraction`` of the free memory on CUDA). ``tune``: time the
    first chunks and keep the faster size below the ceiling; ``None`` means "tune unless
    ``bytes_per_chunk`` is given", so a byte count set by the caller fixes the chunk size, as it
    always has, and ``tune=True`` turns it into a ceiling instead.
    """

    bytes_per_chunk: int | None = None
    cuda_free_fraction: float = _CUDA_FREE_FRACTION
    tune: bool | None = None

    @property
    def tuning(self) -> bool:
        """Whether chunk sizes below the ceiling are chosen by timing."""
        return self.bytes_per_chunk is None if self.tune is None else self.tune


_default = BudgetSettings()
_scoped: contextvars.ContextVar[BudgetSettings | None] = contextvars.ContextVar("veracity_memory_budget",
                                                                                default=None)
_UNSET: Any = object()


def _checked(settings: BudgetSettings) -> BudgetSettings:
    size = settings.bytes_per_chunk
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"`bytes_per_chunk`: expected a positive integer or None, got {size!r}")
    fraction = settings.cuda_free_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"`cuda_free_fraction`: expected a number in (0, 1], got {fraction!r}")
    if settings.tune is not None and not isinstance(settings.tune, bool):
        raise ValueError(f"`tune`: expected True, False or None, got {settings.tune!r}")
    return settings


def set_memory_budget(bytes_per_chunk: int | None, *, tune: bool | None = None,
                      cuda_free_fraction: float = _CUDA_FREE_FRACTION) -> None:
    """Set the process-wide default budget (``set_memory_budget(None)`` restores the defaults).

    A byte count fixes the bytes of expanded inputs per model call (no tuning) unless
    ``tune=True``. :func:`memory_budget` blocks take precedence over this default.

    Example:
        >>> import veracity
        >>> veracity.set_memory_budget(64 * 1024**2)
        >>> veracity.set_memory_budget(None, tune=False)  # device default, fixed sizes
        >>> veracity.set_memory_budget(None)
    """
    global _default
    _default = _checked(BudgetSettings(bytes_per_chunk, cuda_free_fraction, tune))


@contextlib.contextmanager
def memory_budget(bytes_per_chunk: int | None = _UNSET, *, tune: bool | None = _UNSET,
                  cuda_free_fraction: float = _UNSET) -> Iterator[BudgetSettings]:
    """Override the budget inside a ``with`` block; arguments not given keep the outer values.

    Example:
        >>> import veracity
        >>> with veracity.memory_budget(tune=False) as outer:
        ...     with veracity.memory_budget(4096) as inner:
        ...         (inner.bytes_per_chunk, inner.tune)
        (4096, False)
        >>> current_budget().tune is None   # restored
        True
    """
    given: dict[str, Any] = {name: value for name, value in (("bytes_per_chunk", bytes_per_chunk), ("tune", tune),
                                             ("cuda_free_fraction", cuda_free_fraction))
             if value is not _UNSET}
    settings = _checked(replace(current_budget(), **given))
    token = _scoped.set(settings)
    try:
        yield settings
    finally:
        _scoped.reset(token)


def current_budget() -> BudgetSettings:
    """The settings in force here: the innermost :func:`memory_budget`, else the global default."""
    scoped = _scoped.get()
    return _default if scoped is None else scoped


def chunk_budget_bytes(device: torch.device) -> int:
    """The ceiling on one chunk's expanded input bytes on ``device``."""
    settings = current_budget()
    if settings.bytes_per_chunk is not None:
        return settings.bytes_per_chunk
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return max(int(free * settings.cuda_free_fraction), 1)
    return _CPU_BUDGET_BYTES
