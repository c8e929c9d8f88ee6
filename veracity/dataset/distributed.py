"""The processes of a dataset-scale run: one (no launcher) or the ranks of ``torch.distributed``.

Under ``torchrun --nproc-per-node N`` (the environment holds ``WORLD_SIZE`` > 1) the default process
group is started on first use when the caller has not started it: ``nccl`` when CUDA is available
(each rank on the GPU ``LOCAL_RANK``), ``gloo`` otherwise. A group started here stays for the
process's later runs (torchrun's rendezvous does not serve a second group well) and is destroyed
at exit; one the caller started is left to the caller.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Processes:
    """This process's ``rank`` among ``size`` processes; collectives that are no-ops for one process.

    Example:
        >>> one = Processes(rank=0, size=1)
        >>> one.gather("x"), one.broadcast({"a": 1})
        (['x'], {'a': 1})
    """

    rank: int
    size: int

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (picklable), in rank order, on every rank."""
        if self.size == 1:
            return [value]
        values: list[Any] = [None] * self.size
        dist.all_gather_object(values, value)
        return values

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if self.size == 1:
            return value
        box = [value if self.rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()



def _destroy() -> None:  # pragma: no cover - runs at exit
    if dist.is_initialized():
        dist.destroy_process_group()


def processes(distributed: bool | None = None) -> Processes:
    """The processes of this run.

    ``distributed=None`` (default): the default process group when one is started, else one started
    from torchrun's environment when ``WORLD_SIZE`` > 1, else this process alone. ``False``: this
    process alone, whatever the environment. ``True``: a process group is required.
    """
    if distributed is False or not dist.is_available():
        if distributed:
            raise RuntimeError("`distributed`: torch.distributed is not available in this build of torch")
        return Processes(0, 1)
    if dist.is_initialized():
        return Processes(dist.get_rank(), dist.get_world_size())
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
        atexit.register(_destroy)
        return Processes(dist.get_rank(), dist.get_world_size())
    if distributed:
        raise ValueError("`distributed`: True needs a launcher (torchrun) or a started process group, "
                         "got WORLD_SIZE unset or 1 and no process group")
    return Processes(0, 1)
