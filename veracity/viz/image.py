"""Captum-compatible image attribution plots: ``visualize_image_attr`` and its 1 x k variant."""

from __future__ import annotations

from enum import Enum
from typing import Any, Sequence

import numpy as np

from veracity._core.validate import fail
from veracity.viz import _mpl
from veracity.viz._arrays import (
    METHODS,
    SIGNS,
    check_outlier_perc,
    check_same_size,
    choice,
    grey,
    image_in_unit_range,
    normalise_attr,
    rgb,
    to_hwc,
)

__all__ = ["ImageVisualizationMethod", "VisualizeSign", "visualize_image_attr",
           "visualize_image_attr_multiple"]

ImageVisualizationMethod = Enum("ImageVisualizationMethod",  # type: ignore[misc]  # members built from METHODS
                                [(m, i) for i, m in enumerate(METHODS, 1)])
VisualizeSign = Enum("VisualizeSign", [(s, i) for i, s in enumerate(SIGNS, 1)])  # type: ignore[misc]  # from SIGNS
ImageVisualizationMethod.__doc__ = "The ``method`` values of :func:`visualize_image_attr`."
VisualizeSign.__doc__ = "The ``sign`` values of :func:`visualize_image_attr`."

_DEFAULT_CMAPS = {"positive": "Greens", "negative": "Reds", "absolute_value": "Blues"}
_COLORBAR_LABELS = {"all": "attribution / scale, 0 at the centre", "absolute_value": "|attribution| / scale",
                    "positive": "positive part / scale", "negative": "|negative part| / scale"}


def _prepared(attr: Any, original_image: Any, method: Any, sign: Any, outlier_perc: Any,
              attr_name: str = "attr") -> tuple[np.ndarray | None, np.ndarray | None, str, str]:
    """Checked arguments: (attr HWC or None, image HWC in [0, 1] or None, method, sign)."""
    method = choice("method", method, METHODS)
    sign = choice("sign", sign, SIGNS)
    check_outlier_perc(outlier_perc)
    if method in ("masked_image", "alpha_scaling") and sign == "all":
        fail("sign", f"'positive', 'negative' or 'absolute_value' for method {method!r} "
             "(it needs one magnitude per pixel)", repr(sign))
    if method != "heat_map" and original_image is None:
        fail("original_image", f"an image for method {method!r}", None)
    attr_hwc = None if method == "original_image" else to_hwc(attr, attr_name)
    image = None
    if original_image is not None:
        image = to_hwc(original_image, "original_image")
        if image.shape[2] not in (1, 3, 4):
            fail("original_image", "1 (grey), 3 (RGB) or 4 (RGBA) channels",
                 f"{image.shape[2]} channels")
        if attr_hwc is not None:
            check_same_size(attr_hwc, image)
        image = image_in_unit_range(image)
    return attr_hwc, image, method, sign


def draw(ax: Any, attr: np.ndarray | None, image: np.ndarray | None, method: str, sign: str,
         outlier_perc: float = 2, cmap: Any = None, alpha_overlay: float = 0.5) -> Any:
    """Draw checked arrays (see ``_prepared``) on ``ax``; returns the heat map's image or None."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if method == "original_image":
        assert image is not None  # every method but "heat_map" has an image (see _prepared)
        ax.imshow(grey(image) if image.shape[2] == 1 else image, cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        return None
    assert attr is not None  # every method but "original_image" has attributions (see _prepared)
    norm = normalise_attr(attr, sign, outlier_perc)
    if cmap is None:
        cmap = _mpl.signed_colormap() if sign == "all" else _DEFAULT_CMAPS[sign]
    vmin = -1.0 if sign == "all" else 0.0
    if method in ("heat_map", "blended_heat_map"):
        alpha = None
        if method == "blended_heat_map":
            assert image is not None
            ax.imshow(grey(image), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            alpha = alpha_overlay
        return ax.imshow(norm, cmap=cmap, vmin=vmin, vmax=1.0, alpha=alpha, interpolation="nearest")
    assert image is not None
    if method == "masked_image":
        ax.imshow(rgb(image) * norm[:, :, None], vmin=0, vmax=1, interpolation="nearest")
    else:  # alpha_scaling
        ax.imshow(np.concatenate([rgb(image), norm[:, :, None]], axis=2), interpolation="nearest")
    return None


def visualize_image_attr(
    attr: Any,
    original_image: Any = None,
    method: str = "heat_map",
    sign: str = "absolute_value",
    plt_fig_axis: tuple[Any, Any] | None = None,
    outlier_perc: float = 2,
    cmap: Any = None,
    alpha_overlay: float = 0.5,
    show_colorbar: bool = False,
    title: str | None = None,
    fig_size: tuple[float, float] = (6, 6),
    use_pyplot: bool = True,
) -> tuple[Any, Any]:
    """Plot one image attribution; returns ``(figure, axes)`` as Captum's function does.

    The attribution is summed over channels, restricted to ``sign`` ('positive',
    'absolute_value', 'negative' or 'all') and divided by the magnitude below which
    ``100 - outlier_perc`` percent of the attribution mass lies, so the largest values
    saturate instead of washing out the rest. ``method`` draws it as a ``heat_map``, a
    ``blended_heat_map`` over the grey image, the ``original_image`` alone, a
    ``masked_image`` (image times the scaled attribution) or by ``alpha_scaling`` (the scaled
    attribution as opacity). Layout as in Captum: numpy arrays are ``(H, W, C)``; torch
    tensors, accepted in addition, are ``(C, H, W)``. Images with values above 1 are taken as
    0..255. Default colour maps: red-white-green for 'all', Greens, Reds and Blues otherwise.
    ``use_pyplot=False`` builds a free-standing figure (no pyplot state, never shown);
    ``plt.show()`` is only called on interactive backends.

    Example:
        >>> import torch
        >>> fig, ax = visualize_image_attr(torch.randn(1, 8, 8), torch.rand(1, 8, 8),
        ...                                method="blended_heat_map", sign="all",
        ...                                use_pyplot=False, title="IG")
        >>> ax.get_title()
        'IG'
    """
    attr_hwc, image, method, sign = _prepared(attr, original_image, method, sign, outlier_perc)
    if plt_fig_axis is None:
        fig = _mpl.new_figure(fig_size, use_pyplot)
        ax = fig.add_subplot(1, 1, 1)
    elif isinstance(plt_fig_axis, tuple) and len(plt_fig_axis) == 2:
        fig, ax = plt_fig_axis
    else:
        fail("plt_fig_axis", "None or a (figure, axes) tuple", plt_fig_axis, TypeError)
    mappable = draw(ax, attr_hwc, image, method, sign, outlier_perc, cmap, alpha_overlay)
    if show_colorbar and mappable is not None:
        bar = fig.colorbar(mappable, ax=ax, orientation="horizontal", fraction=0.046, pad=0.04)
        bar.set_label(_COLORBAR_LABELS[sign] + f" (top {outlier_perc:g}% of the mass saturates)", fontsize=8)
    if title is not None:
        ax.set_title(title)
    if use_pyplot:
        _mpl.show_if_interactive()
    return fig, ax


def visualize_image_attr_multiple(
    attr: Any,
    original_image: Any,
    methods: Sequence[str],
    signs: Sequence[str],
    titles: Sequence[str] | None = None,
    fig_size: tuple[float, float] = (8, 6),
    use_pyplot: bool = True,
    **kwargs: Any,
) -> tuple[Any, np.ndarray]:
    """One attribution drawn k ways side by side (1 x k); returns ``(figure, axes array of k)``.

    ``methods[i]`` with ``signs[i]`` (and ``titles[i]``) fills panel i; other keyword
    arguments (``outlier_perc``, ``cmap``, ``alpha_overlay``, ``show_colorbar``) go to
    :func:`visualize_image_attr`. Every panel is checked before any figure is made.

    Example:
        >>> import torch
        >>> fig, axes = visualize_image_attr_multiple(
        ...     torch.randn(1, 8, 8), torch.rand(1, 8, 8), ["original_image", "heat_map"],
        ...     ["all", "positive"], use_pyplot=False)
        >>> len(axes)
        2
    """
    if isinstance(methods, str) or not isinstance(methods, Sequence) or not methods:
        fail("methods", "a non-empty list of method names", methods, TypeError)
    if isinstance(signs, str) or not isinstance(signs, Sequence) or len(signs) != len(methods):
        fail("signs", f"a list of {len(methods)} signs, one per method", signs)
    if titles is not None and (isinstance(titles, str) or len(titles) != len(methods)):
        fail("titles", f"None or a list of {len(methods)} titles, one per method", titles)
    outlier_perc = kwargs.get("outlier_perc", 2)
    for method, sign in zip(methods, signs):
        _prepared(attr, original_image, method, sign, outlier_perc)
    fig = _mpl.new_figure(fig_size, use_pyplot)
    axes = np.asarray(fig.subplots(1, len(methods), squeeze=False)[0])
    for i, (method, sign) in enumerate(zip(methods, signs)):
        visualize_image_attr(attr, original_image, method, sign, plt_fig_axis=(fig, axes[i]),
                             title=titles[i] if titles is not None else None, use_pyplot=False,
                             **kwargs)
    fig.tight_layout()
    if use_pyplot:
        _mpl.show_if_interactive()
    return fig, axes
