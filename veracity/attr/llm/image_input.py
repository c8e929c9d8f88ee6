"""ImageMaskInput (Captum 0.9's name): an image whose features are pixel segments."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from veracity._core.validate import fail
from veracity.attr.llm.inputs import InterpretableInput


def _identity(image: Any) -> Any:
    return image


class ImageMaskInput(InterpretableInput):
    """An image (PIL) whose features are segments: ``mask`` gives each pixel a segment id (None:
    the whole image is one feature), or ``mask_list`` gives one boolean mask per feature
    (features may overlap; it overrides ``mask``). An absent segment is painted ``baseline``
    (RGB); ``processor_fn`` turns the (perturbed) image into the model input, e.g. a
    multimodal processor returning ``input_ids`` and ``pixel_values``.

    Example:
        >>> from PIL import Image
        >>> image = Image.fromarray(np.zeros((2, 4, 3), dtype=np.uint8))
        >>> inp = ImageMaskInput(image, mask=torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1]]))
        >>> inp.values, np.array(inp.to_model_input(torch.tensor([[1, 0]])))[0, :, 0].tolist()
        (['image_feature_0', 'image_feature_1'], [0, 0, 255, 255])
    """

    def __init__(self, image: Any, mask: Tensor | None = None, mask_list: list[Tensor] | None = None,
                 baseline: tuple[int, int, int] = (255, 255, 255),
                 processor_fn: Callable[[Any], Any] = _identity) -> None:
        self.image, self.baseline, self.processor_fn = image, baseline, processor_fn
        shape = (image.size[1], image.size[0])
        if mask_list is not None:
            for i, m in enumerate(mask_list):
                if tuple(m.shape) != shape:
                    fail(f"mask_list[{i}]", f"a mask of the image's shape {shape} (height, width)", m)
            ids = list(range(len(mask_list)))
            self.mask, self.mask_list = torch.empty(0), list(mask_list)
        else:
            if mask is None:
                mask = torch.zeros(shape, dtype=torch.int32)
            elif tuple(mask.shape) != shape:
                fail("mask", f"a mask of the image's shape {shape} (height, width)", mask)
            ids = [int(i) for i in torch.unique(mask).tolist()]
            self.mask, self.mask_list = mask, []
        self.mask_id_to_idx = {mask_id: i for i, mask_id in enumerate(ids)}
        self.n_itp_features = len(ids)
        self.values = [f"image_feature_{mask_id}" for mask_id in ids]
        self.original_model_inputs = processor_fn(image)

    def to_tensor(self) -> Tensor:
        return torch.ones(1, self.n_itp_features)

    def get_mask_list(self) -> list[Tensor]:
        """One boolean ``(height, width)`` mask per feature."""
        if self.mask_list:
            return [m.bool() for m in self.mask_list]
        return [self.mask == mask_id for mask_id in self.mask_id_to_idx]

    def to_model_input(self, perturbed_tensor: Tensor | None = None) -> Any:
        if perturbed_tensor is None:
            return self.original_model_inputs
        from PIL import Image

        pixels = np.array(self.image)
        for index, feature in enumerate(self.get_mask_list()):
            if perturbed_tensor[0][index] == 0:
                pixels[feature.cpu().numpy()] = self.baseline
        return self.processor_fn(Image.fromarray(pixels.astype("uint8")))

    def format_pixel_attr(self, itp_attr: Tensor) -> Tensor:
        """Feature attributions ``(..., n_features)`` painted onto the pixels: ``(..., height, width)``.

        A pixel gets the sum of the attributions of the features whose mask covers it
        (overlapping ``mask_list`` features add up).
        """
        if itp_attr.shape[-1] != self.n_itp_features:
            fail("itp_attr", f"a last dimension of {self.n_itp_features} (one value per feature)", itp_attr)
        masks = torch.stack(self.get_mask_list()).to(device=itp_attr.device, dtype=itp_attr.dtype)
        return torch.einsum("...f,fhw->...hw", itp_attr, masks)

    def plot_mask_overlay(self, show: bool = False, border_width: int = 0,
                          show_legends: bool = True) -> tuple[Any, Any] | None:
        """The image with each feature's segment tinted in its own colour (and a legend).

        Returns ``(figure, axes)``, or None after ``plt.show()`` when ``show=True``.
        """
        return _plot_overlay(self, None, show, border_width, show_legends)


def _plot_overlay(inp: ImageMaskInput, pixel_attr: Tensor | None, show: bool, border_width: int,
                  show_legends: bool) -> tuple[Any, Any] | None:
    """Segments tinted (``pixel_attr`` None) or an attribution heat map over the image."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    axes.imshow(np.array(inp.image))
    masks = [m.cpu().numpy() for m in inp.get_mask_list()]
    colours = plt.get_cmap("tab20")
    if pixel_attr is None:
        for index, mask in enumerate(masks):
            tint = np.zeros((*mask.shape, 4))
            tint[mask] = colours(index % 20)
            tint[..., 3] = 0.45 * mask
            axes.imshow(tint)
        if show_legends:
            from matplotlib.patches import Patch

            axes.legend(handles=[Patch(color=colours(i % 20), label=str(v)) for i, v in enumerate(inp.values)],
                        loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    else:
        values = pixel_attr.detach().cpu().numpy()
        bound = float(np.abs(values).max()) or 1.0
        shown = axes.imshow(values, cmap="RdBu_r", vmin=-bound, vmax=bound, alpha=0.6)
        if show_legends:
            figure.colorbar(shown, ax=axes, label="attribution")
    if border_width > 0:
        for mask in masks:
            axes.contour(mask.astype(float), levels=[0.5], colors="black", linewidths=border_width)
    axes.set_axis_off()
    if show:
        plt.show()
        return None
    return figure, axes

