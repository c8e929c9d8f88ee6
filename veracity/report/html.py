"""The report as one self-contained HTML page (figures inlined, no script, no network) and JSON."""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path
from typing import Any

from veracity.report.build import TrustReport

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1.5em 0}img{max-width:100%}
figcaption{font-size:.9em;color:#444;max-width:60em}.pass{background:#d7f0d9}.fail{background:#f6d3d3}
.inconclusive{background:#fff2c4}.not-run{background:#eee}small{color:#555}
"""


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return escape(str(value))


def _interval(cell: dict[str, Any]) -> str:
    return f"{_num(cell['mean'])} [{_num(cell['low'])}, {_num(cell['high'])}]"


def _verdict_cell(verdict: str) -> str:
    return f'<td class="{escape(verdict.replace(" ", "-"))}">{escape(verdict)}</td>'


def _summary(data: dict[str, Any]) -> str:
    checks = [c["name"] for c in data["checks"]]
    rows = ["<tr><th>method</th>" + "".join(f"<th>{escape(c)}</th>" for c in checks) + "</tr>"]
    for method in data["methods"]:
        by_check = {v["check"]: v for v in method["verdicts"]}
        rows.append(f"<tr><th>{escape(method['name'])}</th>" + "".join(
            _verdict_cell(by_check[c]["verdict"]) if c in by_check else "<td>n/a</td>" for c in checks) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _method_section(method: dict[str, Any], confidence: float) -> str:
    parts = [f"<section><h3>{escape(method['name'])}</h3>"]
    if method.get("notes"):
        parts.append(f"<p>{escape(method['notes'])}</p>")
    parts.append(f"<table><tr><th>metric</th><th>category</th><th>better</th><th>mean [{confidence:.0%} "
                 "interval]</th><th>examples</th><th>settings</th></tr>")
    for cell in method["metrics"]:
        settings = ", ".join(f"{k}={v}" for k, v in cell["settings"].items())
        parts.append(f"<tr><td>{escape(cell['name'])}</td><td>{escape(cell['category'])}</td>"
                     f"<td>{escape(str(cell['better'] or 'n/a'))}</td><td class=\"num\">{_interval(cell)}</td>"
                     f"<td class=\"num\">{cell['count']}</td><td><small>{escape(settings)}</small></td></tr>")
    parts.append("</table><table><tr><th>check</th><th>question</th><th>rule (threshold)</th>"
                 "<th>mean [interval]</th><th>verdict</th></tr>")
    for v in method["verdicts"]:
        parts.append(f"<tr><td>{escape(v['check'])}</td><td><small>{escape(v['question'])}</small></td>"
                     f"<td>{escape(v['rule'])}</td><td class=\"num\">{_interval(v)}</td>"
                     f"{_verdict_cell(v['verdict'])}</tr>")
    parts.append("</table></section>")
    return "".join(parts)


def render_html(report: TrustReport) -> str:
    """The page: summary of verdicts, figures with captions, per method its scores and verdicts.

    Every string from the data is escaped; figures are inlined as base64 PNG; the page loads
    nothing from anywhere (its content security policy forbids it).

    Example:
        >>> page = render_html(TrustReport({"title": "<b>", "model": {}, "data": {}, "settings": {},
        ...                                 "checks": [], "methods": [], "examples": []}, []))
        >>> "&lt;b&gt;" in page and "<b>" not in page
        True
    """
    data = report.data
    confidence = data["settings"].get("confidence", 0.95)
    model, dataset, settings = data["model"], data["data"], data["settings"]
    accuracy = model.get("accuracy")
    facts = [("model", model.get("name")), ("parameters", model.get("n_parameters")),
             ("accuracy", None if accuracy is None else f"{accuracy:.3f}"),
             ("data", dataset.get("name")), ("examples evaluated", dataset.get("n_examples")),
             ("input shape", dataset.get("input_shape")), ("seed", settings.get("seed")),
             ("bootstrap resamples", settings.get("n_bootstrap"))]
    head = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts if v is not None)
    figures = "".join(
        f'<figure id="fig-{escape(f.name)}"><img src="data:image/png;base64,{base64.b64encode(f.png).decode()}" '
        f'alt="{escape(f.alt)}"><figcaption>Figure {i}. {escape(f.caption)}</figcaption></figure>'
        for i, f in enumerate(report.figures, 1))
    sections = "".join(_method_section(m, confidence) for m in data["methods"])
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'\">"
        f"<title>{escape(str(data.get('title', 'trust report')))}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(str(data.get('title', 'trust report')))}</h1><table>{head}</table>"
        "<h2>Verdicts</h2><p>A check passes when the whole bootstrap interval of its metric lies on the "
        "good side of the threshold, fails when it lies on the bad side, and is inconclusive otherwise.</p>"
        f"{_summary(data)}<h2>Figures</h2>{figures}<h2>Scores per method</h2>{sections}"
        "<p><small>Every number of this page is in the JSON file written beside it.</small></p>"
        "</body></html>")


def write_report(report: TrustReport, folder: str | Path, name: str = "report") -> tuple[Path, Path]:
    """Write ``<name>.html`` and ``<name>.json`` into ``folder`` (created); return both paths.

    Example:
        >>> import tempfile
        >>> report = TrustReport({"title": "t", "model": {}, "data": {}, "settings": {}, "checks": [],
        ...                       "methods": [], "examples": []}, [])
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     html_path, json_path = write_report(report, folder)
        ...     json_path.name, html_path.read_text().startswith("<!DOCTYPE html>")
        ('report.json', True)
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    html_path, json_path = folder / f"{name}.html", folder / f"{name}.json"
    html_path.write_text(render_html(report), encoding="utf-8")
    json_path.write_text(json.dumps(report.data, indent=1, allow_nan=False), encoding="utf-8")
    return html_path, json_path
