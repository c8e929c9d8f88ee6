"""The trust report: numbers equal the library's own evaluation, verdicts follow their rule, the
JSON validates against the schema in the repo, the HTML is self-contained and escapes every string."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("matplotlib")
jsonschema = pytest.importorskip("jsonschema")

from veracity.attr import InputXGradient, Saliency  # noqa: E402
from veracity.data import DigitsCNN  # noqa: E402
from veracity.metrics import evaluate, model_parameter_randomisation  # noqa: E402
from veracity.report import Check, build_report, render_html, schema, write_report  # noqa: E402
from veracity.report.build import finite  # noqa: E402

EVIL = '<img src=x onerror="alert(1)">&"\''


@pytest.fixture(scope="module")
def built() -> tuple[Any, Any, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = DigitsCNN().eval()
    x, y = torch.rand(10, 1, 8, 8), torch.arange(10) % 10
    metrics = [("max_sensitivity", {"n_samples": 3, "radius": 0.05}), "sparseness"]
    report = build_report(model, x, y, {"Saliency": Saliency, EVIL: InputXGradient}, labels=y, metrics=metrics,
                          classes=[f"class {i}" for i in range(9)] + [EVIL], shown=3, n_bootstrap=200,
                          title=EVIL, model_name=EVIL, data_name=EVIL, method_notes={EVIL: EVIL})
    return report, model, x, y


def test_numbers_are_the_evaluation_grid_and_the_randomisation_test(built: Any) -> None:
    report, model, x, y = built
    metrics = [("max_sensitivity", {"n_samples": 3, "radius": 0.05, "seed": 0}), "sparseness"]
    table = evaluate(model, x, y, {"Saliency": Saliency, EVIL: InputXGradient}, metrics, n_bootstrap=200)
    for method in report.data["methods"]:
        cells = {c["name"]: c for c in method["metrics"]}
        for metric in ("max_sensitivity", "sparseness"):
            expected = table[method["name"], metric]
            assert cells[metric]["mean"] == pytest.approx(expected.mean, rel=1e-9)
            assert (cells[metric]["low"], cells[metric]["high"]) == pytest.approx((expected.low, expected.high))
            assert cells[metric]["scores"] == pytest.approx(expected.scores.double().tolist())
        cls = Saliency if method["name"] == "Saliency" else InputXGradient
        result = model_parameter_randomisation(model, x, y, cls, order="top_down", seed=0)
        assert method["randomisation"]["stages"] == result.stages == ["fc2", "fc1", "conv2", "conv1"]
        for key in ("spearman_abs", "spearman"):
            assert method["randomisation"]["similarity"][key]["mean"] == pytest.approx(
                result.mean()[key].double().tolist(), abs=1e-6)
            assert cells[f"mprt_{key}"]["mean"] == pytest.approx(float(result.last()[key].mean()), abs=1e-6)


def test_verdicts_follow_the_interval_rule(built: Any) -> None:
    report = built[0]
    checks = {c["name"]: c for c in report.data["checks"]}
    for method in report.data["methods"]:
        assert [v["check"] for v in method["verdicts"]] == list(checks)
        for v in method["verdicts"]:
            if v["mean"] is None:  # faithfulness_correlation was not among the metrics
                assert v["verdict"] == "not run"
                continue
            assert v["low"] <= v["mean"] <= v["high"]
            sign = 1 if v["better"] == "higher" else -1
            good = [sign * (b - v["threshold"]) for b in (v["low"], v["high"])]
            expected = "pass" if min(good) > 0 else "fail" if max(good) < 0 else "inconclusive"
            assert v["verdict"] == expected
            assert f"{v['threshold']:g}" in v["rule"]


@pytest.mark.parametrize("better, low, high, verdict", [
    ("higher", 0.1, 0.3, "pass"), ("higher", -0.3, -0.1, "fail"), ("higher", -0.1, 0.1, "inconclusive"),
    ("lower", 0.1, 0.3, "fail"), ("lower", -0.3, -0.1, "pass"), ("lower", -0.1, 0.1, "inconclusive"),
])
def test_check_verdict(better: str, low: float, high: float, verdict: str) -> None:
    check = Check("c", "m", better, 0.0, "q")
    assert check.verdict((low + high) / 2, low, high) == verdict
    assert check.verdict(math.nan, low, high) == "not run"


def test_check_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="`better`"):
        Check("c", "m", "sideways", 0.0, "q")
    with pytest.raises(ValueError, match="`threshold`"):
        Check("c", "m", "lower", math.inf, "q")


def test_json_validates_and_has_no_nan(built: Any, tmp_path: Path) -> None:
    html_path, json_path = write_report(built[0], tmp_path)
    text = json_path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(json.loads(text), schema())
    broken = json.loads(text)
    broken["methods"][0]["verdicts"][0]["verdict"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema())
    assert finite(float("nan")) is None and finite(float("inf")) is None


def test_html_is_self_contained_and_escaped(built: Any) -> None:
    page = render_html(built[0])
    assert EVIL not in page and "<img src=x" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "<script" not in page.lower()
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page.replace("http-equiv", "") and "https://" not in page
    figures = re.findall(r"<figure.*?</figure>", page, flags=re.S)
    assert len(figures) == len(built[0].figures) == 2
    assert all("<figcaption>" in f and "<img" in f for f in figures)


def test_figures_have_colorbars_where_they_show_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """The maps figure draws one labelled colorbar per method column (the input shows no values)."""
    from matplotlib.figure import Figure as MplFigure

    labels: list[str] = []
    original = MplFigure.colorbar

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        bar = original(self, *args, **kwargs)
        labels.append("pending")
        return bar

    monkeypatch.setattr(MplFigure, "colorbar", counting)
    from veracity.report.figures import maps_figure
    maps_figure(torch.rand(2, 1, 8, 8), {"signed": torch.randn(2, 1, 8, 8), "abs": torch.rand(2, 1, 8, 8)},
                ["a", "b"])
    assert len(labels) == 2


def test_bad_arguments_name_the_argument() -> None:
    model = DigitsCNN().eval()
    with pytest.raises(ValueError, match="`inputs`"):
        build_report(model, torch.rand(0, 1, 8, 8), 0, {"s": Saliency})
    with pytest.raises(ValueError, match="`shown`"):
        build_report(model, torch.rand(3, 1, 8, 8), 0, {"s": Saliency}, shown=[5])
    with pytest.raises(ValueError, match="`targets`"):
        build_report(model, torch.rand(3, 1, 8, 8), torch.zeros(2, dtype=torch.long), {"s": Saliency})
