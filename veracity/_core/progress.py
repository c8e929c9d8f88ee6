"""A tqdm progress bar that is a no-op unless ``show_progress`` is set."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Protocol


class ProgressBar(Protocol):
    """What callers use of the bar: tqdm's ``update`` (``_Silent`` below does nothing)."""

    def update(self, n: int = 1) -> object: ...


class _Silent:
    def update(self, n: int = 1) -> None:
        pass


@contextmanager
def progress_bar(total: int, show_progress: bool, desc: str) -> Iterator[ProgressBar]:
    if not show_progress:
        yield _Silent()
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="pt", leave=False)
    try:
        yield bar
    finally:
        bar.close()
