"""The synthetic cells: seeded, balanced, and the ground-truth heatmaps are exactly the drawing."""

from __future__ import annotations

import math

import pytest
import torch

from veracity.synthetic import CELL_CLASSES, FEATURE, LOCALISATION, band_labels, cell_masks, make_cells


def test_same_seed_same_cells_other_seed_other_cells() -> None:
    a, b, c = make_cells(24, size=20, seed=3), make_cells(24, size=20, seed=3), make_cells(24, size=20, seed=4)
    for name in ("images", "labels", "heatmaps", "backgrounds", "centres", "radii"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.images, c.images)


def test_classes_are_balanced_and_every_background_is_used() -> None:
    cells = make_cells(60, size=16, classes=5, seed=0)
    assert torch.bincount(cells.labels).tolist() == [12] * 5
    assert set(cells.background_types.tolist()) == {0, 1, 2}
    assert cells.class_names == CELL_CLASSES


def test_heatmap_is_nonzero_exactly_where_the_cell_is_painted() -> None:
    cells = make_cells(40, size=32, classes=5, seed=1)
    differs = (cells.images != cells.backgrounds).any(1)
    assert torch.equal(differs, cells.heatmaps > 0)
    assert torch.equal(cells.heatmaps.unique(), torch.tensor([0.0, LOCALISATION, FEATURE]))
    for i in range(len(cells)):
        image, heat = cells.images[i], cells.heatmaps[i]
        body = image[:, heat == torch.tensor(LOCALISATION)]
        feature = image[:, heat == torch.tensor(FEATURE)]
        # one colour for the body and one for the feature, and they differ
        assert torch.equal(body, body[:, :1].expand_as(body))
        assert torch.equal(feature, feature[:, :1].expand_as(feature))
        assert (body[:, 0] - feature[:, 0]).abs().max() > 0.3


def _naive_masks(label: str, ci: float, cj: float, r: float, size: int) -> tuple[set, set]:
    """The drawing rules written pixel by pixel, independently of the vectorised code."""
    body, feature = set(), set()
    for i in range(size):
        for j in range(size):
            di, dj = i - ci, j - cj
            d = math.hypot(di, dj)
            if d > r:
                continue
            body.add((i, j))
            inside = {
                "dot": d <= 0.35 * r,
                "hbar": abs(di) <= 1 and abs(dj) <= 0.6 * r,
                "vbar": abs(dj) <= 1 and abs(di) <= 0.6 * r,
                "ring": abs(d - 0.55 * r) <= 0.8,
                "pair": min(math.hypot(di + 0.4 * r, dj + 0.4 * r), math.hypot(di - 0.4 * r, dj - 0.4 * r))
                <= max(1.5, 0.25 * r),
            }[label]
            if inside:
                feature.add((i, j))
    return body, feature


def test_heatmaps_follow_the_drawing_rules_pixel_by_pixel() -> None:
    cells = make_cells(10, size=24, classes=5, seed=2)
    for i in range(len(cells)):
        name = cells.class_names[int(cells.labels[i])]
        (ci, cj), r = cells.centres[i].double().tolist(), float(cells.radii[i].double())
        body, feature = _naive_masks(name, ci, cj, r, 24)
        heat = cells.heatmaps[i]
        assert {tuple(p) for p in (heat > 0).nonzero().tolist()} == body, name
        assert {tuple(p) for p in (heat == torch.tensor(FEATURE)).nonzero().tolist()} == feature, name
        assert feature, f"{name}: an empty feature"


def test_geometry_reproduces_the_masks() -> None:
    cells = make_cells(16, size=32, seed=5)
    body, feature = cell_masks(cells.labels, cells.centres, cells.radii, 32, cells.class_names)
    assert torch.equal(body, cells.cell_masks)
    assert torch.equal(feature, cells.feature_masks)


def test_blank_class_is_background_only() -> None:
    cells = make_cells(12, size=16, classes=2, blank=True, seed=0)
    assert cells.class_names == ("dot", "hbar", "blank")
    blank = cells.labels == 2
    assert int(blank.sum()) == 4
    assert bool((cells.heatmaps[blank] == 0).all())
    assert torch.equal(cells.images[blank], cells.backgrounds[blank])
    assert bool((cells.heatmaps[~blank].flatten(1) > 0).any(1).all())


def test_band_labels_and_subset() -> None:
    cells = make_cells(6, size=16, seed=0)
    levels = band_labels(cells.heatmaps)
    assert torch.equal(levels == 2, cells.feature_masks)
    assert torch.equal(levels == 1, cells.cell_masks & ~cells.feature_masks)
    part = cells.subset(slice(2, 4))
    assert torch.equal(part.images, cells.images[2:4]) and len(part) == 2


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"n": 0}, "`n`"), ({"n": 4, "size": 8}, "`size`"), ({"n": 4, "classes": 6}, "`classes`"),
    ({"n": 4, "classes": 0}, "`classes`"), ({"n": 4, "backgrounds": ("sky",)}, "`backgrounds`"),
    ({"n": 4, "backgrounds": ()}, "`backgrounds`"),
])
def test_bad_arguments_are_named(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        make_cells(**kwargs)
