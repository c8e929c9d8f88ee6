"""visualize_image_attr and visualize_image_attr_multiple: what each method/sign draws, errors."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")

from veracity.viz import (  # noqa: E402
    ImageVisualizationMethod,
    VisualizeSign,
    visualize_image_attr,
    visualize_image_attr_multiple,
)
from veracity.viz._arrays import METHODS, SIGNS, normalise_attr  # noqa: E402
from veracity.viz._mpl import pyplot  # noqa: E402

COMBINATIONS = [(m, s) for m, s in itertools.product(METHODS, SIGNS)
                if not (m in ("masked_image", "alpha_scaling") and s == "all")]


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    pyplot().close("all")


@pytest.fixture
def attr() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(6, 5, 3))


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(1).random((6, 5, 3))


@pytest.mark.parametrize("method, sign", COMBINATIONS)
def test_each_method_and_sign_draws_the_scaled_attribution(attr: np.ndarray, image: np.ndarray,
                                                            method: str, sign: str) -> None:
    fig, ax = visualize_image_attr(attr, image, method=method, sign=sign, use_pyplot=False,
                                   outlier_perc=2, alpha_overlay=0.3)
    assert ax in fig.axes
    norm = normalise_attr(attr, sign, 2)
    drawn = np.asarray(ax.images[-1].get_array())
    if method == "heat_map":
        assert len(ax.images) == 1
        np.testing.assert_allclose(drawn, norm)
        assert ax.images[-1].get_clim() == ((-1.0 if sign == "all" else 0.0), 1.0)
    elif method == "blended_heat_map":
        assert len(ax.images) == 2
        np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), image.mean(axis=2))
        np.testing.assert_allclose(drawn, norm)
        assert ax.images[-1].get_alpha() == 0.3
    elif method == "original_image":
        np.testing.assert_allclose(drawn, image)
    elif method == "masked_image":
        np.testing.assert_allclose(drawn, image * norm[:, :, None])
    else:  # alpha_scaling
        np.testing.assert_allclose(drawn[:, :, :3], image)
        np.testing.assert_allclose(drawn[:, :, 3], norm)


def test_default_colour_maps_follow_the_sign(attr: np.ndarray) -> None:
    axes = {sign: visualize_image_attr(attr, sign=sign, use_pyplot=False)[1] for sign in SIGNS}
    names = {sign: ax.images[0].get_cmap().name for sign, ax in axes.items()}
    assert names == {"positive": "Greens", "negative": "Reds", "absolute_value": "Blues",
                     "all": "veracity_signed"}
    ax = visualize_image_attr(attr, sign="all", cmap="coolwarm", use_pyplot=False)[1]
    assert ax.images[0].get_cmap().name == "coolwarm"


def test_torch_chw_and_numpy_hwc_draw_the_same(attr: np.ndarray, image: np.ndarray) -> None:
    as_numpy = visualize_image_attr(attr, image, "blended_heat_map", "all", use_pyplot=False)[1]
    as_torch = visualize_image_attr(torch.from_numpy(attr).permute(2, 0, 1),
                                    torch.from_numpy(image).permute(2, 0, 1)[None],
                                    "blended_heat_map", "all", use_pyplot=False)[1]
    for a, b in zip(as_numpy.images, as_torch.images):
        np.testing.assert_allclose(np.asarray(a.get_array()), np.asarray(b.get_array()))


def test_enum_members_and_uint8_images(attr: np.ndarray, image: np.ndarray) -> None:
    as_bytes = (image * 255).round().astype(np.uint8)
    ax = visualize_image_attr(attr, as_bytes, ImageVisualizationMethod.original_image,
                              VisualizeSign.positive, use_pyplot=False)[1]
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), as_bytes / 255.0)


def test_grey_image_is_drawn_in_grey(attr: np.ndarray) -> None:
    grey = np.random.default_rng(2).random((6, 5, 1))
    ax = visualize_image_attr(attr, grey, "original_image", use_pyplot=False)[1]
    assert ax.images[0].get_cmap().name == "gray"
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), grey[:, :, 0])


def test_given_axes_title_and_colorbar(attr: np.ndarray) -> None:
    fig = pyplot().figure()
    ax = fig.add_subplot(1, 1, 1)
    out_fig, out_ax = visualize_image_attr(attr, plt_fig_axis=(fig, ax), show_colorbar=True,
                                           title="IG", use_pyplot=False)
    assert (out_fig, out_ax) == (fig, ax)
    assert ax.get_title() == "IG"
    assert len(fig.axes) == 2  # the panel and its colour bar


def test_pyplot_or_free_standing_figure(attr: np.ndarray) -> None:
    plt = pyplot()
    before = plt.get_fignums()
    visualize_image_attr(attr, use_pyplot=False, fig_size=(3, 2))
    assert plt.get_fignums() == before
    fig, _ = visualize_image_attr(attr, use_pyplot=True, fig_size=(3, 2))
    assert fig.number in plt.get_fignums()
    assert tuple(fig.get_size_inches()) == (3, 2)


def test_inputs_are_not_modified(attr: np.ndarray, image: np.ndarray) -> None:
    attr_copy, image_copy = attr.copy(), image.copy()
    tensor = torch.from_numpy(attr).permute(2, 0, 1).clone()
    tensor_copy = tensor.clone()
    for method, sign in COMBINATIONS:
        visualize_image_attr(attr, image, method, sign, use_pyplot=False)
        visualize_image_attr(tensor, image, method, sign, use_pyplot=False)
    np.testing.assert_array_equal(attr, attr_copy)
    np.testing.assert_array_equal(image, image_copy)
    assert torch.equal(tensor, tensor_copy)


@pytest.mark.parametrize("kwargs, name, error", [
    ({"method": "heatmap"}, "`method`", ValueError),
    ({"sign": "both"}, "`sign`", ValueError),
    ({"method": "masked_image", "sign": "all"}, "`sign`", ValueError),
    ({"method": "alpha_scaling", "sign": "all"}, "`sign`", ValueError),
    ({"method": "blended_heat_map", "original_image": None}, "`original_image`", ValueError),
    ({"method": "original_image", "original_image": None}, "`original_image`", ValueError),
    ({"original_image": np.zeros((6, 4, 3))}, "`original_image`", ValueError),
    ({"original_image": np.zeros((6, 5, 2))}, "`original_image`", ValueError),
    ({"outlier_perc": 100}, "`outlier_perc`", ValueError),
    ({"outlier_perc": -1}, "`outlier_perc`", ValueError),
    ({"plt_fig_axis": "axes"}, "`plt_fig_axis`", TypeError),
])
def test_bad_arguments_name_the_argument(attr: np.ndarray, image: np.ndarray, kwargs: dict,
                                         name: str, error: type[Exception]) -> None:
    kwargs = {"original_image": image, **kwargs}
    before = pyplot().get_fignums()
    with pytest.raises(error, match=name):
        visualize_image_attr(attr, **kwargs)
    assert pyplot().get_fignums() == before  # checked before any figure is made


def test_mismatched_attribution_shape_names_the_image() -> None:
    with pytest.raises(ValueError, match="`original_image`.*\\(8, 8\\)"):
        visualize_image_attr(torch.ones(1, 8, 8), torch.ones(1, 7, 8), "blended_heat_map")


@pytest.mark.parametrize("k", [1, 3])
def test_multiple_has_one_panel_per_method(attr: np.ndarray, image: np.ndarray, k: int) -> None:
    methods = ["original_image", "heat_map", "masked_image"][:k]
    signs = ["all", "all", "positive"][:k]
    titles = [f"panel {i}" for i in range(k)]
    fig, axes = visualize_image_attr_multiple(attr, image, methods, signs, titles, use_pyplot=False,
                                              fig_size=(4, 2), show_colorbar=True)
    assert len(axes) == k
    assert [ax.get_title() for ax in axes] == titles
    n_colorbars = sum(m == "heat_map" for m in methods)
    assert len(fig.axes) == k + n_colorbars
    np.testing.assert_allclose(np.asarray(axes[0].images[0].get_array()), image)


@pytest.mark.parametrize("methods, signs, titles, name", [
    (["heat_map", "heat_map"], ["all"], None, "`signs`"),
    (["heat_map"], "all", None, "`signs`"),
    ([], [], None, "`methods`"),
    (["heat_map"], ["all"], ["a", "b"], "`titles`"),
    (["heat_map", "unknown"], ["all", "all"], None, "`method`"),
    (["heat_map", "masked_image"], ["all", "all"], None, "`sign`"),
])
def test_multiple_checks_every_panel_first(attr: np.ndarray, image: np.ndarray, methods: list,
                                           signs: list, titles: list | None, name: str) -> None:
    before = pyplot().get_fignums()
    with pytest.raises((ValueError, TypeError), match=name):
        visualize_image_attr_multiple(attr, image, methods, signs, titles)
    assert pyplot().get_fignums() == before
