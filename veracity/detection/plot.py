"""Multi-object figures: one row per detection, one panel per explained quantity, the detection's
box drawn over its map (matplotlib, imported only when called: the ``plot`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from torch import Tensor

from veracity._core.validate import fail
from veracity.detection.detections import Detections
from veracity.detection.explain import QUANTITIES

__all__ = ["plot_detection_explanations"]


def _figure(size: tuple[float, float]) -> Any:
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("plot_detection_explanations needs matplotlib: pip install 'veracity[plot]'") from error
    return Figure(figsize=size), Rectangle


def plot_detection_explanations(image: Tensor, detections: Detections, maps: Tensor,
                                quantities: Sequence[str] = QUANTITIES, class_names: Sequence[str] | None = None,
                                title: str | None = None, path: str | Path | None = None,
                                alpha: float = 0.6) -> Any:
    """A matplotlib ``Figure``: the image with every detection's box, then per detection a row of
    panels, one per quantity, with the absolute map (channels summed, scaled to its own maximum)
    over the grey image and that detection's box drawn. ``maps`` ``(K, len(quantities), C, H, W)``
    as :func:`~veracity.detection.explain_detections` returns for one image; saved to ``path`` if given.

    Example:
        >>> import torch
        >>> found = Detections.of([[1.0, 1.0, 5.0, 6.0]], labels=[2], slots=[0], scores=[0.9])
        >>> fig = plot_detection_explanations(torch.rand(1, 8, 8), found, torch.rand(1, 5, 1, 8, 8))
        >>> len(fig.axes)
        6
    """
    if not isinstance(image, Tensor) or image.dim() != 3:
        fail("image", "one image shaped (channels, height, width)", image, TypeError)
    k, q = len(detections), len(quantities)
    if not isinstance(maps, Tensor) or maps.dim() != 5 or tuple(maps.shape[:2]) != (k, q) \
            or maps.shape[-2:] != image.shape[-2:]:
        fail("maps", f"maps shaped ({k}, {q}, channels, {image.shape[-2]}, {image.shape[-1]})", maps)
    fig, rectangle = _figure((2.0 * max(q, 1), 2.0 * (k + 1)))
    grid = fig.add_gridspec(k + 1, max(q, 1))
    base = image.detach().float().mean(0).cpu()
    names = [str(c) for c in class_names] if class_names is not None else None

    def label_of(j: int) -> str:
        label = int(detections.labels[j])
        return names[label] if names is not None and label < len(names) else str(label)

    def box(ax: Any, j: int, colour: str) -> None:
        x1, y1, x2, y2 = (float(v) for v in detections.boxes[j])
        # pixel (row i, column j) is drawn centred at (j, i): edges sit half a pixel before
        ax.add_patch(rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linewidth=1.5))

    overview = fig.add_subplot(grid[0, 0])
    overview.imshow(base.numpy(), cmap="gray")
    for j in range(k):
        box(overview, j, f"C{j % 10}")
        overview.text(float(detections.boxes[j, 0]), float(detections.boxes[j, 1]) - 1, label_of(j),
                      color=f"C{j % 10}", fontsize=7)
    overview.set_title(title or f"{k} detection(s)", fontsize=8)
    overview.axis("off")
    for j in range(k):
        for c, quantity in enumerate(quantities):
            ax = fig.add_subplot(grid[j + 1, c])
            heat = maps[j, c].detach().float().abs().sum(0).cpu()
            peak = float(heat.max())
            ax.imshow(base.numpy(), cmap="gray")
            ax.imshow((heat / peak if peak > 0 else heat).numpy(), cmap="inferno", alpha=alpha, vmin=0, vmax=1)
            box(ax, j, "cyan")
            score = float(detections.scores[j]) if len(detections.scores) else float("nan")
            ax.set_title(f"{label_of(j)} ({score:.2f}): {quantity}" if c == 0 else quantity, fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    if path is not None:
        fig.savefig(Path(path), dpi=100)
    return fig

