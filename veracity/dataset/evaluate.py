"""``evaluate_dataset``: every method's attributions and every metric's per-example score over a
whole data set, with the model's outputs, written chunk by chunk into a resumable Zarr store.

Each batch goes through the library's evaluation grid (:func:`veracity.metrics.evaluate`): a
method's attributions are computed once and shared by its metrics, and the store keeps those
very attributions (a first grid metric hands them over)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from veracity._core.predict import predict
from veracity._core.validate import fail
from veracity.dataset.examples import batch, dataset_of, device_of, manifest
from veracity.dataset.runner import Plan, Rows, run
from veracity.dataset.store import DatasetStore, jsonable
from veracity.metrics.grid import Context, Metric, builtin_metrics, evaluate

CAPTURE = "stored attributions"  # the grid metric that hands each method's attributions to the store


def _qualified(value: Any) -> str:
    return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__qualname__)}"


def _methods(methods: Any) -> dict[str, Any]:
    if isinstance(methods, (list, tuple)) and all(isinstance(m, type) for m in methods):
        methods = {m.__name__: m for m in methods}
    if not isinstance(methods, dict) or not methods:
        fail("methods", "a non-empty dict {name: Attribution class or instance, or explain(model, inputs, "
             "target)}, or a list of Attribution classes", methods, TypeError)
    for name in methods:
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            fail("methods", "names without '/' (each names a directory of the store)", repr(name))
    return dict(methods)


def _describe_method(method: Any) -> Any:
    """What the manifest records of a method (stable across processes: no object addresses)."""
    if isinstance(method, functools.partial):
        return {"function": _qualified(method.func), "args": jsonable([_describe_method(a) for a in method.args]),
                "keywords": {k: _describe_method(v) if isinstance(v, type) else jsonable(v)
                             for k, v in sorted(method.keywords.items())}}
    if isinstance(method, type) or not hasattr(method, "attribute"):
        return _qualified(method)
    return {"class": _qualified(type(method))}


def _metric(spec: Any) -> tuple[str, Any, bool | None]:
    """A metric spec's name, what the manifest records of it, and its direction."""
    known = builtin_metrics()
    if isinstance(spec, str):
        if spec not in known:
            fail("metrics", "names from: " + ", ".join(sorted(known)), repr(spec))
        return spec, spec, known[spec].higher_is_better
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], dict):
        name, _, higher = _metric(spec[0])
        return name, [name, jsonable(spec[1])], higher
    if isinstance(spec, Metric):
        return spec.name, {"name": spec.name, "compute": _qualified(spec.compute), "kwargs": jsonable(spec.kwargs)}, \
            spec.higher_is_better
    if callable(spec):
        return getattr(spec, "__name__", "metric"), _qualified(spec), None
    fail("metrics", "metric names, (name, kwargs) pairs, Metric objects or f(context)", spec, TypeError)


def _capture(into: list[Tensor]) -> Callable[[Context], Tensor]:
    """A grid metric that keeps each method's attributions (the grid computes them once per method)."""
    def capture(context: Context) -> Tensor:
        into.append(context.attributions)
        return torch.zeros(context.inputs.shape[0])
    return capture


def evaluate_dataset(model: Any, data: Any, methods: Any, metrics: list[Any], store: str | os.PathLike[str], *,
                     batch_size: int = 64, chunk_size: int = 256, seed: int = 0, show_progress: bool = True,
                     distributed: bool | None = None) -> DatasetStore:
    """Explain every example of ``data`` with every method, score each explanation with every
    metric, and write into the Zarr store at ``store``: ``outputs`` and ``targets``,
    ``attributions/<method>`` and ``metrics/<method>/<metric>`` (one float64 score per example).

    ``methods`` and ``metrics`` are as for :func:`veracity.metrics.evaluate` (a dict of
    Attribution classes, instances or ``explain(model, inputs, target)`` functions; metric names,
    ``(name, kwargs)`` pairs, Metric objects or functions); the grid runs on each batch of
    ``batch_size`` examples, each chunk under the seed ``seed * 1_000_003 + chunk``. Resume, the
    refusal of a foreign or corrupt store and the distributed run are those of
    :func:`~veracity.dataset.attribute_dataset`. :func:`~veracity.dataset.summarize` reads the
    store back as per-method metric means with intervals and the worst examples.

    Example:
        >>> import tempfile, veracity.attr as va
        >>> from veracity.data.toy import toy_mlp
        >>> model, x = toy_mlp(batch=5)
        >>> data = torch.utils.data.TensorDataset(x, torch.zeros(5, dtype=torch.long))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     result = evaluate_dataset(model, data, {"ixg": va.InputXGradient}, ["sparseness"], d,
        ...                               chunk_size=2, show_progress=False)
        ...     result.manifest["arrays"], result.numpy("metrics/ixg/sparseness").shape
        (['outputs', 'targets', 'attributions/ixg', 'metrics/ixg/sparseness'], (5,))
    """
    chosen = _methods(methods)
    if isinstance(metrics, (str, Metric)) or not isinstance(metrics, (list, tuple)) or not metrics:
        fail("metrics", "a non-empty list of metrics", metrics, TypeError)
    described = [_metric(spec) for spec in metrics]
    names = [name for name, _, _ in described]
    if len(set(names)) != len(names) or any("/" in n or n.startswith(".") or n == CAPTURE for n in names):
        fail("metrics", f"distinct metric names without '/' (and not {CAPTURE!r})", str(names))
    dataset = dataset_of(data)
    arrays = (["outputs", "targets"] + [f"attributions/{m}" for m in chosen]
              + [f"metrics/{m}/{k}" for m in chosen for k in names])
    wanted = manifest(dataset, model, {m: _describe_method(v) for m, v in chosen.items()},
                      {"metrics": [d for _, d, _ in described]}, arrays,
                      batch_size=batch_size, chunk_size=chunk_size, seed=seed)
    wanted["directions"] = {name: higher for name, _, higher in described}
    device = device_of(model)

    def compute(start: int, stop: int, advance: Callable[[int], object]) -> Rows:
        parts: dict[str, list[np.ndarray]] = {name: [] for name in arrays}
        for lo in range(start, stop, batch_size):
            inputs, targets = batch(dataset, lo, min(stop, lo + batch_size), device)
            captured: list[Tensor] = []
            table = evaluate(model, inputs, targets, chosen, [Metric(CAPTURE, _capture(captured)), *metrics],
                             n_bootstrap=1, seed=seed, show_progress=False)
            if len(captured) != len(chosen):  # pragma: no cover - the grid's loop order changed
                raise RuntimeError("evaluate_dataset: the grid did not compute each method's attributions once")
            parts["outputs"].append(predict(model, inputs, batch_size=batch_size).cpu().numpy())
            parts["targets"].append(targets.cpu().numpy())
            for method, attributions in zip(chosen, captured):
                parts[f"attributions/{method}"].append(attributions.detach().cpu().numpy())
                for name in names:
                    scores = table[method, name].scores.detach().reshape(-1)
                    if scores.shape[0] != inputs.shape[0]:
                        fail("metrics", f"metric {name!r} to return one score per example ({inputs.shape[0]})",
                             f"{scores.shape[0]} scores")
                    parts[f"metrics/{method}/{name}"].append(scores.to("cpu", torch.float64).numpy())
            advance(inputs.shape[0])
        return {name: np.concatenate(values) for name, values in parts.items()}

    return run(Plan(Path(store), wanted, compute, f"evaluating {len(chosen)} methods over the data set",
                    show_progress, seed, distributed))
