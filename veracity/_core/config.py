"""The memory budget that sets the automatic chunk size. One place to configure it.

On CPU, bigger chunks are not faster: activations of a chunk should stay cache-friendly, so
the default budget for one chunk's *inputs* is small, 1 MiB (measured on the benchmark CNN with
2 threads: forward passes run fastest at 8-24 rows of 3x64x64 images, 30% slower at 64 rows,
and whole 800-row expansions 2-3x slower; forward+backward is flat from 16 to 64 rows; at
3x224x224, 1-4 rows per call are fastest and 16 rows 15-25% slower). On CUDA
the budget is a fraction of the free memory, since activations are typically tens of times
the input size.
"""

from __future__ import annotations

import torch

_CPU_BUDGET_BYTES = 1024**2
_CUDA_FREE_FRACTION = 1 / 64
_override: int | None = None


def set_memory_budget(bytes_per_chunk: int | None) -> None:
    """Fix the bytes of expanded inputs per model call (``None`` restores the defaults).

    Example:
        >>> import veracity
        >>> veracity.set_memory_budget(64 * 1024**2)
        >>> veracity.set_memory_budget(None)
    """
    global _override
    if bytes_per_chunk is not None and (not isinstance(bytes_per_chunk, int) or bytes_per_chunk < 1):
        raise ValueError(f"`bytes_per_chunk`: expected a positive integer or None, got {bytes_per_chunk!r}")
    _override = bytes_per_chunk


def chunk_budget_bytes(device: torch.device) -> int:
    if _override is not None:
        return _override
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return max(int(free * _CUDA_FREE_FRACTION), 1)
    return _CPU_BUDGET_BYTES
