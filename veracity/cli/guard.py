"""How every command runs its work: user mistakes and failures become a message and exit code 1
(no traceback unless ``--debug``), Ctrl-C exit code 130."""

from __future__ import annotations

import sys
from typing import Callable

import click

from veracity.cli.loading import UserError


def run_guarded(work: Callable[[], None], debug: bool, *, interrupted: str = "interrupted",
                user_errors: tuple[type[BaseException], ...] = (UserError,)) -> None:
    """Run ``work``; ``user_errors`` are shown as their message alone, other errors with their type.

    Example:
        >>> run_guarded(lambda: None, debug=False)
        >>> def broken() -> None:
        ...     raise UserError("`--data`: no such file")
        >>> try:
        ...     run_guarded(broken, debug=False)
        ... except click.ClickException as error:
        ...     print(error.message)
        `--data`: no such file
    """
    try:
        work()
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except KeyboardInterrupt:
        click.echo(interrupted, err=True)
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        kind = "" if isinstance(error, user_errors) else f"{type(error).__name__}: "
        raise click.ClickException(f"{kind}{error}") from None
