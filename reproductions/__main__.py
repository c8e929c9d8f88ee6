"""``python -m reproductions [name ...]``: run every reproduction (or the named ones)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

import reproductions
from reproductions._common import out_dir


def names() -> list[str]:
    """Every reproduction module (public modules of the package), sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(reproductions.__path__) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    chosen = argv or names()
    unknown = sorted(set(chosen) - set(names()))
    if unknown:
        print(f"unknown reproductions: {unknown}; known: {names()}", file=sys.stderr)
        return 2
    folder: Path = out_dir()
    for name in chosen:
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        importlib.import_module(f"reproductions.{name}").main(folder)
        print(f"   ({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
