"""ImageMaskInput.format_pixel_attr / plot_mask_overlay and LLMAttributionResult.plot_image_heatmap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("PIL")
pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402

from veracity.attr import ImageMaskInput, LLMAttributionResult  # noqa: E402


def test_pixel_attributions_paint_each_segment_and_add_up_where_masks_overlap() -> None:
    image = Image.fromarray(np.zeros((2, 3, 3), dtype=np.uint8))
    seg = ImageMaskInput(image, mask=torch.tensor([[5, 5, 9], [9, 9, 5]]))
    pixels = seg.format_pixel_attr(torch.tensor([[2.0, -1.0]]))
    assert torch.equal(pixels, torch.tensor([[[2.0, 2.0, -1.0], [-1.0, -1.0, 2.0]]]))
    overlap = ImageMaskInput(image, mask_list=[torch.ones(2, 3, dtype=torch.bool),
                                               torch.tensor([[1, 0, 0], [0, 0, 0]], dtype=torch.bool)])
    assert torch.equal(overlap.format_pixel_attr(torch.tensor([[1.0, 3.0]]))[0],
                       torch.tensor([[4.0, 1.0, 1.0], [1.0, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="itp_attr"):
        seg.format_pixel_attr(torch.ones(1, 3))


def test_plots_return_a_figure_with_a_colorbar_for_the_heat_map() -> None:
    import matplotlib

    matplotlib.use("Agg")
    image = Image.fromarray(np.zeros((2, 2, 3), dtype=np.uint8))
    seg = ImageMaskInput(image, mask=torch.tensor([[0, 1], [1, 1]]))
    figure, _ = seg.plot_mask_overlay(border_width=1)
    assert figure.axes[0].get_legend() is not None
    result = LLMAttributionResult(input_tokens=seg.values, output_tokens=["a", "b"],
                                  seq_attr=torch.tensor([1.0, -2.0]),
                                  token_attr=torch.tensor([[1.0, 0.0], [0.0, -2.0]]), inp=seg)
    figure, axes = result.plot_image_heatmap(target_token_pos=(0, 2))
    assert len(figure.axes) == 2  # the map and its colorbar
    assert np.allclose(axes.images[-1].get_array(), [[1.0, -2.0], [-2.0, -2.0]])
    text = LLMAttributionResult(input_tokens=["x"], output_tokens=["y"], seq_attr=torch.ones(1))
    with pytest.raises(ValueError, match="ImageMaskInput"):
        text.plot_image_heatmap()
