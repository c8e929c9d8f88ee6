"""LLMAttributionResult: the attributions of a target continuation, with plots and HTML."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from veracity._core.validate import fail
from veracity.attr.llm.render import token_heatmap_html, token_heatmap_terminal, token_table_html


def _tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else torch.tensor(value)


class LLMAttributionResult:
    """What :class:`LLMAttribution` / :class:`LLMGradientAttribution` return (Captum 0.9's names).

    ``seq_attr`` ``(n_input_tokens,)``: attribution of the whole target; ``token_attr``
    ``(n_output_tokens, n_input_tokens)`` per target token, or None; ``input_tokens`` and
    ``output_tokens`` their labels; ``output_probs`` optional per output token; ``inp`` the
    interpretable input. :meth:`plot_token_attr` and :meth:`plot_seq_attr` draw matplotlib
    figures (the ``plot`` extra); :meth:`to_html` (also the notebook rendering) and
    :meth:`to_terminal` show token heatmaps, every token escaped.

    Example:
        >>> result = LLMAttributionResult(input_tokens=["<a>", "b"], output_tokens=["c"],
        ...                               seq_attr=[0.5, -1.0], token_attr=[[0.5, -1.0]])
        >>> result.seq_attr_dict
        {'<a>': 0.5, 'b': -1.0}
        >>> "&lt;a&gt;" in result.to_html() and "<a>" not in result.to_html()
        True
    """

    def __init__(self, *, input_tokens: list[str], output_tokens: list[str], seq_attr: Any,
                 token_attr: Any = None, output_probs: Any = None, inp: Any = None) -> None:
        self.input_tokens = list(input_tokens)
        self.output_tokens = list(output_tokens)
        self.seq_attr = seq_attr
        self.token_attr = token_attr
        self.output_probs = output_probs
        self.inp = inp

    @property
    def seq_attr(self) -> Tensor:
        return self._seq_attr

    @seq_attr.setter
    def seq_attr(self, value: Any) -> None:
        tensor = _tensor(value)
        if tensor.dim() != 1 or tensor.shape[0] != len(self.input_tokens):
            fail("seq_attr", f"a 1-D tensor with one value per input token ({len(self.input_tokens)})",
                 tensor if isinstance(value, Tensor) else f"shape {tuple(tensor.shape)}")
        self._seq_attr = tensor

    @property
    def token_attr(self) -> Tensor | None:
        return self._token_attr

    @token_attr.setter
    def token_attr(self, value: Any) -> None:
        tensor = None if value is None else _tensor(value)
        expected = (len(self.output_tokens), len(self.input_tokens))
        if tensor is not None and tuple(tensor.shape) != expected:
            fail("token_attr", f"shape {expected} (output tokens, input tokens)", f"shape {tuple(tensor.shape)}")
        self._token_attr = tensor

    @property
    def output_probs(self) -> Tensor | None:
        return self._output_probs

    @output_probs.setter
    def output_probs(self, value: Any) -> None:
        tensor = None if value is None else _tensor(value)
        if tensor is not None and tuple(tensor.shape) != (len(self.output_tokens),):
            fail("output_probs", f"one value per output token ({len(self.output_tokens)})",
                 f"shape {tuple(tensor.shape)}")
        self._output_probs = tensor

    @property
    def seq_attr_dict(self) -> dict[str, float]:
        """Input token -> sequence attribution (a repeated token keeps its last value, as in Captum)."""
        return dict(zip(self.input_tokens, self.seq_attr.cpu().tolist()))

    def to_html(self) -> str:
        """Escaped HTML: the sequence heatmap, then the per-token table when there is one."""
        parts = [token_heatmap_html(self.input_tokens, self.seq_attr.detach().cpu(),
                                    title="attribution to: " + " ".join(self.output_tokens))]
        if self.token_attr is not None:
            parts.append(token_table_html(self.input_tokens, self.output_tokens, self.token_attr.detach().cpu()))
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_terminal(self, color: bool = True) -> str:
        """The sequence attribution as a coloured line of tokens (see ``token_heatmap_terminal``)."""
        return token_heatmap_terminal(self.input_tokens, self.seq_attr.detach().cpu(), color=color)

    def _figure(self, width: float, height: float) -> Any:
        try:
            import matplotlib.pyplot as plt
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError("plots need matplotlib: pip install 'veracity[plot]'") from error
        return plt, *plt.subplots(figsize=(width, height))

    def plot_token_attr(self, show: bool = False) -> Any:
        """Heatmap of ``token_attr`` (rows: output tokens, columns: input tokens), colours
        centred at 0. Returns ``(figure, axes)``, or None after ``show=True``."""
        if self.token_attr is None:
            fail("token_attr", "per-token attributions to plot (Lime and KernelShap give none)", "None")
        values = self.token_attr.detach().cpu().float().numpy()
        plt, fig, ax = self._figure(max(4.0, 0.6 * len(self.input_tokens)), max(2.0, 0.5 * len(self.output_tokens)))
        peak = float(abs(values).max()) or 1.0
        image = ax.imshow(values, cmap="RdYlGn", vmin=-peak, vmax=peak, aspect="auto")
        fig.colorbar(image, ax=ax, label="attribution")
        ax.set_xticks(range(len(self.input_tokens)), self.input_tokens, rotation=60, ha="right")
        ax.set_yticks(range(len(self.output_tokens)), self.output_tokens)
        for (row, col), value in np.ndenumerate(values):
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7)
        fig.tight_layout()
        if show:
            plt.show()
            return None
        return fig, ax

    def plot_seq_attr(self, show: bool = False) -> Any:
        """Bar chart of ``seq_attr`` per input token (green positive, red negative)."""
        values = self.seq_attr.detach().cpu().float().tolist()
        plt, fig, ax = self._figure(max(4.0, 0.6 * len(self.input_tokens)), 3.0)
        ax.bar(range(len(values)), values, color=["tab:green" if v >= 0 else "tab:red" for v in values])
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(values)), self.input_tokens, rotation=60, ha="right")
        ax.set_ylabel("attribution")
        fig.tight_layout()
        if show:
            plt.show()
            return None
        return fig, ax

    def plot_image_heatmap(self, show: bool = False, target_token_pos: int | tuple[int, int] | None = None,
                           border_width: int = 2, show_legends: bool = True) -> Any:
        """For an :class:`ImageMaskInput`: the attributions painted on the image's segments.

        ``target_token_pos`` None uses ``seq_attr``; an int one output token's row of
        ``token_attr``; ``(start, end)`` the sum of rows ``start:end``.
        """
        from veracity.attr.llm.image_input import ImageMaskInput, _plot_overlay

        if not isinstance(self.inp, ImageMaskInput):
            fail("self.inp", "an ImageMaskInput (plot_image_heatmap draws image segments)", self.inp)
        if target_token_pos is None:
            values = self.seq_attr
        else:
            if self.token_attr is None:
                fail("target_token_pos", "None: this result has no token_attr", target_token_pos)
            rows = self.token_attr
            values = (rows[target_token_pos] if isinstance(target_token_pos, int)
                      else rows[target_token_pos[0]:target_token_pos[1]].sum(0))
        return _plot_overlay(self.inp, self.inp.format_pixel_attr(values.reshape(1, -1))[0], show,
                             border_width, show_legends)
