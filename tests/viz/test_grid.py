"""attribution_grid: a PNG with one row per example and one column per method plus the input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("matplotlib")

from matplotlib.image import imread  # noqa: E402

from veracity.viz import attribution_grid  # noqa: E402
from veracity.viz.grid import _auto_sign  # noqa: E402


@pytest.mark.parametrize("n, k", [(1, 1), (3, 2)])
def test_grid_size_follows_examples_and_methods(tmp_path: Path, n: int, k: int) -> None:
    images = torch.rand(n, 1, 8, 8)
    attributions = {f"m{j}": torch.randn(n, 1, 8, 8) for j in range(k)}
    titles = [f"example {i}" for i in range(n)]
    path = attribution_grid(images, attributions, tmp_path / "sub" / "grid.png", titles,
                            cell_size=1.0, dpi=50)
    assert path == tmp_path / "sub" / "grid.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = imread(path).shape[:2]
    assert (height, width) == (round((n + 0.4) * 50), (k + 1) * 50)


def test_rgb_images_and_every_sign(tmp_path: Path) -> None:
    images = torch.rand(2, 3, 6, 6)
    attr = torch.randn(2, 3, 6, 6)
    signs = {"p": "positive", "n": "negative", "a": "absolute_value", "s": "all"}
    path = attribution_grid(images, {name: attr for name in signs}, tmp_path / "rgb.png",
                            signs=signs, method="blended_heat_map")
    assert imread(path).shape[2] in (3, 4)


def test_auto_sign() -> None:
    assert _auto_sign(torch.rand(2, 1, 3, 3)) == "absolute_value"
    assert _auto_sign(torch.tensor([[[[0.5, -0.1]]]])) == "all"


def test_inputs_are_not_modified(tmp_path: Path) -> None:
    images, attr = torch.rand(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    copies = images.clone(), attr.clone()
    attribution_grid(images, {"m": attr}, tmp_path / "g.png")
    assert torch.equal(images, copies[0]) and torch.equal(attr, copies[1])


@pytest.mark.parametrize("kwargs, name, error", [
    ({"images": torch.rand(2, 4, 4)}, "`images`", ValueError),
    ({"images": [[0.0]]}, "`images`", TypeError),
    ({"attributions": {}}, "`attributions`", TypeError),
    ({"attributions": {"m": torch.rand(3, 1, 4, 4)}}, "`attributions\\['m'\\]`", ValueError),
    ({"attributions": {"m": torch.rand(2, 1, 4, 5)}}, "`attributions\\['m'\\]`", ValueError),
    ({"attributions": {"m": [1.0]}}, "`attributions\\['m'\\]`", TypeError),
    ({"titles": ["only one"]}, "`titles`", ValueError),
    ({"signs": "sideways"}, "`signs`", ValueError),
    ({"method": "original_image"}, "`method`", ValueError),
    ({"method": "masked_image", "signs": "all"}, "`sign`", ValueError),
    ({"outlier_perc": 150}, "`outlier_perc`", ValueError),
])
def test_bad_arguments_name_the_argument_and_write_nothing(tmp_path: Path, kwargs: dict, name: str,
                                                           error: type[Exception]) -> None:
    arguments = {"images": torch.rand(2, 1, 4, 4), "attributions": {"m": torch.randn(2, 1, 4, 4)},
                 "path": tmp_path / "bad.png", **kwargs}
    with pytest.raises(error, match=name):
        attribution_grid(**arguments)
    assert not (tmp_path / "bad.png").exists()
