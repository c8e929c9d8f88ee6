"""Token heatmaps as escaped HTML and as terminal text (ANSI colours): positive attributions
green, negative red, intensity proportional to |value| / max |value|."""

from __future__ import annotations

import html
from typing import Sequence

import torch
from torch import Tensor


def _scaled(values: Sequence[float] | Tensor) -> list[float]:
    row = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    peak = float(row.abs().max()) if row.numel() else 0.0
    return (row / peak).tolist() if peak > 0 else [0.0] * row.numel()


def _check(tokens: Sequence[str], values: Sequence[float] | Tensor) -> None:
    if len(tokens) != torch.as_tensor(values).numel():
        raise ValueError(f"`values`: expected one value per token ({len(tokens)}), got "
                         f"{torch.as_tensor(values).numel()} values")


def _css(scaled: float) -> str:
    colour = "0, 160, 60" if scaled >= 0 else "220, 40, 40"
    return f"background-color: rgba({colour}, {abs(scaled):.3f})"


def token_heatmap_html(tokens: Sequence[str], values: Sequence[float] | Tensor, title: str | None = None) -> str:
    """An HTML fragment: each token in a coloured box, its value in the tooltip; every token
    (and the title) is escaped.

    Example:
        >>> token_heatmap_html(["<b>", "ok"], [1.0, -0.5]).count("&lt;b&gt;")
        2
    """
    _check(tokens, values)
    raw = torch.as_tensor(values, dtype=torch.float64).reshape(-1).tolist()
    spans = [f'<span title="{html.escape(token)}: {value:.4g}" style="{_css(scaled)}; padding: 0 2px; '
             f'margin: 1px; border-radius: 3px">{html.escape(token)}</span>'
             for token, value, scaled in zip(tokens, raw, _scaled(values))]
    heading = f"<div><b>{html.escape(title)}</b></div>" if title else ""
    return f'<div class="veracity-tokens">{heading}{" ".join(spans)}</div>'


def token_table_html(input_tokens: Sequence[str], output_tokens: Sequence[str], values: Tensor) -> str:
    """An HTML table: one row per output token, one coloured cell per input token; escaped.

    Example:
        >>> "&amp;" in token_table_html(["a&b"], ["c"], torch.tensor([[0.5]]))
        True
    """
    if tuple(values.shape) != (len(output_tokens), len(input_tokens)):
        raise ValueError(f"`values`: expected shape {(len(output_tokens), len(input_tokens))} (outputs, inputs), "
                         f"got {tuple(values.shape)}")
    scaled = torch.tensor(_scaled(values)).view(values.shape) if values.numel() else values
    head = "".join(f"<th>{html.escape(t)}</th>" for t in input_tokens)
    rows = "".join(
        f"<tr><th>{html.escape(out)}</th>"
        + "".join(f'<td style="{_css(float(s))}" title="{float(v):.4g}">{float(v):.3f}</td>'
                  for v, s in zip(values[i].tolist(), scaled[i].tolist())) + "</tr>"
        for i, out in enumerate(output_tokens))
    return f'<table class="veracity-token-attr"><tr><th></th>{head}</tr>{rows}</table>'


def token_heatmap_terminal(tokens: Sequence[str], values: Sequence[float] | Tensor, color: bool = True) -> str:
    """The tokens with 24-bit ANSI background colours (``color=False``: ``token(+0.12)`` text,
    the raw values).

    Example:
        >>> token_heatmap_terminal(["a", "b"], [0.5, -0.25], color=False)
        'a(+0.500) b(-0.250)'
    """
    _check(tokens, values)
    scaled = _scaled(values)
    if not color:
        raw = torch.as_tensor(values, dtype=torch.float64).reshape(-1).tolist()
        return " ".join(f"{t}({v:+.3f})" for t, v in zip(tokens, raw))
    parts = []
    for token, s in zip(tokens, scaled):
        strength = abs(s)
        red, green = (int(255 * (1 - 0.6 * strength)), 255) if s >= 0 else (255, int(255 * (1 - 0.8 * strength)))
        blue = int(255 * (1 - 0.8 * strength))
        parts.append(f"\x1b[48;2;{red};{green};{blue}m\x1b[38;2;0;0;0m{token}\x1b[0m")
    return " ".join(parts)
