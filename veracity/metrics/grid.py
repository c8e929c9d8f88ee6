"""The evaluation grid: every method against every metric, with bootstrap confidence intervals.

Each method's attributions are computed once and shared by every metric (faithfulness,
complexity and localisation metrics need nothing else); metrics that need the explanation
again (robustness, randomisation) get the method's explanation function.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from veracity._core.validate import check_positive_int, fail
from veracity.metrics._engine.explain import as_explain_func, check_input_tensor, explain_checked
from veracity.metrics._grid_metrics import Context, Metric, as_metric, builtin_metrics

__all__ = ["evaluate", "EvaluationTable", "Cell", "Metric", "Context", "bootstrap_interval",
           "builtin_metrics"]


@dataclass(frozen=True)
class Cell:
    """One (method, metric) result: the mean over examples (NaNs skipped), a bootstrap
    confidence interval ``[low, high]``, the number of finite scores and all scores."""

    mean: float
    low: float
    high: float
    count: int
    scores: Tensor = field(repr=False)
    curve: Any = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.mean:.3g} [{self.low:.3g}, {self.high:.3g}]"


def bootstrap_interval(scores: Tensor, n_bootstrap: int = 1000, confidence: float = 0.95,
                       seed: int = 0) -> tuple[float, float, float, int]:
    """``(mean, low, high, count)`` of the finite scores: percentile bootstrap of the mean.

    Example:
        >>> import torch
        >>> mean, low, high, count = bootstrap_interval(torch.tensor([1.0, 2.0, 3.0, float("nan")]))
        >>> mean, count, low <= mean <= high
        (2.0, 3, True)
    """
    check_positive_int("n_bootstrap", n_bootstrap)
    if not 0 < confidence < 1:
        fail("confidence", "a number in (0, 1)", confidence)
    finite = scores.detach().reshape(-1).double()
    finite = finite[torch.isfinite(finite)].cpu()
    if finite.numel() == 0:
        return math.nan, math.nan, math.nan, 0
    g = torch.Generator().manual_seed(seed)
    draws = torch.randint(finite.numel(), (n_bootstrap, finite.numel()), generator=g)
    means = finite[draws].mean(1)
    tail = (1 - confidence) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail], dtype=means.dtype)).tolist()
    return float(finite.mean()), low, high, finite.numel()


@dataclass
class EvaluationTable:
    """Rows: methods; columns: metrics; each cell a :class:`Cell` with its interval.

    ``str(table)`` and :meth:`to_markdown` render it as Markdown (arrows give the direction),
    :meth:`to_pandas` as a DataFrame with columns ``(metric, mean|low|high)``, and
    ``table.curves(metric)`` collects curve results for :mod:`veracity.metrics.plot`.
    """

    methods: list[str]
    metrics: list[Metric]
    cells: dict[tuple[str, str], Cell]

    def __getitem__(self, key: tuple[str, str]) -> Cell:
        return self.cells[key]

    def curves(self, metric: str) -> dict[str, Any]:
        return {m: self.cells[m, metric].curve for m in self.methods
                if self.cells[m, metric].curve is not None}

    def to_markdown(self) -> str:
        arrows = {True: " ↑", False: " ↓", None: ""}
        header = ["method", *(m.name + arrows[m.higher_is_better] for m in self.metrics)]
        rows = [[method, *(str(self.cells[method, m.name]) for m in self.metrics)]
                for method in self.methods]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
                 for r in [header, *rows]]
        lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
        return "\n".join(lines)

    __str__ = to_markdown

    def to_pandas(self) -> Any:
        """A DataFrame (index: method; columns: (metric, mean/low/high)); needs pandas."""
        try:
            import pandas as pd
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError("EvaluationTable.to_pandas needs pandas: pip install pandas") from error
        columns = pd.MultiIndex.from_product([[m.name for m in self.metrics], ["mean", "low", "high"]])
        data = [[getattr(self.cells[method, m.name], stat) for m in self.metrics
                 for stat in ("mean", "low", "high")] for method in self.methods]
        return pd.DataFrame(data, index=pd.Index(self.methods, name="method"), columns=columns)


def _scores_of(result: Any, metric: Metric, batch: int) -> tuple[Tensor, Any]:
    curve = None
    if hasattr(result, "score"):
        curve, result = result, result.score
    if not isinstance(result, Tensor):
        result = torch.as_tensor(result, dtype=torch.float64)
    if result.dim() == 0:
        result = result.reshape(1)
    if result.dim() != 1:
        fail("metrics", f"metric {metric.name!r} to return one score per example",
             f"shape {tuple(result.shape)}")
    return result.detach(), curve


_COUNTS = ("n_samples", "nr_samples", "nr_runs", "regions_evaluation", "n_steps")


def metric_cost(metric: Metric, inputs: Tensor) -> str:
    """What one metric costs per example and method, in model calls, from its settings.

    Example:
        >>> import torch
        >>> from veracity.metrics._grid_metrics import as_metric
        >>> metric_cost(as_metric(("max_sensitivity", {"n_samples": 5})), torch.rand(2, 1, 8, 8))
        'max_sensitivity: 5 re-explanations per example'
        >>> metric_cost(as_metric("sparseness"), torch.rand(2, 1, 8, 8))
        'sparseness: no model call (the map only)'
    """
    import inspect

    from veracity.metrics._grid_metrics import metric_functions

    groups = metric_functions()
    if metric.name.startswith("mprt_") or metric.name == "efficient_mprt":
        return f"{metric.name}: one re-explanation per randomisable layer (on a batch of every example)"
    if metric.name not in groups:
        return f"{metric.name}: unknown (a custom metric)"
    kind, function = groups[metric.name]
    if kind == "map":
        return f"{metric.name}: no model call (the map only)"
    settings = {k: v.default for k, v in inspect.signature(function).parameters.items()}
    settings.update(metric.kwargs)
    count = next((settings[k] for k in _COUNTS if isinstance(settings.get(k), int)), None)
    if kind == "explain":
        return f"{metric.name}: {count if count is not None else 'some'} re-explanations per example"
    if count is not None:
        return f"{metric.name}: about {count} forward passes per example"
    step = settings.get("features_in_step", 1)
    if isinstance(step, int) and step >= 1:
        return f"{metric.name}: about {max(1, inputs[0].numel() // step)} forward passes per example"
    return f"{metric.name}: forward passes per example"


def evaluate(model: Any, inputs: Tensor, targets: Any, methods: dict[str, Any], metrics: list[Any],
             *, masks: Tensor | None = None, n_bootstrap: int = 1000, confidence: float = 0.95,
             seed: int = 0, show_progress: bool | None = None) -> EvaluationTable:
    """Run every metric on every method; one bootstrap confidence interval per cell.

    ``methods`` maps a name to an ``Attribution`` instance or class, or a function
    ``explain(model, inputs, target)``; each method's attributions are computed once and
    reused by all metrics. ``metrics`` lists names (see :func:`builtin_metrics`),
    ``(name, kwargs)`` pairs, :class:`Metric` objects or functions ``f(context) -> scores``.
    ``masks`` are ground-truth masks for localisation metrics. Each cell holds the mean over
    examples and a percentile bootstrap interval (``n_bootstrap`` resamples, seeded).

    Progress: ``show_progress=None`` (default) shows a bar, to stderr, once the grid has run
    for more than 2 seconds, naming the cell being computed and its cost (:func:`metric_cost`);
    True prints every metric's cost first and shows the bar at once; False shows nothing.
    A metric's method arguments can differ from the method's own: give
    ``("max_sensitivity", {"n_samples": 5, "method_kwargs": {"n_steps": 16}})`` and that metric
    calls the method with ``n_steps=16`` (for Attribution classes and instances, and for
    ``explain(model, inputs, target, **kwargs)`` functions), its attributions included.

    Example:
        >>> import torch
        >>> from veracity.attr import InputXGradient, Saliency
        >>> model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
        >>> table = evaluate(model.eval(), torch.randn(10, 6), 0,
        ...                  {"saliency": Saliency, "ixg": InputXGradient},
        ...                  ["sparseness", ("max_sensitivity", {"n_samples": 4})])
        >>> table.methods, [m.name for m in table.metrics]
        (['saliency', 'ixg'], ['sparseness', 'max_sensitivity'])
    """
    inputs = check_input_tensor(inputs)
    if not isinstance(methods, dict) or not methods:
        fail("methods", "a non-empty dict {name: Attribution or explain(model, inputs, target)}",
             methods, TypeError)
    if isinstance(metrics, (str, Metric)) or not isinstance(metrics, (list, tuple)) or not metrics:
        fail("metrics", "a non-empty list of metrics", metrics, TypeError)
    metric_list = [as_metric(spec) for spec in metrics]
    names = [m.name for m in metric_list]
    if len(set(names)) != len(names):
        fail("metrics", "distinct metric names", str(names))
    explainers = {name: as_explain_func(method, f"methods[{name!r}]") for name, method in methods.items()}
    cells: dict[tuple[str, str], Cell] = {}
    jobs = [(method, metric) for method in explainers for metric in metric_list]
    progress = None
    costs = {metric.name: metric_cost(metric, inputs) for metric in metric_list}
    if show_progress is None or show_progress:
        from tqdm.auto import tqdm
        if show_progress:
            tqdm.write(f"evaluate: {len(explainers)} methods x {len(metric_list)} metrics on {inputs.shape[0]} "
                       "examples; per method: " + "; ".join(costs.values()), file=sys.stderr)
        progress = tqdm(total=len(jobs), desc="evaluate", leave=False, delay=0 if show_progress else 2.0)
    for method_name, explain in explainers.items():
        attributions = explain_checked(explain, model, inputs, targets)
        context = Context(model, inputs, targets, attributions, explain, masks)
        for metric in metric_list:
            if progress is not None:
                progress.set_postfix_str(f"{method_name}: {costs[metric.name]}", refresh=False)
            kwargs = dict(metric.kwargs)
            method_kwargs = kwargs.pop("method_kwargs", None)
            metric_context = context
            if method_kwargs:
                if not isinstance(method_kwargs, dict):
                    fail("metrics", f"metric {metric.name!r}: method_kwargs as a dict", method_kwargs, TypeError)
                own = as_explain_func(methods[method_name], f"methods[{method_name!r}]", **method_kwargs)
                metric_context = Context(model, inputs, targets, explain_checked(own, model, inputs, targets),
                                         own, masks)
            result = metric.compute(metric_context, **kwargs)
            scores, curve = _scores_of(result, metric, inputs.shape[0])
            mean, low, high, count = bootstrap_interval(scores, n_bootstrap, confidence, seed)
            cells[method_name, metric.name] = Cell(mean, low, high, count, scores, curve)
            if progress is not None:
                progress.update(1)
    if progress is not None:
        progress.close()
    return EvaluationTable(list(explainers), metric_list, cells)

