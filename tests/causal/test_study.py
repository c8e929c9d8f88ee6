"""Training the grid (reproducible, leaves the global RNG alone), explaining it (closed form on
linear models, batch invariance), the whole study, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from veracity.attr import InputXGradient, Saliency
from veracity.causal import (
    DigitsMLP,
    TreatmentGrid,
    estimate_effects,
    explain_grid,
    explanation_vs_prediction,
    train_grid,
)
from veracity.data.digits import load_digits

DATA = load_digits()
TINY = {"epochs": 1, "width": 8}


def _linear_models() -> list[nn.Module]:
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval())
    return models


def test_train_grid_is_reproducible_and_leaves_the_global_generator_alone() -> None:
    grid = TreatmentGrid({"seed": [0, 1], "data_order": [0, 1]}, fixed=TINY)
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    first, second = train_grid(grid, DATA), train_grid(grid, DATA)
    assert torch.equal(state, torch.get_rng_state()) and torch.get_num_threads() == threads
    params = [[p.clone() for p in m.parameters()] for m in first.models]
    for a, b in zip(params, second.models):
        assert all(torch.equal(p, q) for p, q in zip(a, b.parameters()))
    assert first.accuracies == second.accuracies
    # each treatment changes the model: different init (seed) and different minibatch order
    differ = [not torch.equal(params[0][0], params[i][0]) for i in (1, 2, 3)]
    assert differ == [True, True, True]
    assert all(not m.training and not any(p.requires_grad for p in m.parameters()) for m in first.models)


def test_explain_grid_closed_form_on_linear_models() -> None:
    models, x, target = _linear_models(), DATA.test_x[:6], DATA.test_y[:6]
    maps, probabilities = explain_grid(models, x, target, method=Saliency, attribute_kwargs={"abs": False})
    for m, model in enumerate(models):
        weight, bias = model[1].weight, model[1].bias
        assert torch.allclose(maps[m].reshape(6, 64), weight[target])
        assert torch.allclose(probabilities[m], (x.reshape(6, 64) @ weight.T + bias).softmax(1), atol=1e-6)
    predicted, _ = explain_grid(models, x, "predicted", method=Saliency, attribute_kwargs={"abs": False})
    for m in range(3):
        assert torch.allclose(predicted[m].reshape(6, 64), models[m][1].weight[probabilities[m].argmax(1)])


def test_explain_grid_does_not_depend_on_the_batch_size() -> None:
    torch.manual_seed(0)
    models = [DigitsMLP(8).eval(), DigitsMLP(16).eval()]
    x, target = DATA.test_x[:23], DATA.test_y[:23]
    whole = explain_grid(models, x, target, method=InputXGradient)
    chunked = explain_grid(models, x, target, method=InputXGradient, batch_size=7)
    for a, b in zip(whole, chunked):
        assert torch.allclose(a, b, atol=1e-6)
    one_by_one = explain_grid(models, x, "predicted", batch_size=1)
    assert torch.allclose(one_by_one[0], explain_grid(models, x, "predicted")[0], atol=1e-6)


def test_explanation_vs_prediction_is_the_composition_and_reproducible() -> None:
    grid = TreatmentGrid({"seed": [0, 1], "width": [8, 16]}, fixed={"epochs": 1})
    result, trained = explanation_vs_prediction(grid, DATA, n_examples=15, explanation_distance="l2")
    again, _ = explanation_vs_prediction(grid, DATA, n_examples=15, explanation_distance="l2")
    assert result.to_dict() == again.to_dict()
    maps, probabilities = explain_grid(trained, DATA.test_x[:15], DATA.test_y[:15])
    by_hand = estimate_effects(maps, probabilities, trained.configs, ["seed", "width"], trained.accuracies,
                               explanation_distance_kind="l2")
    assert by_hand.to_dict() == result.to_dict()
    assert [e.pairs for e in result.effects] == [2, 2] and len(result.bins) == 2
    assert result.effect("seed").explanation_effect > 0


def test_plot_draws_the_scatter_and_the_bars() -> None:
    pytest.importorskip("matplotlib")
    grid = TreatmentGrid({"seed": [0, 1]}, fixed=TINY)
    result, _ = explanation_vs_prediction(grid, DATA, n_examples=10)
    fig = result.plot()
    scatter, bars = fig.axes
    assert len(scatter.collections) == 1 and len(scatter.collections[0].get_offsets()) == 10
    assert len(bars.patches) == 2


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(ValueError, match="`models`"):
        explain_grid([], DATA.test_x[:3])
    with pytest.raises(TypeError, match="`inputs`"):
        explain_grid(_linear_models(), DATA.test_x[:3].tolist())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`target`: expected one label per example \(3\)"):
        explain_grid(_linear_models(), DATA.test_x[:3], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="`target`: .*'predictd'"):
        explain_grid(_linear_models(), DATA.test_x[:3], "predictd")
    with pytest.raises(ValueError, match="`batch_size`"):
        explain_grid(_linear_models(), DATA.test_x[:3], batch_size=0)
    with pytest.raises(ValueError, match="`grid`: expected a grid that varies"):
        explanation_vs_prediction(TreatmentGrid({"seed": [0]}), DATA)
    with pytest.raises(ValueError, match="`explanation_distance`"):
        explanation_vs_prediction(TreatmentGrid({"seed": [0, 1]}), DATA, explanation_distance="kendall")
    with pytest.raises(TypeError, match="`grid`"):
        train_grid({"seed": [0, 1]}, DATA)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`data`"):
        train_grid(TreatmentGrid({"seed": [0, 1]}), DATA.test_x)  # type: ignore[arg-type]
