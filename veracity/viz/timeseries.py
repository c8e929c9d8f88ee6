"""Captum-compatible time-series attribution plots: ``visualize_timeseries_attr``."""

from __future__ import annotations

from enum import Enum
from typing import Any, Sequence

import numpy as np
import torch

from veracity._core.validate import fail
from veracity.viz import _mpl
from veracity.viz._arrays import SIGNS, check_outlier_perc, choice, normalise_attr

__all__ = ["TIMESERIES_METHODS", "TimeseriesVisualizationMethod", "visualize_timeseries_attr"]

TIMESERIES_METHODS = ("overlay_individual", "overlay_combined", "colored_graph")
TimeseriesVisualizationMethod = Enum("TimeseriesVisualizationMethod",  # type: ignore[misc]  # from the names
                                     [(m, i) for i, m in enumerate(TIMESERIES_METHODS, 1)])
TimeseriesVisualizationMethod.__doc__ = "The ``method`` values of :func:`visualize_timeseries_attr`."
_DEFAULT_CMAPS = {"positive": "Greens", "negative": "Reds", "absolute_value": "Blues"}


def _channels_first(value: Any, name: str, channels_last: bool) -> np.ndarray:
    """A float64 ``(channels, time)`` array from a numpy array or tensor (1-D: one channel)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().to(torch.float64).numpy()
    if not isinstance(value, np.ndarray):
        fail(name, "a numpy array or a torch tensor", value, TypeError)
    array = value.astype(np.float64)
    if array.ndim == 1:
        return array[None, :]
    if array.ndim != 2:
        fail(name, "a 2-d array (time, channels) or (channels, time), or 1-d", f"an array of shape {value.shape}")
    if not np.isfinite(array).all():
        fail(name, "finite values", "NaN or inf")
    return array.T if channels_last else array


def _axes_list(plt_fig_axis: Any, count: int, fig_size: tuple[float, float], use_pyplot: bool) -> tuple[Any, list]:
    if plt_fig_axis is None:
        fig = _mpl.new_figure(fig_size, use_pyplot)
        return fig, list(np.atleast_1d(fig.subplots(count, 1, sharex=True, squeeze=False)[:, 0]))
    if not isinstance(plt_fig_axis, tuple) or len(plt_fig_axis) != 2:
        fail("plt_fig_axis", "None or a (figure, axes) tuple", plt_fig_axis, TypeError)
    fig, axes = plt_fig_axis
    axes = list(np.atleast_1d(np.asarray(axes, dtype=object)).ravel())
    if len(axes) != count:
        fail("plt_fig_axis", f"{count} axes for this method and number of channels", f"{len(axes)} axes")
    return fig, axes


def visualize_timeseries_attr(
    attr: Any,
    data: Any,
    x_values: Any = None,
    method: str = "overlay_individual",
    sign: str = "absolute_value",
    channel_labels: Sequence[str] | None = None,
    channels_last: bool = True,
    plt_fig_axis: tuple[Any, Any] | None = None,
    outlier_perc: float = 2,
    cmap: Any = None,
    alpha_overlay: float = 0.7,
    show_colorbar: bool = False,
    title: str | None = None,
    fig_size: tuple[float, float] = (6, 6),
    use_pyplot: bool = True,
    **pyplot_kwargs: Any,
) -> tuple[Any, Any]:
    """Plot a multichannel time series coloured by its attribution; returns ``(figure, axes)``.

    ``attr`` and ``data`` are ``(time, channels)`` (``channels_last=True``, Captum's default)
    or ``(channels, time)``; numpy arrays or tensors. The attribution is restricted to
    ``sign`` and scaled as in :func:`visualize_image_attr` (one scale for all channels; the
    top ``outlier_perc`` percent of the mass saturates). ``method``:

    * ``overlay_individual``: one panel per channel, its curve over a background band per
      time step coloured by that channel's attribution;
    * ``overlay_combined``: all curves in one panel over bands coloured by the attribution
      summed over channels (a legend when ``channel_labels`` are given);
    * ``colored_graph``: one panel per channel, the curve itself coloured segment by segment
      (segment t by the attribution at its start, time step t).

    Bands are ``x_values[1] - x_values[0]`` wide, centred on each time step. Other keyword
    arguments go to matplotlib's ``plot``. Captum 0.9's version needs ``matplotlib.cm.get_cmap``,
    gone since matplotlib 3.9; this one does not.

    Example:
        >>> import torch
        >>> fig, axes = visualize_timeseries_attr(torch.randn(20, 2), torch.randn(20, 2),
        ...                                       sign="all", use_pyplot=False)
        >>> len(axes), len(axes[0].patches)  # two channels, one band per time step
        (2, 20)
    """
    method = choice("method", method, TIMESERIES_METHODS)
    sign = choice("sign", sign, SIGNS)
    outlier_perc = check_outlier_perc(outlier_perc)
    attr_ct = _channels_first(attr, "attr", channels_last)
    data_ct = _channels_first(data, "data", channels_last)
    if attr_ct.shape != data_ct.shape:
        fail("data", f"the attribution's shape {attr_ct.shape[::-1] if channels_last else attr_ct.shape}",
             f"an array of shape {data_ct.shape[::-1] if channels_last else data_ct.shape}")
    n_channels, length = data_ct.shape
    x = np.arange(length, dtype=np.float64) if x_values is None else np.asarray(x_values, dtype=np.float64)
    if x.shape != (length,):
        fail("x_values", f"{length} values, one per time step", f"an array of shape {x.shape}")
    if channel_labels is not None and len(channel_labels) != n_channels:
        fail("channel_labels", f"{n_channels} labels, one per channel", channel_labels)
    if cmap is None:
        cmap = _mpl.signed_colormap() if sign == "all" else _DEFAULT_CMAPS[sign]
    if isinstance(cmap, str):
        import matplotlib

        cmap = matplotlib.colormaps[cmap]
    vmin = -1.0 if sign == "all" else 0.0
    if method == "overlay_combined":
        norm = normalise_attr(attr_ct.sum(axis=0)[None, :, None], sign, outlier_perc)
    else:
        norm = normalise_attr(attr_ct[:, :, None], sign, outlier_perc)
    fig, axes = _axes_list(plt_fig_axis, 1 if method == "overlay_combined" else n_channels, fig_size, use_pyplot)
    width = x[1] - x[0] if length > 1 else 1.0

    def bands(ax: Any, values: np.ndarray) -> None:
        for position, value in zip(x, values):
            ax.axvspan(position - width / 2, position + width / 2, color=cmap((value - vmin) / (1.0 - vmin)),
                       alpha=alpha_overlay, linewidth=0)

    if method == "overlay_combined":
        bands(axes[0], norm[0])
        import matplotlib

        palette = matplotlib.colormaps["Dark2"]
        for c in range(n_channels):
            label = channel_labels[c] if channel_labels is not None else None
            axes[0].plot(x, data_ct[c], color=palette(c % palette.N), label=label, **pyplot_kwargs)
        if channel_labels is not None:
            axes[0].legend(loc="best")
    else:
        from matplotlib.collections import LineCollection

        for c, ax in enumerate(axes):
            if method == "overlay_individual":
                bands(ax, norm[c])
                ax.plot(x, data_ct[c], **pyplot_kwargs)
            else:
                points = np.stack([x, data_ct[c]], axis=1)
                segments = np.stack([points[:-1], points[1:]], axis=1)
                lines = LineCollection(list(segments), cmap=cmap, **pyplot_kwargs)
                lines.set_array(norm[c][:-1])
                lines.set_clim(vmin, 1.0)
                ax.add_collection(lines)
                ax.autoscale_view()
            if channel_labels is not None:
                ax.set_ylabel(channel_labels[c])
    if show_colorbar:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        fig.colorbar(ScalarMappable(Normalize(vmin, 1.0), cmap), ax=axes, orientation="vertical")
    if title is not None:
        axes[0].set_title(title)
    if use_pyplot:
        _mpl.show_if_interactive()
    return fig, axes[0] if len(axes) == 1 else np.asarray(axes, dtype=object)
