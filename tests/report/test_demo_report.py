"""`make demo`'s report: demo.trust_report writes report.html and report.json that validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")
jsonschema = pytest.importorskip("jsonschema")

from veracity import demo  # noqa: E402
from veracity.data import load_digits, train_digits_cnn  # noqa: E402
from veracity.report import schema  # noqa: E402


def test_demo_writes_both_report_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "SHAP_SAMPLES", 16)
    monkeypatch.setattr(demo, "IG_STEPS", 8)
    monkeypatch.setattr(demo, "EVALUATION_METRICS", [  # the demo's metrics, fewer draws
        ("faithfulness_correlation", {"subset_size": 8, "nr_runs": 10, "baseline": 0.0, "seed": 0}),
        ("max_sensitivity", {"n_samples": 2, "radius": 0.05, "seed": 0}), "sparseness"])
    data = load_digits(seed=0)
    model = train_digits_cnn(data, seed=0, epochs=1)
    x, y = data.test_x[:10], data.test_y[:10]
    html_path, json_path = demo.trust_report(model, x, y, data.train_x[:8], tmp_path)
    assert (html_path, json_path) == (tmp_path / "report.html", tmp_path / "report.json")
    report = json.loads(json_path.read_text())
    jsonschema.validate(report, schema())
    assert [m["name"] for m in report["methods"]] == ["Saliency", "IntegratedGradients", "DeepLift", "GradientShap"]
    assert report["settings"]["metrics"] == ["faithfulness_correlation", "max_sensitivity", "sparseness"]
    assert report["data"]["n_examples"] == 10 and len(report["examples"]) == demo.N_EXAMPLES
    assert [e["label"] for e in report["examples"]] == y[:demo.N_EXAMPLES].tolist()
    page = html_path.read_text()
    assert page.count("<figcaption>") == 2 and "GradientShap" in page
    assert torch.equal(x, data.test_x[:10])  # inputs untouched
