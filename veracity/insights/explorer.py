"""What the app computes, without the web: examples with predictions, attributions of chosen
methods with their arguments, and the trust report's checks on the chosen example."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from veracity import attr as methods_module
from veracity._core.predict import predict
from veracity.insights.features import BaseFeature, Batch
from veracity.metrics import faithfulness_correlation, max_sensitivity, model_parameter_randomisation, sparseness
from veracity.report.checks import DEFAULT_CHECKS


class RequestError(ValueError):
    """A bad request: the message goes back to the client with a 4xx status."""


@dataclass(frozen=True)
class Param:
    """An argument of a method the app lets the user set: its type, default and bounds."""

    name: str
    kind: str  # "int", "float" or "bool"
    default: Any
    low: float = 0
    high: float = 0

    def parse(self, method: str, value: Any) -> Any:
        label = f"{method}.{self.name}"
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise RequestError(f"{label}: expected true or false, got {value!r:.40}")
            return value
        wanted = "an integer" if self.kind == "int" else "a number"
        number = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        if not number or (self.kind == "int" and value != int(value)):
            raise RequestError(f"{label}: expected {wanted}, got {value!r:.40}")
        if not self.low <= value <= self.high:
            raise RequestError(f"{label}: expected a value in [{self.low:g}, {self.high:g}], got {value!r}")
        return int(value) if self.kind == "int" else float(value)


# name -> (arguments the user may set, does the method take baselines)
METHODS: dict[str, tuple[tuple[Param, ...], bool]] = {
    "Saliency": ((Param("abs", "bool", True),), False),
    "IntegratedGradients": ((Param("n_steps", "int", 50, 2, 512),), True),
    "InputXGradient": ((), False),
    "DeepLift": ((), True),
    "GradientShap": ((Param("n_samples", "int", 20, 1, 500), Param("stdevs", "float", 0.0, 0.0, 10.0)), True),
    "GuidedBackprop": ((), False),
    "Deconvolution": ((), False),
    "FeatureAblation": ((), True),
}
SCORES = {"faithfulness_correlation": "faithfulness", "max_sensitivity": "robustness",
          "sparseness": "complexity", "mprt_spearman_abs": "randomisation"}


def _as_tuple(value: Any) -> tuple[Tensor, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


class Explorer:
    """The dataset materialised (transforms applied), predictions, and attribution requests."""

    def __init__(self, models: Sequence[Any], classes: Sequence[str], features: Sequence[BaseFeature],
                 dataset: Any, score_func: Callable[[Tensor], Tensor] | None = None, max_examples: int = 500,
                 use_label_for_attr: bool = True) -> None:
        self.models, self.classes, self.features = list(models), [str(c) for c in classes], list(features)
        self.use_label_for_attr = use_label_for_attr
        self.score_func = score_func
        inputs: list[list[Tensor]] = [[] for _ in self.features]
        labels: list[Tensor] = []
        for batch in dataset:
            if not isinstance(batch, Batch):
                raise TypeError(f"`dataset`: expected an iterable of Batch, got {type(batch).__name__}")
            if batch.additional_args is not None:
                raise ValueError("`dataset`: Batch.additional_args are not supported by this app yet; "
                                 "wrap the model so that it takes the inputs alone")
            parts = _as_tuple(batch.inputs)
            if len(parts) != len(self.features):
                raise ValueError(f"`dataset`: batches with {len(self.features)} inputs (one per feature), "
                                 f"got {len(parts)}")
            for i, (feature, part) in enumerate(zip(self.features, parts)):
                inputs[i].append(feature.transform_input(part).detach())
            labels.append(torch.as_tensor(batch.labels).reshape(-1).long())
            if sum(len(lab) for lab in labels) >= max_examples:
                break
        if not labels:
            raise ValueError("`dataset`: expected at least one Batch")
        self.inputs = tuple(torch.cat(parts)[:max_examples] for parts in inputs)
        self.labels = torch.cat(labels)[:max_examples].cpu()
        self.outputs = [predict(model, self.inputs).cpu() for model in self.models]

    def config(self) -> dict[str, Any]:
        return {"classes": self.classes, "models": [type(m).__name__ for m in self.models],
                "features": [{"name": f.name, "type": f.kind} for f in self.features], "n_examples": len(self.labels),
                "methods": [{"name": name, "params": [{"name": p.name, "kind": p.kind, "default": p.default,
                                                       "low": p.low, "high": p.high} for p in params]}
                            for name, (params, _) in METHODS.items()],
                "checks": [{"name": c.name, "metric": c.metric, "better": c.better, "threshold": c.threshold,
                            "question": c.question} for c in DEFAULT_CHECKS if c.metric in SCORES]}

    def _model(self, index: Any) -> int:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.models):
            raise RequestError(f"model: expected an index in 0..{len(self.models) - 1}, got {index!r:.40}")
        return index

    def _class_name(self, index: int) -> str:
        return self.classes[index] if 0 <= index < len(self.classes) else str(index)

    def examples(self, model: int = 0, true_class: int | None = None, predicted_class: int | None = None,
                 offset: int = 0, limit: int = 24) -> dict[str, Any]:
        model = self._model(model)
        outputs = self.outputs[model]
        predicted = outputs.argmax(1)
        keep = torch.ones(len(self.labels), dtype=torch.bool)
        if true_class is not None:
            keep &= self.labels == true_class
        if predicted_class is not None:
            keep &= predicted == predicted_class
        indices = torch.nonzero(keep).flatten().tolist()
        scores = self.score_func(outputs) if self.score_func else outputs
        chosen = indices[offset:offset + limit]
        return {"total": len(indices), "offset": offset, "examples": [
            {"id": i, "label": int(self.labels[i]), "label_name": self._class_name(int(self.labels[i])),
             "predicted": int(predicted[i]), "predicted_name": self._class_name(int(predicted[i])),
             "score": float(scores[i, predicted[i]]),
             "features": [f.thumbnail(x[i]) for f, x in zip(self.features, self.inputs)]} for i in chosen]}

    def _method(self, spec: Any) -> tuple[str, dict[str, Any], bool]:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise RequestError("methods: expected a list of {\"name\": ..., \"args\": {...}}")
        name = spec["name"]
        if name not in METHODS:
            raise RequestError(f"methods: unknown method {name!r:.60}; known: {', '.join(METHODS)}")
        params, takes_baselines = METHODS[name]
        given = spec.get("args", {}) or {}
        if not isinstance(given, dict):
            raise RequestError(f"{name}.args: expected an object")
        known = {p.name: p for p in params}
        unknown = [k for k in given if k not in known]
        if unknown:
            raise RequestError(f"{name}: unknown argument {str(unknown[0])!r:.60}; known: {', '.join(known) or 'none'}")
        return name, {p.name: p.parse(name, given.get(p.name, p.default)) for p in params}, takes_baselines

    def attribute(self, example: Any, methods: Any, model: Any = 0, target: Any = None) -> dict[str, Any]:
        """Attributions of ``example`` by each of ``methods`` with the trust checks' scores."""
        model = self._model(model)
        if isinstance(example, bool) or not isinstance(example, int) or not 0 <= example < len(self.labels):
            raise RequestError(f"example: expected an index in 0..{len(self.labels) - 1}, got {example!r:.40}")
        if not isinstance(methods, list) or not 1 <= len(methods) <= len(METHODS):
            raise RequestError(f"methods: expected a list of 1 to {len(METHODS)} methods")
        specs = [self._method(m) for m in methods]
        net, outputs = self.models[model], self.outputs[model]
        if target is None:  # as Captum Insights: the true label, or the prediction
            label = int(self.labels[example])
            use_label = self.use_label_for_attr and 0 <= label < outputs.shape[1]
            target = label if use_label else int(outputs[example].argmax())
        if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < outputs.shape[1]:
            raise RequestError(f"target: expected a class index in 0..{outputs.shape[1] - 1}, got {target!r:.40}")
        x = tuple(part[example:example + 1] for part in self.inputs)
        t = torch.tensor([target], device=x[0].device)
        results = []
        for name, kwargs, takes_baselines in specs:
            start = time.perf_counter()
            explain = _explainer(name, kwargs, takes_baselines, self.features)
            maps = _as_tuple(explain(net, x if len(x) > 1 else x[0], t))
            scores = _scores(net, x, t, explain, maps)
            results.append({"method": name, "args": kwargs, "features": [
                f.visualize(m[0], v[0]) for f, m, v in zip(self.features, maps, x)], "scores": scores,
                "seconds": round(time.perf_counter() - start, 4)})
        return {"example": example, "target": target, "target_name": self._class_name(target),
                "label": int(self.labels[example]), "label_name": self._class_name(int(self.labels[example])),
                "results": results}


def _explainer(name: str, kwargs: dict[str, Any], takes_baselines: bool,
               features: list[BaseFeature]) -> Callable[[Any, Any, Tensor], Any]:
    cls = getattr(methods_module, name)

    def explain(model: Any, inputs: Any, target: Tensor) -> Any:
        extra = dict(kwargs)
        if takes_baselines:
            parts = _as_tuple(inputs)
            baselines = tuple(f.baseline(p) for f, p in zip(features, parts))
            extra["baselines"] = baselines if isinstance(inputs, tuple) else baselines[0]
        if name == "GradientShap":
            extra["generator"] = torch.Generator().manual_seed(0)
        return cls(model).attribute(inputs, target=target, **extra)
    return explain


def _scores(model: Any, x: tuple[Tensor, ...], t: Tensor, explain: Callable[..., Any],
            maps: tuple[Tensor, ...]) -> list[dict[str, Any]]:
    """The report's checks on this one example (single-input models): value, threshold, verdict."""
    if len(x) != 1:
        return []
    values: dict[str, float] = {}
    attributions = maps[0].detach()
    values["sparseness"] = float(sparseness(attributions)[0])
    values["faithfulness_correlation"] = float(faithfulness_correlation(
        model, x[0], attributions, t, subset_size=max(1, min(8, x[0][0].numel() // 4)), nr_runs=50, baseline=0.0,
        seed=0)[0])
    values["max_sensitivity"] = float(max_sensitivity(model, x[0], t, explain, attributions=attributions,
                                                      n_samples=3, radius=0.05, seed=0)[0])
    if isinstance(model, torch.nn.Module):
        result = model_parameter_randomisation(model, x[0], t, explain, attributions=attributions, seed=0)
        values["mprt_spearman_abs"] = float(result.last()["spearman_abs"][0])
    checks = {c.metric: c for c in DEFAULT_CHECKS}
    out = []
    for metric, value in values.items():
        check = checks.get(metric)
        finite = value == value and abs(value) != float("inf")
        verdict = None
        if check is not None:
            verdict = check.verdict(value, value, value) if finite else "not run"
        out.append({"metric": metric, "category": SCORES[metric], "value": value if finite else None,
                    "better": check.better if check else "higher", "threshold": check.threshold if check else None,
                    "verdict": verdict})
    return out
