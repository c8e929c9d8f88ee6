"""Reproduction tests: marked ``reproduction``, run by ``make reproduce`` (not ``make test``).

Each test asserts its paper's direction on the numbers of its module's ``run``; the
``results`` fixture reuses ``out/reproductions/<name>.json`` written by the script in the same
``make reproduce`` run, or runs the module when it is missing.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import pytest

from reproductions._common import load, out_dir


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reproductions/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.reproduction)


@pytest.fixture(scope="session")
def results() -> Callable[[str], dict[str, Any]]:
    """``results(name)``: the saved numbers of reproduction ``name`` (running it when absent)."""

    def get(name: str) -> dict[str, Any]:
        saved = load(name)
        if saved is None:
            saved = importlib.import_module(f"reproductions.{name}").run(out_dir())
            saved = load(name) or saved
        return saved

    return get
