"""The evaluation grid: shared attributions, hand-checked cells, bootstrap, rendering, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tests.conftest import MLP
from veracity.attr import InputXGradient, Saliency
from veracity.metrics import (
    Metric,
    bootstrap_interval,
    builtin_metrics,
    evaluate,
    max_sensitivity,
    sparseness,
)


def test_attributions_computed_once_per_method_and_cells_match_direct_calls() -> None:
    model = MLP().eval()
    x = torch.randn(8, 6)
    calls = []

    def counted(m, inputs, target):
        calls.append(inputs.shape[0])
        return Saliency(m).attribute(inputs, target=target)

    table = evaluate(model, x, 1, {"saliency": counted, "ixg": InputXGradient},
                     ["sparseness", "complexity_entropy", ("max_sensitivity", {"n_samples": 3})])
    # one full-batch call for the attributions, then one per chunk of noisy copies only
    assert calls.count(8) == 1
    attributions = Saliency(model).attribute(x, target=1)
    assert torch.allclose(table["saliency", "sparseness"].scores, sparseness(attributions))
    direct = max_sensitivity(model, x, 1, Saliency, n_samples=3)
    assert torch.allclose(table["saliency", "max_sensitivity"].scores, direct)
    cell = table["ixg", "sparseness"]
    assert math.isclose(cell.mean, float(cell.scores.mean()), rel_tol=1e-6)
    assert cell.low <= cell.mean <= cell.high and cell.count == 8


def test_bootstrap_interval_by_hand() -> None:
    constant = torch.full((20,), 3.0)
    assert bootstrap_interval(constant) == (3.0, 3.0, 3.0, 20)
    assert bootstrap_interval(torch.tensor([math.nan]))[3] == 0
    scores = torch.randn(200)
    mean, low, high, _ = bootstrap_interval(scores, n_bootstrap=2000)
    standard_error = float(scores.std()) / math.sqrt(200)
    assert math.isclose(high - low, 2 * 1.96 * standard_error, rel_tol=0.15)
    assert bootstrap_interval(scores, seed=1) == bootstrap_interval(scores, seed=1)
    with pytest.raises(ValueError, match="`confidence`"):
        bootstrap_interval(scores, confidence=1.5)


def test_custom_metrics_masks_and_rendering() -> None:
    model = nn.Linear(4, 2).eval()
    x = torch.randn(5, 4)
    masks = torch.zeros(5, 4, dtype=torch.bool)
    masks[:, 0] = True
    mean_abs = Metric("mean_abs", lambda ctx: ctx.attributions.abs().mean(1), False)
    table = evaluate(model, x, 0, {"saliency": Saliency(model)}, [mean_abs, "pointing_game"],
                     masks=masks)
    assert torch.allclose(table["saliency", "mean_abs"].scores, model.weight[0].abs().mean().expand(5))
    text = table.to_markdown()
    assert "mean_abs ↓" in text and "pointing_game ↑" in text and "saliency" in text
    pd = pytest.importorskip("pandas")
    frame = table.to_pandas()
    assert isinstance(frame, pd.DataFrame) and frame.loc["saliency", ("mean_abs", "mean")] > 0


def test_every_builtin_metric_runs_on_a_small_cnn() -> None:
    from tests.conftest import SmallCNN
    model = SmallCNN().eval()
    x = torch.rand(4, 1, 8, 8)
    masks = torch.zeros(4, 1, 8, 8, dtype=torch.bool)
    masks[..., 2:5, 2:5] = True
    settings = {"region_perturbation": {"patch_size": 2, "regions_evaluation": 4},
                "selectivity": {"patch_size": 2}, "irof": {"patch_size": 2},
                "faithfulness_correlation": {"nr_runs": 5, "subset_size": 4},
                "monotonicity_correlation": {"nr_samples": 3}}
    skip = {"mask_completeness", "sensitivity_n", "focus"}
    names = [n for n in builtin_metrics() if n not in skip]
    specs = [(n, settings[n]) if n in settings else n for n in names]
    table = evaluate(model, x, 1, {"saliency": Saliency}, specs, masks=masks, n_bootstrap=50)
    assert [m.name for m in table.metrics] == names


def test_bad_input_names_the_argument() -> None:
    model = MLP().eval()
    x = torch.randn(3, 6)
    with pytest.raises(ValueError, match="`metrics`"):
        evaluate(model, x, 0, {"s": Saliency}, ["no_such_metric"])
    with pytest.raises(TypeError, match="`methods`"):
        evaluate(model, x, 0, [Saliency], ["sparseness"])
    with pytest.raises(TypeError, match="`metrics`"):
        evaluate(model, x, 0, {"s": Saliency}, "sparseness")
    with pytest.raises(ValueError, match="`masks`"):
        evaluate(model, x, 0, {"s": Saliency}, ["pointing_game"])
    with pytest.raises(TypeError, match="methods\\['s'\\]"):
        evaluate(model, x, 0, {"s": 3}, ["sparseness"])


def test_plot_helpers_draw_one_line_per_method() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from veracity.metrics import model_parameter_randomisation, pixel_flipping
    from veracity.metrics.plot import plot_curves, plot_randomisation
    model = MLP().eval()
    x = torch.randn(3, 6)
    curves = {name: pixel_flipping(model, x, m(model).attribute(x, target=0), 0, return_curve=True)
              for name, m in [("saliency", Saliency), ("ixg", InputXGradient)]}
    assert len(plot_curves(curves).lines) == 2
    result = model_parameter_randomisation(model, x, 0, Saliency)
    ax = plot_randomisation({"saliency": result})
    assert len(ax.lines) == 1 and [t.get_text() for t in ax.get_xticklabels()] == result.stages
