"""Figures people would rather look at: attribution_grid's caption fits at every width, each method
column has a labelled colorbar, signed maps are centred at 0."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from veracity.viz import attribution_grid  # noqa: E402


def _drawn(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> Figure:
    figures: list[Figure] = []
    original = Figure.savefig

    def keep(self: Figure, *args: Any, **kw: Any) -> Any:
        figures.append(self)
        return original(self, *args, **kw)

    monkeypatch.setattr(Figure, "savefig", keep)
    attribution_grid(path=io.BytesIO(), **kwargs)
    return figures[0]


@pytest.mark.parametrize("n_methods, n_rows", [(1, 1), (2, 1), (2, 3), (6, 2)])
def test_caption_fits_and_colorbars_are_labelled(monkeypatch: pytest.MonkeyPatch, n_methods: int, n_rows: int) -> None:
    attributions = {f"method {i}": torch.randn(n_rows, 1, 8, 8) for i in range(n_methods - 1)}
    attributions["unsigned"] = torch.rand(n_rows, 1, 8, 8)
    fig = _drawn(monkeypatch, images=torch.rand(n_rows, 1, 8, 8), attributions=attributions)
    renderer = fig._get_renderer()  # type: ignore[attr-defined]
    caption = fig._supxlabel  # type: ignore[attr-defined]
    box, frame = caption.get_window_extent(renderer), fig.bbox
    assert caption.get_text().startswith("Each panel is scaled on its own")
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == n_methods
    labels = sorted(bar.get_xlabel() for bar in bars)
    assert labels == sorted(["signed attribution / scale"] * (n_methods - 1) + ["|attribution| / scale"])
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"][1:n_methods + 1]  # first row's maps
    clims = [ax.get_images()[0].get_clim() for ax in panels]
    assert clims == [(-1.0, 1.0)] * (n_methods - 1) + [(0.0, 1.0)]  # signed: diverging, centred at 0
    for ax in panels[:-1]:
        assert all(channel > 0.95 for channel in ax.get_images()[0].cmap(0.5)[:3])  # white at 0


def test_caption_can_be_given(monkeypatch: pytest.MonkeyPatch) -> None:
    fig = _drawn(monkeypatch, images=torch.rand(1, 1, 4, 4), attributions={"m": torch.randn(1, 1, 4, 4)},
                 caption="<mine>", colorbar=False)
    assert fig._supxlabel.get_text() == "<mine>"  # type: ignore[attr-defined]
    assert not [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
