"""Lazy matplotlib access: the core never imports it; headless Linux gets the Agg backend."""

from __future__ import annotations

import os
import sys
from typing import Any

_NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def _missing(error: ImportError) -> ImportError:
    return ImportError("veracity.viz needs matplotlib: pip install 'veracity[plot]'")


def _headless() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def pyplot() -> Any:
    """``matplotlib.pyplot``, switched to Agg first when there is no display to draw on.

    The backend is left alone when pyplot is already loaded or ``MPLBACKEND`` is set: the
    user's choice wins.
    """
    try:
        import matplotlib
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise _missing(error) from error
    if "matplotlib.pyplot" not in sys.modules and "MPLBACKEND" not in os.environ and _headless():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_figure(fig_size: tuple[float, float], use_pyplot: bool) -> Any:
    """A figure managed by pyplot (shown by ``plt.show``) or a free-standing one (no state)."""
    if use_pyplot:
        return pyplot().figure(figsize=fig_size)
    try:
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise _missing(error) from error
    return Figure(figsize=fig_size)


def show_if_interactive() -> None:
    """``plt.show()`` as Captum does, skipped on non-interactive backends (it would only warn)."""
    plt = pyplot()
    import matplotlib

    if matplotlib.get_backend().lower() not in _NON_INTERACTIVE:
        plt.show()


def signed_colormap() -> Any:
    """Red (negative) through white (zero) to green (positive), the field's usual signed map."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("veracity_signed", ["#c62828", "#ffffff", "#2e7d32"])
