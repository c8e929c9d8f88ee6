"""Same pictures as Captum 0.9's visualize_image_attr (where the `bench` extra is installed)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("matplotlib")
captum_viz = pytest.importorskip("captum.attr").visualization

from veracity.viz import visualize_image_attr  # noqa: E402
from veracity.viz._mpl import pyplot  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    pyplot().close("all")


@pytest.mark.parametrize("method, sign", [
    ("heat_map", "all"), ("heat_map", "positive"), ("heat_map", "negative"),
    ("heat_map", "absolute_value"), ("blended_heat_map", "all"), ("masked_image", "positive"),
    ("alpha_scaling", "absolute_value"),
])
@pytest.mark.parametrize("outlier_perc", [0, 2, 30])
def test_same_drawn_arrays_as_captum(method: str, sign: str, outlier_perc: float) -> None:
    rng = np.random.default_rng(3)
    attr = rng.normal(size=(7, 6, 3)) ** 3  # heavy tails: the outlier cut matters
    image = rng.random((7, 6, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, expected = captum_viz.visualize_image_attr(attr, image, method, sign,
                                                      outlier_perc=outlier_perc, use_pyplot=False)
    _, ax = visualize_image_attr(attr, image, method, sign, outlier_perc=outlier_perc,
                                 use_pyplot=False)
    ours = np.asarray(ax.images[-1].get_array(), dtype=np.float64)
    theirs = np.asarray(expected.images[-1].get_array(), dtype=np.float64)
    if method in ("masked_image", "alpha_scaling"):
        # Captum draws the image as integers 0..255 (masked) or rounds it; compare in [0, 1]
        theirs = theirs / 255.0 if theirs.max() > 1.0 else theirs
        np.testing.assert_allclose(ours, theirs, atol=1.5 / 255)
    else:
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
