"""``summarize``: what a dataset store holds, as a JSON-able dict the report and the app can read."""

from __future__ import annotations

import math
import os
import statistics
from typing import Any

import numpy as np
import torch

from veracity.dataset.store import DatasetStore, open_store
from veracity.metrics.grid import bootstrap_interval


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _rows(store: DatasetStore) -> np.ndarray:
    """The indices of the examples in complete chunks."""
    size, n = store.manifest["chunk_size"], store.manifest["n_examples"]
    parts = [np.arange(c * size, min(n, (c + 1) * size)) for c in sorted(store.manifest["complete"])]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


BOOTSTRAP_LIMIT = 20_000  # above this many scores the interval is the normal one (the resamples would not fit)


def _interval(scores: np.ndarray, confidence: float, n_bootstrap: int, seed: int
              ) -> tuple[float, float, float, int, str]:
    """Mean, interval, count of the finite scores: the library's percentile bootstrap up to
    ``BOOTSTRAP_LIMIT`` scores, the normal interval of the mean (mean +- z * sd / sqrt(n)) above."""
    finite = scores[np.isfinite(scores)].astype(np.float64)
    if finite.size <= BOOTSTRAP_LIMIT:
        mean, low, high, count = bootstrap_interval(torch.from_numpy(finite), n_bootstrap, confidence, seed)
        return mean, low, high, count, "bootstrap"
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    mean, half = float(finite.mean()), z * float(finite.std(ddof=1)) / math.sqrt(finite.size)
    return mean, mean - half, mean + half, int(finite.size), "normal"


def summarize(store: str | os.PathLike[str] | DatasetStore, *, n_worst: int = 5, confidence: float = 0.95,
              n_bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """A store's summary over its complete chunks: how far the run got, the model's accuracy on
    the targets, and for each method and metric the mean score with a percentile bootstrap
    interval (``confidence``, ``n_bootstrap`` resamples, seeded; above 20,000 examples the normal
    interval of the mean, as ``interval`` says) and the ``n_worst`` worst
    examples (by the metric's direction: the lowest scores where higher is better, the highest
    where lower is better; none where the direction is unknown). Plain JSON types only.

    Example:
        >>> import tempfile, veracity.attr as va
        >>> from veracity.data.toy import toy_mlp
        >>> from veracity.dataset import evaluate_dataset
        >>> model, x = toy_mlp(batch=6)
        >>> data = torch.utils.data.TensorDataset(x, torch.zeros(6, dtype=torch.long))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = evaluate_dataset(model, data, {"ixg": va.InputXGradient}, ["sparseness"], d,
        ...                          show_progress=False)
        ...     summary = summarize(d, n_worst=2)
        >>> cell = summary["metrics"][0]
        >>> summary["complete"], cell["method"], cell["metric"], cell["count"], len(cell["worst"])
        (True, 'ixg', 'sparseness', 6, 2)
    """
    opened = store if isinstance(store, DatasetStore) else open_store(store)
    manifest = opened.manifest
    rows = _rows(opened)
    summary: dict[str, Any] = {
        "store": str(opened.path),
        "method": manifest["method"],
        "arguments": manifest["arguments"],
        "n_examples": manifest["n_examples"],
        "n_done": int(rows.size),
        "complete": opened.complete,
        "chunks_complete": len(manifest["complete"]),
        "n_chunks": manifest["n_chunks"],
        "veracity_version": manifest.get("veracity_version"),
        "accuracy": None,
        "metrics": [],
    }
    if rows.size == 0:
        return summary
    outputs, targets = opened.numpy("outputs")[rows], opened.numpy("targets")[rows]
    if outputs.ndim == 2 and targets.ndim == 1 and np.issubdtype(targets.dtype, np.integer):
        summary["accuracy"] = float((outputs.argmax(1) == targets).mean())
    directions = manifest.get("directions", {})
    for name in manifest["arrays"]:
        if not name.startswith("metrics/"):
            continue
        _, method, metric = name.split("/", 2)
        scores = opened.numpy(name)[rows]
        mean, low, high, count, method_of_interval = _interval(scores, confidence, n_bootstrap, seed)
        higher = directions.get(metric)
        worst: list[dict[str, Any]] | None = None
        if higher is not None:
            finite = np.flatnonzero(np.isfinite(scores))
            order = finite[np.argsort(scores[finite] if higher else -scores[finite], kind="stable")][:n_worst]
            worst = [{"index": int(rows[i]), "score": float(scores[i]), "target": targets[i].item()} for i in order]
        summary["metrics"].append({"method": method, "metric": metric, "higher_is_better": higher,
                                   "mean": _finite(mean), "low": _finite(low), "high": _finite(high),
                                   "count": count, "confidence": confidence, "interval": method_of_interval,
                                   "worst": worst})
    return summary
