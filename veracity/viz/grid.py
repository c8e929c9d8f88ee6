"""A PNG grid of attributions: one row per example, the input and then one column per method."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

from torch import Tensor

from veracity._core.validate import fail
from veracity.viz import _mpl
from veracity.viz._arrays import METHODS, SIGNS, check_outlier_perc, choice
from veracity.viz.image import _prepared, draw

__all__ = ["attribution_grid"]

COLORBAR_LABELS = {"all": "signed attribution / scale", "absolute_value": "|attribution| / scale",
                   "positive": "positive part / scale", "negative": "|negative part| / scale"}


def _checked_images(images: Any) -> Tensor:
    if not isinstance(images, Tensor):
        fail("images", "a tensor (N, C, H, W)", images, TypeError)
    if images.dim() != 4 or images.shape[0] == 0:
        fail("images", "a tensor (N, C, H, W) with N >= 1", images)
    return images


def _auto_sign(attr: Tensor) -> str:
    """'absolute_value' for attributions that are never negative (e.g. Saliency), else 'all'."""
    return "absolute_value" if bool((attr >= 0).all()) else "all"


def attribution_grid(
    images: Tensor,
    attributions: Mapping[str, Tensor],
    path: str | Path | Any,
    titles: Sequence[str] | None = None,
    *,
    signs: str | Mapping[str, str] | None = None,
    method: str = "heat_map",
    outlier_perc: float = 2,
    cell_size: float = 1.6,
    dpi: int = 120,
    colorbar: bool = True,
    caption: str | None = None,
) -> Path:
    """Write a PNG grid (rows: examples; columns: the input, then one per method); return its path.

    ``images`` is ``(N, C, H, W)``; each value of ``attributions`` (column title -> tensor) has
    N rows and the images' height and width. ``titles`` labels the rows (one per example).
    Each panel is scaled on its own as in :func:`visualize_image_attr`; ``signs`` is one sign
    for every method, a dict per method, or None: 'absolute_value' for attributions that are
    never negative and 'all' (red negative, green positive) otherwise. ``method`` is the
    drawing method of the attribution panels. ``colorbar`` adds a labelled colorbar under each
    method's column (values are the attribution divided by the panel's scale; signed maps on a
    diverging map centred at 0). ``caption`` replaces the default caption, which is wrapped to
    the figure's width. Parent folders are created. ``path`` may also be a binary file object.
    Uses a free-standing figure, so no pyplot state is touched.

    Example:
        >>> import tempfile, torch
        >>> x = torch.rand(2, 1, 8, 8)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = attribution_grid(x, {"x itself": x}, f"{folder}/grid.png")
        ...     path.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    images = _checked_images(images)
    if not isinstance(attributions, Mapping) or not attributions:
        fail("attributions", "a non-empty dict {method name: tensor (N, C, H, W)}", attributions,
             TypeError)
    n = images.shape[0]
    if titles is not None and (isinstance(titles, str) or len(titles) != n):
        fail("titles", f"None or {n} row titles, one per example", titles)
    method = choice("method", method, METHODS)
    if method == "original_image":
        fail("method", "a method that draws the attribution", repr(method))
    check_outlier_perc(outlier_perc)
    columns: list[tuple[str, Tensor, str]] = []
    for name, attr in attributions.items():
        label = f"attributions[{name!r}]"
        if not isinstance(attr, Tensor):
            fail(label, "a tensor", attr, TypeError)
        if attr.dim() != 4 or attr.shape[0] != n or attr.shape[2:] != images.shape[2:]:
            fail(label, f"a tensor (N={n}, C, H, W) with the images' height and width "
                 f"{tuple(images.shape[2:])}", attr)
        sign = signs.get(name) if isinstance(signs, Mapping) else signs
        sign = choice("signs", sign, SIGNS) if sign is not None else _auto_sign(attr)
        columns.append((name, attr.detach().cpu(), sign))
    images = images.detach().cpu()
    # check every panel before drawing any, so a bad argument leaves no half-written file
    panels = [[_prepared(None, images[row], "original_image", "all", outlier_perc)]
              + [_prepared(attr[row], images[row], method, sign, outlier_perc, label)
                 for label, attr, sign in columns] for row in range(n)]
    fig = _mpl.new_figure((cell_size * (len(columns) + 1), cell_size * n + 0.4), use_pyplot=False)
    fig.set_layout_engine("constrained")
    axes = fig.subplots(n, len(columns) + 1, squeeze=False)
    mappables: list[Any] = [None] * (len(columns) + 1)
    for row in range(n):
        for col, (attr_hwc, image, panel_method, sign) in enumerate(panels[row]):
            mappables[col] = draw(axes[row, col], attr_hwc, image, panel_method, sign, outlier_perc) or mappables[col]
        if titles is not None:
            axes[row, 0].set_ylabel(titles[row], fontsize=9)
    for col, heading in enumerate(["input"] + [f"{name}\n({sign})" for name, _, sign in columns]):
        axes[0, col].set_title(heading, fontsize=9)
    if colorbar:
        for col, (_, _, sign) in enumerate(columns, start=1):
            if mappables[col] is not None:
                bar = fig.colorbar(mappables[col], ax=list(axes[:, col]), orientation="horizontal",
                                   fraction=0.5 / max(n, 1), aspect=12, pad=0.01)
                bar.set_label(COLORBAR_LABELS[sign], fontsize=6)
                bar.ax.tick_params(labelsize=6)
    if caption is None:
        caption = (f"Each panel is scaled on its own: value / (magnitude holding {100 - outlier_perc:g}% of "
                   "its attribution mass), so the top values saturate. 'all': red negative, white 0, "
                   "green positive.")
    width_chars = max(20, int(cell_size * (len(columns) + 1) * 72 / (7 * 0.55)))
    fig.supxlabel(textwrap.fill(caption, width_chars), fontsize=7 if n * cell_size > 2 else 6)
    if hasattr(path, "write"):
        fig.savefig(path, format="png", dpi=dpi)
        return path  # type: ignore[return-value]  # a file object: returned as given
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=dpi)
    return path


