"""The trust report: explain a model on data, run the checks, write one HTML page and one JSON.

:func:`build_report` explains the examples with each method and runs the evaluation grid
(faithfulness, robustness, complexity, with bootstrap intervals) and the cascading
randomisation sanity check; each :class:`Check` gets a verdict with the threshold it used.
:func:`write_report` writes ``report.html`` (self-contained: figures inlined as PNG, no script,
no network, every string escaped) and ``report.json`` (every number; its schema is
``veracity/report/schema.json``, see :func:`schema`).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from veracity.report.build import DEFAULT_METRICS, Figure, TrustReport, build_report
from veracity.report.checks import DEFAULT_CHECKS, Check
from veracity.report.html import render_html, write_report

__all__ = ["Check", "DEFAULT_CHECKS", "DEFAULT_METRICS", "Figure", "TrustReport", "build_report",
           "render_html", "schema", "write_report"]


def schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) that every ``report.json`` follows.

    Example:
        >>> schema()["title"]
        'veracity trust report'
    """
    text = resources.files("veracity.report").joinpath("schema.json").read_text(encoding="utf-8")
    return json.loads(text)
