"""``veracity.attr.visualization``: Captum's module, same figure data, escaped HTML."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from veracity.attr import visualization as viz

pytest.importorskip("matplotlib")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def _captum_viz():
    pytest.importorskip("captum")
    import matplotlib
    import matplotlib.cm

    if not hasattr(matplotlib.cm, "get_cmap"):  # Captum 0.9 calls it; removed in matplotlib 3.9
        matplotlib.cm.get_cmap = matplotlib.colormaps.get_cmap  # type: ignore[attr-defined]
    from captum.attr import visualization

    return visualization


def test_tokens_and_labels_are_escaped() -> None:
    attack = '<img src=x onerror="alert(1)">'
    record = viz.VisualizationDataRecord(torch.tensor([0.4, -0.9, 0.0]), 0.75, "<b>pos</b>", "neg&co", 1, 0.5,
                                         [attack, "a&b", "<script>alert(2)</script>"], 0.0)
    page = viz.visualize_text([record]).data
    assert "<img" not in page and "<script" not in page and "<b>pos</b>" not in page
    assert "onerror=&quot;alert(1)&quot;" in page  # shown as text (#img ..., Captum's special-token form)
    assert "a&amp;b" in page and "neg&amp;co" in page and "&lt;b&gt;pos&lt;/b&gt; (0.75)" in page
    assert "Legend" in page and "Legend" not in viz.visualize_text([record], legend=False).data


def test_word_colours_match_captum() -> None:
    cv = _captum_viz()
    words = ["the", "<s>", "movie", "was", "great", "x"]
    importances = [0.3, -0.7, 1.0, -1.0, 0.0, 0.55]
    ours = viz.format_word_importances(words, importances)
    theirs = cv.format_word_importances(words, importances)
    colour = re.compile(r"hsl\([^)]*\)")
    assert colour.findall(ours) == colour.findall(theirs)
    token = re.compile(r'<font color="black">\s*(.*?)\s*</font>')
    assert token.findall(ours) == token.findall(theirs)  # plain words: identical text (#s for <s>)
    assert viz.format_classname(3) == cv.format_classname(3)


def test_image_heat_map_data_matches_captum() -> None:
    cv = _captum_viz()
    rng = np.random.default_rng(0)
    attr, image = rng.normal(size=(9, 7, 3)), rng.uniform(size=(9, 7, 3))
    for sign in ("all", "positive", "absolute_value"):
        _, ours = viz.visualize_image_attr(attr, image, "heat_map", sign, use_pyplot=False)
        _, theirs = cv.visualize_image_attr(attr, image, "heat_map", sign, use_pyplot=False)
        np.testing.assert_allclose(np.asarray(ours.images[-1].get_array()),
                                   np.asarray(theirs.images[-1].get_array()), atol=1e-12)


@pytest.mark.parametrize("method", ["overlay_individual", "overlay_combined", "colored_graph"])
def test_timeseries_figure_data_matches_captum(method: str) -> None:
    """Same panels, curves, band positions and scaled attribution per band / segment."""
    cv = _captum_viz()
    from matplotlib.colors import to_rgba

    rng = np.random.default_rng(1)
    attr, data = rng.normal(size=(12, 3)), rng.normal(size=(12, 3))
    x = np.linspace(0.0, 5.5, 12)
    sign, cmap = "all", "RdYlGn"  # one colour map on both sides: band colours comparable
    ours = np.atleast_1d(viz.visualize_timeseries_attr(attr, data, x, method, sign, cmap=cmap,
                                                       use_pyplot=False)[1])
    theirs = np.atleast_1d(cv.visualize_timeseries_attr(attr, data, x, method, sign, cmap=cmap,
                                                        use_pyplot=False)[1])
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        for la, lb in zip(a.lines, b.lines):
            np.testing.assert_allclose(la.get_xydata(), lb.get_xydata())
        assert len(a.lines) == len(b.lines) and len(a.patches) == len(b.patches)
        for pa, pb in zip(a.patches, b.patches):
            assert pa.get_x() == pytest.approx(pb.get_x()) and pa.get_width() == pytest.approx(pb.get_width())
            np.testing.assert_allclose(to_rgba(pa.get_facecolor()), to_rgba(pb.get_facecolor()), atol=1e-9)
        if method == "colored_graph":
            (ca,), (cb,) = a.collections, b.collections
            np.testing.assert_allclose(ca.get_array(), np.asarray(cb.get_array())[:len(ca.get_array())])
            assert [p.vertices.tolist() for p in ca.get_paths()] == [p.vertices.tolist() for p in cb.get_paths()]


def test_mask_border_and_legend_match_captum() -> None:
    cv = _captum_viz()
    pytest.importorskip("scipy")
    from matplotlib.figure import Figure

    mask = np.zeros((10, 9), bool)
    mask[2:8, 1:6] = True
    mask[4, 6:9] = True
    for width in (1, 2):
        ours, theirs = Figure().add_subplot(), Figure().add_subplot()
        viz.draw_mask_border(ours, mask, width, "red")
        cv.draw_mask_border(theirs, mask, width, "red")
        np.testing.assert_array_equal(ours.images[0].get_array(), theirs.images[0].get_array())
    viz.draw_mask_legend(ours, mask, "cat")
    cv.draw_mask_legend(theirs, mask, "cat")
    assert ours.texts[0].get_position() == pytest.approx(theirs.texts[0].get_position())


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="`method`"):
        viz.visualize_timeseries_attr(np.ones((4, 2)), np.ones((4, 2)), method="bars", use_pyplot=False)
    with pytest.raises(ValueError, match="`data`"):
        viz.visualize_timeseries_attr(np.ones((4, 2)), np.ones((5, 2)), use_pyplot=False)
    with pytest.raises(ValueError, match="`importances`"):
        viz.format_word_importances(["a", "b"], [1.0])
