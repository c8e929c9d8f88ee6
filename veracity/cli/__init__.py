"""The ``veracity`` command line (``pip install 'veracity[cli]'``): explain, evaluate, report,
serve, methods. ``veracity --help`` lists them; ``python -m veracity.cli`` runs the same."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["main"]


def main(argv: list[str] | None = None) -> Any:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); exits with its code."""
    try:
        from veracity.cli.commands import cli
    except ImportError as error:  # click (the `cli` extra) is missing
        print(f"veracity: the command line needs click: pip install 'veracity[cli]' ({error})", file=sys.stderr)
        sys.exit(1)
    return cli.main(args=argv, prog_name="veracity")
