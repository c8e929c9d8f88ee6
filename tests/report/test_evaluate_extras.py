"""evaluate(): per-metric method arguments, costs said before running, progress by default only
when the work is long; randomisation results labelled by layer."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from veracity.attr import IntegratedGradients, Saliency
from veracity.data import DigitsCNN
from veracity.metrics import evaluate, model_parameter_randomisation
from veracity.metrics._grid_metrics import as_metric
from veracity.metrics.grid import metric_cost


def test_method_arguments_per_metric_reach_the_method(monkeypatch: pytest.MonkeyPatch) -> None:
    """max_sensitivity gets IG with n_steps=4; the other metric keeps the method's own settings."""
    seen: list[Any] = []
    original = IntegratedGradients.attribute

    def spy(self: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("n_steps"))
        return original(self, inputs, *args, **kwargs)

    monkeypatch.setattr(IntegratedGradients, "attribute", spy)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).eval()
    x = torch.randn(6, 5)
    metrics = [("max_sensitivity", {"n_samples": 2, "method_kwargs": {"n_steps": 4}}), "sparseness"]
    table = evaluate(model, x, 0, {"ig": IntegratedGradients}, metrics, n_bootstrap=20)
    # the grid's own attributions (default steps), then the metric's own: its map and the perturbed
    # inputs (one batched call)
    assert seen[0] is None and len(seen) >= 3 and set(seen[1:]) == {4}
    own = IntegratedGradients(model).attribute(x, target=0, n_steps=4)
    from veracity.metrics import max_sensitivity
    expected = max_sensitivity(model, x, 0, lambda m, xx, t: IntegratedGradients(m).attribute(xx, target=t, n_steps=4),
                               attributions=own, n_samples=2)
    torch.testing.assert_close(table["ig", "max_sensitivity"].scores, expected)
    with pytest.raises(TypeError, match="method_kwargs"):
        evaluate(model, x, 0, {"ig": IntegratedGradients}, [("sparseness", {"method_kwargs": [1]})])


def test_costs_are_said_before_running(capsys: pytest.CaptureFixture[str]) -> None:
    x = torch.rand(2, 1, 8, 8)
    assert metric_cost(as_metric(("faithfulness_correlation", {"nr_runs": 30})), x) == \
        "faithfulness_correlation: about 30 forward passes per example"
    assert metric_cost(as_metric(("pixel_flipping", {"features_in_step": 4})), x) == \
        "pixel_flipping: about 16 forward passes per example"
    assert "per randomisable layer" in metric_cost(as_metric("mprt_spearman"), x)
    evaluate(DigitsCNN().eval(), x, 0, {"s": Saliency}, [("max_sensitivity", {"n_samples": 3}), "sparseness"],
             n_bootstrap=10, show_progress=True)
    err = capsys.readouterr().err
    assert "1 methods x 2 metrics on 2 examples" in err
    assert "max_sensitivity: 3 re-explanations per example; sparseness: no model call" in err


def test_progress_by_default_is_quiet_for_quick_work(capsys: pytest.CaptureFixture[str]) -> None:
    evaluate(DigitsCNN().eval(), torch.rand(2, 1, 8, 8), 0, {"s": Saliency}, ["sparseness"], n_bootstrap=10)
    assert capsys.readouterr().err == ""  # the bar waits 2 s before it shows


def test_randomisation_labelled_by_layer() -> None:
    result = model_parameter_randomisation(DigitsCNN().eval(), torch.rand(3, 1, 8, 8), 0, Saliency)
    labelled = result.by_layer()
    assert list(labelled) == ["fc2", "fc1", "conv2", "conv1"]
    for i, layer in enumerate(labelled):
        assert labelled[layer]["spearman_abs"] == pytest.approx(float(result.mean()["spearman_abs"][i]))
