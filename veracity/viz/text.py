"""Captum-compatible text attribution tables (``visualize_text``), HTML-escaped.

Captum 0.9 inserts tokens and labels into its HTML as they are (captum#1226): a token such
as ``<img src=x onerror=...>`` runs as markup in a notebook. Here every piece of user text is
escaped; the table's layout and colours follow Captum's.
"""

from __future__ import annotations

import html
import importlib
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from veracity._core.validate import fail

__all__ = ["HTML", "VisualizationDataRecord", "format_classname", "format_special_tokens", "format_tooltip",
           "format_word_importances", "visualize_text"]


class HTML:
    """An HTML fragment that notebooks render (``_repr_html_``); ``data`` holds the markup, as
    on ``IPython.display.HTML``."""

    def __init__(self, data: str) -> None:
        self.data = data

    def _repr_html_(self) -> str:
        return self.data

    def __str__(self) -> str:
        return self.data


class VisualizationDataRecord:
    """One row of :func:`visualize_text`: a classification example and its word attributions
    (Captum's fields and order)."""

    __slots__ = ["word_attributions", "pred_prob", "pred_class", "true_class", "attr_class", "attr_score",
                 "raw_input_ids", "convergence_score"]

    def __init__(self, word_attributions: Any, pred_prob: float, pred_class: Any, true_class: Any,
                 attr_class: Any, attr_score: float, raw_input_ids: Sequence[str], convergence_score: Any) -> None:
        self.word_attributions = word_attributions
        self.pred_prob = pred_prob
        self.pred_class = pred_class
        self.true_class = true_class
        self.attr_class = attr_class
        self.attr_score = attr_score
        self.raw_input_ids = raw_input_ids
        self.convergence_score = convergence_score


def _get_color(attr: float) -> str:
    """Captum's colour scale: green (hue 120) for positive, red (hue 0) for negative, lighter
    towards zero; ``attr`` clipped to [-1, 1]."""
    attr = max(-1.0, min(1.0, float(attr)))
    if attr > 0:
        return f"hsl(120, 75%, {100 - int(50 * attr)}%)"
    return f"hsl(0, 75%, {100 - int(-40 * attr)}%)"


def format_classname(classname: str | int) -> str:
    """A table cell with the (escaped) class name in bold."""
    return f'<td><text style="padding-right:2em"><b>{html.escape(str(classname))}</b></text></td>'


def format_special_tokens(token: str) -> str:
    """``<s>``-style special tokens shown as ``#s`` (Captum's convention); other text unchanged."""
    if token.startswith("<") and token.endswith(">"):
        return "#" + token.strip("<>")
    return token


def format_tooltip(item: str, text: str) -> str:
    """``item`` (markup) with a hover tooltip showing ``text`` (escaped)."""
    return (f'<div class="tooltip">{item}<span class="tooltiptext">{html.escape(str(text))}</span></div>')


def _as_floats(importances: Any) -> list[float]:
    if isinstance(importances, torch.Tensor):
        return importances.detach().cpu().double().reshape(-1).tolist()
    return np.asarray(importances, dtype=np.float64).reshape(-1).tolist()


def format_word_importances(words: Sequence[str], importances: Sequence[float] | np.ndarray | torch.Tensor) -> str:
    """A table cell of the words, each highlighted by its importance (green positive, red
    negative); words are HTML-escaped.

    Example:
        >>> format_word_importances(["<script>", "ok"], [0.5, -0.5]).count("&lt;")
        0
        >>> "&lt;b&gt;" in format_word_importances(["a<b>"], [1.0])
        True
    """
    values = _as_floats(importances)
    if len(values) != len(words):
        fail("importances", f"one importance per word ({len(words)})", f"{len(values)} importances")
    cells = []
    for word, value in zip(words, values):
        text = html.escape(format_special_tokens(str(word)))
        cells.append(f'<mark style="background-color: {_get_color(value)}; opacity:1.0; line-height:1.75">'
                     f'<font color="black"> {text} </font></mark>')
    return "<td>" + "".join(cells) + "</td>"


def visualize_text(datarecords: Iterable[VisualizationDataRecord], legend: bool = True) -> HTML:
    """A table of examples (true, predicted and attributed class, attribution score, words
    coloured by attribution) as Captum's ``visualize_text``, with every label and token
    HTML-escaped. Returns the HTML (an ``IPython.display.HTML`` displayed in a notebook when
    IPython is installed, otherwise :class:`HTML`, whose ``data`` is the markup).

    Example:
        >>> import torch
        >>> record = VisualizationDataRecord(torch.tensor([0.5, -0.2]), 0.9, "pos", "pos", "pos", 0.3,
        ...                                  ["<img src=x onerror=alert(1)>", "fine"], 0.0)
        >>> page = visualize_text([record])
        >>> "<img" in page.data, "&lt;img" in page.data or "#img" in page.data
        (False, True)
    """
    rows = ["<table width: 100%>", '<tr><th>True Label</th><th>Predicted Label</th><th>Attribution Label</th>'
            "<th>Attribution Score</th><th>Word Importance</th></tr>"]
    for record in datarecords:
        if not isinstance(record, VisualizationDataRecord):
            fail("datarecords", "VisualizationDataRecord objects", record, TypeError)
        rows.append("<tr>" + format_classname(record.true_class)
                    + format_classname(f"{record.pred_class} ({float(record.pred_prob):.2f})")
                    + format_classname(record.attr_class)
                    + format_classname(f"{float(record.attr_score):.2f}")
                    + format_word_importances(record.raw_input_ids, record.word_attributions) + "</tr>")
    if legend:
        marks = "".join(f'<span style="display: inline-block; width: 10px; height: 10px; border: 1px solid; '
                        f'background-color: {_get_color(value)}"></span> {name}  '
                        for value, name in ((-1, "Negative"), (0, "Neutral"), (1, "Positive")))
        rows.append(f'<div style="border-top: 1px solid; margin-top: 5px; padding-top: 5px; '
                    f'display: inline-block"><b>Legend: </b>{marks}</div>')
    rows.append("</table>")
    markup = "".join(rows)
    try:
        display = importlib.import_module("IPython.display")
    except ImportError:
        return HTML(markup)
    page = display.HTML(markup)
    display.display(page)
    return page
