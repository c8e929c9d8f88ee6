"""The chunk loop shared by :func:`~veracity.dataset.attribute_dataset` and
:func:`~veracity.dataset.evaluate_dataset`.

Rank 0 prepares the store (a fresh manifest, or the one found, checked against the run asked
for) and every rank checks that it asks for the same run. The chunks not yet complete are dealt
round-robin to the ranks (``todo[rank::size]``), so ranks never write the same chunk; each rank
computes its chunks under a seed fixed by the chunk's index (``seed * 1_000_003 + chunk``), so
a chunk's values do not depend on which rank, or how many ranks, computed it; the engine's chunk
sizes are not tuned by timing (``memory_budget(tune=False)``), so they do not depend on the
machine's load either (on CUDA the ceiling follows the free memory: set
``veracity.set_memory_budget(bytes)`` for results identical across GPUs). Rows go to the
Zarr arrays in a background thread while the next chunk is computed (at most one chunk waits,
so memory stays bounded); a chunk enters the manifest (written by rank 0 only, atomically) after
every array's rows of it are written.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from veracity._core.config import memory_budget
from veracity._core.progress import progress_bar
from veracity._core.validate import fail
from veracity.dataset.distributed import Processes, processes
from veracity.dataset.store import (
    MANIFEST,
    DatasetStore,
    chunk_checksum,
    differences,
    open_arrays,
    open_store,
    read_manifest,
    write_manifest,
    zarr_module,
)

Rows = dict[str, np.ndarray]
# compute(start, stop, advance) -> {array name: rows start..stop}; advance(k) moves the progress bar
Compute = Callable[[int, int, Callable[[int], object]], Rows]


@dataclass(frozen=True)
class Plan:
    """One run: where, what its manifest says (``complete`` empty), how to compute a chunk's rows."""

    path: Path
    wanted: dict[str, Any]
    compute: Compute
    desc: str
    show_progress: bool
    seed: int
    distributed: bool | None


def _prepare(path: Path, wanted: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Rank 0: the manifest to continue from, and whether the arrays exist and open."""
    if (path / MANIFEST).exists():
        manifest = read_manifest(path)
        found = differences(manifest, wanted)
        if found:
            raise ValueError(f"`store`: {str(path)!r} was made by a different run: " + "; ".join(found))
        if manifest["complete"]:
            open_store(path, verify=True)  # refuses a corrupt chunk before anything is added to it
    elif path.exists() and any(path.iterdir()):
        fail("store", "a new or empty directory, or a veracity dataset store",
             f"{str(path)!r} (not empty, no manifest)")
    else:
        path.mkdir(parents=True, exist_ok=True)
        manifest = wanted
        write_manifest(path, manifest)
    names = manifest["arrays"]
    if not all((path / name).exists() for name in names):
        return manifest, False
    try:
        open_arrays(path, names)
    except ValueError:
        if manifest["complete"]:
            raise
        return manifest, False  # created but never written: made again
    return manifest, True


def _spec(rows: Rows | None) -> dict[str, tuple[tuple[int, ...], str]] | None:
    return None if rows is None else {name: (tuple(r.shape[1:]), r.dtype.str) for name, r in rows.items()}


def _check(arrays: dict[str, Any], metas: list[Any], n: int, size: int) -> None:
    """Every rank's rows fit the arrays (the same verdict on every rank: it reads gathered facts)."""
    for chunk, spec, _ in metas:
        for name, (shape, dtype) in (spec or {}).items():
            array = arrays[name]
            if tuple(array.shape[1:]) != shape or np.dtype(array.dtype) != np.dtype(dtype):
                fail("data", f"examples whose {name} have one shape and dtype "
                     f"{tuple(array.shape[1:])} {np.dtype(array.dtype)}",
                     f"{shape} {np.dtype(dtype)} in chunk {chunk}")
            if array.shape[0] != n or array.chunks[0] != size:
                fail("store", f"a {name!r} array of {n} rows in chunks of {size}",
                     f"{array.shape[0]} rows in chunks of {array.chunks[0]} (a corrupt store)")


class _Run:
    def __init__(self, plan: Plan, procs: Processes, manifest: dict[str, Any], arrays: dict[str, Any]) -> None:
        self.plan, self.procs, self.arrays = plan, procs, arrays
        self.manifest = manifest
        self.names: list[str] = list(plan.wanted["arrays"])
        self.n, self.size = plan.wanted["n_examples"], plan.wanted["chunk_size"]
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veracity-store")
        self.commits: list[Future[None]] = []

    def bounds(self, chunk: int) -> tuple[int, int]:
        return chunk * self.size, min(self.n, (chunk + 1) * self.size)

    def compute(self, chunk: int, advance: Callable[[int], object]) -> Rows:
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
        with torch.random.fork_rng(devices=devices), memory_budget(tune=False):
            torch.manual_seed(self.plan.seed * 1_000_003 + chunk)
            rows = self.plan.compute(*self.bounds(chunk), advance)
        if set(rows) != set(self.names):
            raise RuntimeError(f"chunk {chunk}: arrays {sorted(rows)} computed, {self.names} expected")
        return rows

    def create(self, metas: list[Any]) -> None:
        """Rank 0 makes the arrays from the first computed chunk's shapes; the others open them."""
        spec = next(s for _, s, _ in metas if s is not None)
        if self.procs.rank == 0:
            zarr = zarr_module()
            for name in self.names:
                shape, dtype = spec[name]
                zarr.open_array(store=str(self.plan.path / name), mode="w", shape=(self.n, *shape),
                                chunks=(self.size, *shape), dtype=dtype, fill_value=0)
        self.procs.barrier()
        self.arrays = open_arrays(self.plan.path, self.names, "r+")

    def write(self, chunk: int, rows: Rows) -> dict[str, str]:
        start, stop = self.bounds(chunk)
        for name in self.names:
            self.arrays[name][start:stop] = rows[name]
        sums = {name: chunk_checksum(rows[name]) for name in self.names}
        if self.procs.size == 1:
            self.commit([(chunk, sums)])
        return sums

    def commit(self, entries: list[tuple[int, dict[str, str]]]) -> None:
        """Rank 0 (in the writer thread): list the chunks as complete, the manifest replaced atomically."""
        complete = sorted(set(self.manifest["complete"]) | {chunk for chunk, _ in entries})
        checksums = {**self.manifest["checksums"], **{str(chunk): sums for chunk, sums in entries}}
        self.manifest = {**self.manifest, "complete": complete, "checksums": checksums}
        write_manifest(self.plan.path, self.manifest)

    def finish(self, pending: tuple[int | None, Future[dict[str, str]] | None]) -> None:
        """Wait for the pending write; with several ranks, rank 0 commits every rank's chunk."""
        chunk, future = pending
        sums, failure = None, None
        if future is not None:
            try:
                sums = future.result()
            except Exception as error:  # noqa: BLE001 - shared with the other ranks below
                failure = error
        if self.procs.size == 1:
            if failure is not None:
                raise failure
            return
        written = self.procs.gather((chunk, sums, None if failure is None else repr(failure)))
        _raise_first(written, failure)
        entries = [(c, s) for c, s, _ in written if c is not None]
        if self.procs.rank == 0 and entries:
            self.commits.append(self.writer.submit(self.commit, entries))

    def run(self, todo: list[int]) -> None:
        procs = self.procs
        mine = todo[procs.rank::procs.size]
        rounds = -(-len(todo) // procs.size)
        total = self.n if procs.size == 1 else sum(self.bounds(c)[1] - self.bounds(c)[0] for c in mine)
        desc = self.plan.desc + (f" (rank 0 of {procs.size})" if procs.size > 1 else "")
        pending: tuple[int | None, Future[dict[str, str]] | None] = (None, None)
        shared = True  # an error every rank knows of: the pending chunk can still be committed
        try:
            with progress_bar(total=total, show_progress=self.plan.show_progress and procs.rank == 0,
                              desc=desc) as bar:
                bar.update(total - sum(self.bounds(c)[1] - self.bounds(c)[0] for c in mine))
                for r in range(rounds):
                    chunk = mine[r] if r < len(mine) else None
                    rows, failure = None, None
                    shared = False
                    if chunk is not None:
                        try:
                            rows = self.compute(chunk, bar.update)
                        except Exception as error:  # noqa: BLE001 - shared with the other ranks below
                            failure = error
                    metas = procs.gather((chunk, _spec(rows), None if failure is None else repr(failure)))
                    shared = True
                    _raise_first(metas, failure)
                    if not self.arrays:
                        self.create(metas)
                    _check(self.arrays, metas, self.n, self.size)
                    done, pending = pending, (None, None)
                    self.finish(done)
                    if rows is not None and chunk is not None:
                        pending = (chunk, self.writer.submit(self.write, chunk, rows))
                done, pending = pending, (None, None)
                shared = False  # from here on, nothing is left to commit
                self.finish(done)
        finally:
            # after an error every rank knows of, the chunk before it is written whole and committed
            # (with several ranks every rank takes part, its own chunk pending or not)
            if shared and (pending[1] is not None or procs.size > 1):
                self.finish(pending)
            self.writer.shutdown(wait=True)
        for future in self.commits:
            future.result()
        procs.barrier()  # every rank returns after rank 0's manifest lists every chunk


def _raise_first(items: list[Any], own: BaseException | None) -> None:
    if own is not None:
        raise own
    for rank, (chunk, _, message) in enumerate(items):
        if message is not None:
            raise RuntimeError(f"rank {rank} failed on chunk {chunk}: {message}")


def run(plan: Plan) -> DatasetStore:
    """Compute and store every chunk not yet complete; the store, opened for reading."""
    procs = processes(plan.distributed)
    outcome: Any = None
    if procs.rank == 0:
        try:
            outcome = ("ok", _prepare(plan.path, plan.wanted))
        except Exception as error:  # noqa: BLE001 - every rank raises it
            outcome = ("error", error)
    outcome = procs.broadcast(outcome)
    if outcome[0] == "error":
        raise outcome[1]
    manifest, exists = outcome[1]
    asked = procs.gather({key: plan.wanted.get(key) for key in ("method", "arguments", "model", "data",
                                                                "chunk_size", "batch_size", "seed")})
    for rank, theirs in enumerate(asked):
        found = differences(theirs, asked[0])
        if found:
            raise ValueError(f"`store`: rank {rank} asks for a different run than rank 0: " + "; ".join(found))
    arrays = open_arrays(plan.path, manifest["arrays"], "r+") if exists else {}
    complete = set(manifest["complete"])
    todo = [c for c in range(manifest["n_chunks"]) if c not in complete]
    _Run(plan, procs, manifest, arrays).run(todo)
    return open_store(plan.path)
