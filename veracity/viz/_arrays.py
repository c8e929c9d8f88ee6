"""Array preparation for image attribution plots: layout, sign selection, outlier scaling.

numpy only; matplotlib is not needed here.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from veracity._core.validate import fail

SIGNS = ("positive", "absolute_value", "negative", "all")
METHODS = ("heat_map", "blended_heat_map", "original_image", "masked_image", "alpha_scaling")


def choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """The string for ``value`` (a string or an Enum member whose name is one of ``choices``)."""
    key = getattr(value, "name", value)
    if not isinstance(key, str) or key not in choices:
        fail(name, "one of " + ", ".join(repr(c) for c in choices), repr(value))
    return key


def to_hwc(value: Any, name: str) -> np.ndarray:
    """A float64 ``(H, W, C)`` array from a numpy array (HWC or HW, Captum's layout) or a tensor.

    Tensors follow torch's layout: ``(C, H, W)``, ``(1, C, H, W)`` or ``(H, W)``.
    """
    if isinstance(value, torch.Tensor):
        array = value.detach().cpu().to(torch.float64).numpy()
        if array.ndim == 4 and array.shape[0] == 1:
            array = array[0]
        if array.ndim == 3:
            array = array.transpose(1, 2, 0)
        elif array.ndim != 2:
            fail(name, "a (C, H, W), (1, C, H, W) or (H, W) tensor", value)
    elif isinstance(value, np.ndarray):
        array = value.astype(np.float64)
        if array.ndim not in (2, 3):
            fail(name, "an (H, W, C) or (H, W) numpy array", f"an array of shape {value.shape}")
    else:
        fail(name, "a numpy array (H, W, C) or a torch tensor (C, H, W)", value, TypeError)
    if array.ndim == 2:
        array = array[:, :, None]
    if not np.isfinite(array).all():
        fail(name, "finite values", "NaN or inf")
    return array


def check_same_size(attr: np.ndarray, image: np.ndarray, name: str = "original_image") -> None:
    if attr.shape[:2] != image.shape[:2]:
        fail(name, f"the attribution's height and width {attr.shape[:2]}",
             f"an image of height and width {image.shape[:2]}")


def check_outlier_perc(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 100:
        fail("outlier_perc", "a number in [0, 100)", repr(value))
    return float(value)


def mass_threshold(magnitudes: np.ndarray, percent: float) -> float:
    """The smallest magnitude m such that values <= m hold ``percent``% of the total mass.

    Scaling by this value instead of the maximum lets the few largest values (the top
    ``100 - percent``% of the mass) saturate, so one outlier does not wash out the map.
    """
    ordered = np.sort(magnitudes.ravel())
    total = ordered.sum()
    if total <= 0:
        return 0.0
    cumulative = np.cumsum(ordered)
    index = int(np.searchsorted(cumulative, total * percent / 100.0, side="left"))
    return float(ordered[min(index, ordered.size - 1)])


def normalise_attr(attr: np.ndarray, sign: str, outlier_perc: float) -> np.ndarray:
    """Channel-summed attribution ``(H, W)`` scaled to [-1, 1] ('all') or [0, 1] (other signs).

    'negative' shows the magnitude of the negative part; 'positive' drops the negative part.
    """
    combined = attr.sum(axis=2)
    if sign == "all":
        values = combined
    elif sign == "positive":
        values = np.clip(combined, 0.0, None)
    elif sign == "negative":
        values = np.clip(-combined, 0.0, None)
    else:
        values = np.abs(combined)
    scale = mass_threshold(np.abs(values), 100.0 - outlier_perc)
    if scale < 1e-12:
        warnings.warn("attribution is (almost) zero for the chosen sign; the plot shows no signal",
                      stacklevel=3)
        return np.zeros_like(values)
    return np.clip(values / scale, -1.0, 1.0)


def image_in_unit_range(image: np.ndarray) -> np.ndarray:
    """Pixels in [0, 1]: images with values above 1 are taken as 0..255."""
    scaled = image / 255.0 if image.max() > 1.0 else image
    return np.clip(scaled, 0.0, 1.0)


def grey(image: np.ndarray) -> np.ndarray:
    """Mean over channels (ignoring an alpha channel): ``(H, W)``."""
    return image[:, :, :3].mean(axis=2) if image.shape[2] >= 3 else image[:, :, 0]


def rgb(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)``: single channels repeated, alpha dropped."""
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image[:, :, :3]
