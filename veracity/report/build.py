"""Build a trust report: explain, run the checks, collect every number in one JSON-ready dict."""

from __future__ import annotations

import math
import platform
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor

from veracity._core.predict import predict
from veracity._core.validate import check_positive_int, fail
from veracity.metrics import bootstrap_interval, evaluate, model_parameter_randomisation
from veracity.metrics.grid import EvaluationTable
from veracity.metrics.randomisation import RandomisationResult
from veracity.report.checks import DEFAULT_CHECKS, Check

SCHEMA_VERSION = 1
DEFAULT_METRICS: list[Any] = [
    ("faithfulness_correlation", {"subset_size": 8, "nr_runs": 100, "baseline": 0.0}),
    ("max_sensitivity", {"n_samples": 5, "radius": 0.05}),
    "sparseness",
]
CATEGORY = {"faithfulness_correlation": "faithfulness", "max_sensitivity": "robustness",
            "sparseness": "complexity", "mprt_spearman_abs": "randomisation", "mprt_spearman": "randomisation"}
SIMILARITY_OF = {"mprt_spearman_abs": "spearman_abs", "mprt_spearman": "spearman"}


def finite(value: float) -> float | None:
    """``value`` as a float, or None for NaN and infinities (JSON has no NaN).

    Example:
        >>> finite(float("nan")) is None, finite(2)
        (True, 2.0)
    """
    value = float(value)
    return value if math.isfinite(value) else None


def _floats(values: Tensor) -> list[float | None]:
    return [finite(v) for v in values.detach().double().cpu().reshape(-1).tolist()]


@dataclass
class Figure:
    """A figure of the report: PNG bytes, a caption and alternative text."""

    name: str
    png: bytes = field(repr=False)
    caption: str
    alt: str


@dataclass
class TrustReport:
    """Everything a report shows: ``data`` (JSON-ready, every number) and the figures.

    Write it with :func:`veracity.report.write_report` (HTML and JSON).
    """

    data: dict[str, Any]
    figures: list[Figure]
    attributions: dict[str, Tensor] = field(repr=False, default_factory=dict)


def _metric_name(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, tuple):
        return str(spec[0])
    return str(getattr(spec, "name", getattr(spec, "__name__", "metric")))


def _with_seed(metrics: Sequence[Any], seed: int) -> list[Any]:
    """Give every (name, kwargs) metric that takes a seed the report's seed unless set."""
    seeded = {"faithfulness_correlation", "max_sensitivity", "avg_sensitivity", "faithfulness_estimate"}
    out: list[Any] = []
    for spec in metrics:
        name = _metric_name(spec)
        if name in seeded and isinstance(spec, tuple) and "seed" not in spec[1]:
            spec = (spec[0], {**spec[1], "seed": seed})
        elif name in seeded and isinstance(spec, str):
            spec = (spec, {"seed": seed})
        out.append(spec)
    return out


def _cell_json(table: EvaluationTable, method: str, metric: Any) -> dict[str, Any]:
    cell = table[method, metric.name]
    direction = {True: "higher", False: "lower", None: None}[metric.higher_is_better]
    return {"name": metric.name, "category": CATEGORY.get(metric.name, "other"), "better": direction,
            "settings": {k: repr(v) for k, v in metric.kwargs.items()},
            "mean": finite(cell.mean), "low": finite(cell.low), "high": finite(cell.high),
            "count": cell.count, "scores": _floats(cell.scores)}


def _randomisation_json(result: RandomisationResult, n_bootstrap: int, confidence: float,
                        seed: int) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    curves: dict[str, Any] = {}
    cells: dict[str, dict[str, Any]] = {}
    for key, values in result.similarity.items():
        mean = values.nanmean(1)
        sd = torch.sqrt(((values - mean[:, None]) ** 2).nanmean(1))
        curves[key] = {"mean": _floats(mean), "sd": _floats(sd)}
    for metric, key in SIMILARITY_OF.items():
        if key not in result.similarity:
            continue
        last = result.similarity[key][-1]
        mean_v, low, high, count = bootstrap_interval(last, n_bootstrap, confidence, seed)
        cells[metric] = {"name": metric, "category": "randomisation", "better": "lower", "settings":
                         {"order": "'top_down'", "seed": repr(seed)}, "mean": finite(mean_v),
                         "low": finite(low), "high": finite(high), "count": count, "scores": _floats(last)}
    return {"stages": list(result.stages), "similarity": curves}, cells


def _verdicts(checks: Sequence[Check], cells: dict[str, dict[str, Any]], confidence: float) -> list[dict[str, Any]]:
    out = []
    for check in checks:
        cell = cells.get(check.metric)
        values = [math.nan if cell is None or cell[k] is None else cell[k] for k in ("mean", "low", "high")]
        out.append({"check": check.name, "metric": check.metric, "question": check.question,
                    "better": check.better, "threshold": check.threshold,
                    "rule": f"{check.rule()} ({confidence:.0%} bootstrap interval of the mean)",
                    "mean": finite(values[0]), "low": finite(values[1]), "high": finite(values[2]),
                    "verdict": check.verdict(*values)})
    return out


def explain(method: Any, model: Any, inputs: Tensor, targets: Tensor) -> Tensor:
    """Attributions of ``method`` (an Attribution class or instance, or ``f(model, x, t)``).

    Example:
        >>> from veracity.attr import Saliency
        >>> explain(Saliency, torch.nn.Linear(3, 2), torch.ones(1, 3), torch.tensor([0])).shape
        torch.Size([1, 3])
    """
    if isinstance(method, type) and hasattr(method, "attribute"):
        result = method(model).attribute(inputs, target=targets)
    elif hasattr(method, "attribute"):
        result = method.attribute(inputs, target=targets)
    elif callable(method):
        result = method(model, inputs, targets)
    else:
        fail("methods", "Attribution classes or instances, or functions explain(model, x, target)", method,
             TypeError)
    if not isinstance(result, Tensor):
        fail("methods", "a method that returns one tensor of attributions", result, TypeError)
    return result.detach()


def _labels(targets: Any, n: int) -> Tensor:
    if isinstance(targets, int) and not isinstance(targets, bool):
        return torch.full((n,), targets, dtype=torch.long)
    if not isinstance(targets, Tensor) or targets.shape != (n,):
        fail("targets", f"an int or a tensor of {n} class indices", targets)
    return targets.long()


def build_report(model: Any, inputs: Tensor, targets: Any, methods: dict[str, Any], *,
                 labels: Tensor | None = None, classes: Sequence[str] | None = None,
                 metrics: Sequence[Any] | None = None, checks: Sequence[Check] = DEFAULT_CHECKS,
                 shown: int | Sequence[int] = 8, randomisation: bool = True, seed: int = 0, n_bootstrap: int = 1000,
                 confidence: float = 0.95, title: str = "veracity trust report",
                 model_name: str = "model", data_name: str = "data",
                 method_notes: dict[str, str] | None = None, evaluation: EvaluationTable | None = None,
                 show_progress: bool | None = None) -> TrustReport:
    """Explain ``inputs`` for ``targets`` with every method, run the checks, gather every number.

    ``methods`` maps a name to an ``Attribution`` class or instance or ``explain(model, x, t)``
    (as :func:`veracity.metrics.evaluate`). ``metrics`` (default :data:`DEFAULT_METRICS`:
    faithfulness correlation, max-sensitivity, sparseness) are run with bootstrap intervals;
    with ``randomisation`` the cascading model parameter randomisation test runs too (top
    down, Spearman of |maps| and of signed maps). Each of ``checks`` gets a verdict from the
    interval of its metric. The first ``shown`` examples are drawn (or those at the indices
    ``shown`` lists). ``labels`` are the true
    classes when known; ``classes`` their names. ``evaluation``: the grid of these methods on
    these inputs and targets if already computed (``metrics`` is then ignored). Progress bars
    (stderr) appear when the work takes more than a few seconds (``show_progress=None``).

    Example:
        >>> from veracity.attr import Saliency
        >>> from veracity.data import DigitsCNN
        >>> report = build_report(DigitsCNN().eval(), torch.rand(6, 1, 8, 8), torch.zeros(6, dtype=torch.long),
        ...                       {"Saliency": Saliency}, metrics=["sparseness"], shown=2, n_bootstrap=50)
        >>> [v["verdict"] in ("pass", "fail", "inconclusive", "not run") for v in report.data["methods"][0]["verdicts"]]
        [True, True, True, True]
    """
    if not isinstance(inputs, Tensor) or inputs.dim() < 2 or inputs.shape[0] == 0:
        fail("inputs", "a tensor (N, ...) with N >= 1", inputs)
    n = inputs.shape[0]
    if isinstance(shown, int) and not isinstance(shown, bool):
        check_positive_int("shown", shown)
        chosen = list(range(min(shown, n)))
    elif isinstance(shown, Sequence) and shown and all(isinstance(i, int) and 0 <= i < n for i in shown):
        chosen = list(shown)
    else:
        fail("shown", f"a number of examples, or a non-empty list of indices in 0..{n - 1}", shown)
    targets = _labels(targets, n)
    metric_specs = _with_seed(list(DEFAULT_METRICS if metrics is None else metrics), seed)
    outputs = predict(model, inputs)
    predicted = outputs.argmax(1) if outputs.dim() == 2 else torch.zeros(n, dtype=torch.long)
    names = list(classes) if classes is not None else [str(i) for i in range(outputs.shape[-1])]
    if evaluation is None:
        table = evaluate(model, inputs, targets, methods, metric_specs, n_bootstrap=n_bootstrap,
                         confidence=confidence, seed=seed, show_progress=show_progress)
    elif not isinstance(evaluation, EvaluationTable) or list(evaluation.methods) != list(methods):
        fail("evaluation", f"an EvaluationTable of the methods {list(methods)}", evaluation, TypeError)
    else:
        table = evaluation
    method_rows, attributions, randomisation_results = [], {}, {}
    notes = method_notes or {}
    for name, method in methods.items():
        cells = {m.name: _cell_json(table, name, m) for m in table.metrics}
        row: dict[str, Any] = {"name": name, "notes": notes.get(name, "")}
        if randomisation:
            result = model_parameter_randomisation(model, inputs, targets, method, order="top_down", seed=seed,
                                                   keep_maps=False, show_progress=show_progress is not False)
            randomisation_results[name] = result
            attributions[name] = result.original.detach()
            row["randomisation"], extra = _randomisation_json(result, n_bootstrap, confidence, seed)
            cells.update(extra)
        else:
            attributions[name] = explain(method, model, inputs, targets)
            row["randomisation"] = None
        row["metrics"] = list(cells.values())
        row["verdicts"] = _verdicts(checks, cells, confidence)
        method_rows.append(row)
    examples = [{"index": i, "target": int(targets[i]), "target_name": names[int(targets[i])]
                 if int(targets[i]) < len(names) else str(int(targets[i])),
                 "label": None if labels is None else int(labels[i]),
                 "predicted": int(predicted[i]),
                 "predicted_name": names[int(predicted[i])] if int(predicted[i]) < len(names)
                 else str(int(predicted[i]))}
                for i in chosen]
    accuracy = None if labels is None else finite(float((predicted == labels.to(predicted.device)).double().mean()))
    import veracity
    data = {
        "schema_version": SCHEMA_VERSION, "title": title,
        "veracity_version": getattr(veracity, "__version__", "0"),
        "environment": {"python": platform.python_version(), "torch": torch.__version__},
        "model": {"name": model_name, "n_parameters": sum(p.numel() for p in model.parameters())
                  if hasattr(model, "parameters") else None, "accuracy": accuracy},
        "data": {"name": data_name, "n_examples": n, "input_shape": list(inputs.shape[1:]), "classes": names},
        "settings": {"seed": seed, "n_bootstrap": n_bootstrap, "confidence": confidence,
                     "metrics": [m.name for m in table.metrics], "randomisation": randomisation},
        "checks": [{"name": c.name, "metric": c.metric, "better": c.better, "threshold": c.threshold,
                    "question": c.question} for c in checks],
        "examples": examples, "methods": method_rows, "figures": [],
    }
    from veracity.report.figures import report_figures
    figures = report_figures(inputs[chosen], {m: a[chosen] for m, a in attributions.items()}, examples,
                             randomisation_results, checks)
    data["figures"] = [{"name": f.name, "caption": f.caption} for f in figures]
    return TrustReport(data, figures, attributions)
