"""Robustness metrics against closed forms on linear models, chunk invariance, seeds, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import MLP, SmallCNN
from veracity.attr import InputXGradient, Saliency
from veracity.metrics import (
    avg_sensitivity,
    consistency,
    continuity,
    local_lipschitz_estimate,
    max_sensitivity,
    rank_correlation_under_perturbation,
    relative_input_stability,
    relative_output_stability,
    relative_representation_stability,
    top_k_intersection_under_perturbation,
)
from veracity.metrics._engine.perturbed import uniform_noise


def _linear(features: int = 5, outputs: int = 3) -> nn.Linear:
    return nn.Linear(features, outputs).eval()


def test_input_x_gradient_sensitivity_on_linear_model_is_the_noise_norm() -> None:
    # Phi(x) = w * x, so ||Phi(x + d) - Phi(x)|| = ||w * d|| for the same draws d
    model = _linear()
    x = torch.randn(4, 5)
    w = model.weight[1].detach()
    noise = uniform_noise(0.3, seed=7)
    draws = torch.stack([noise(p, x) - x for p in range(6)])
    change = (w * draws).norm(dim=-1)
    expected_max = change.amax(0) / (w * x).norm(dim=-1)
    got = max_sensitivity(model, x, 1, InputXGradient, radius=0.3, n_samples=6, seed=7)
    assert torch.allclose(got, expected_max, atol=1e-6)
    got_avg = avg_sensitivity(model, x, 1, InputXGradient, radius=0.3, n_samples=6, seed=7,
                              normalise=False)
    assert torch.allclose(got_avg, change.mean(0), atol=1e-6)
    assert (got_avg <= change.amax(0) + 1e-6).all()


def test_noise_stays_in_the_linf_ball_and_is_seeded() -> None:
    x = torch.zeros(3, 10)
    noise = uniform_noise(0.2, seed=1)
    d = noise(4, x)
    assert d.abs().max() <= 0.2 and torch.equal(d, noise(4, x)) and not torch.equal(d, noise(5, x))


def test_chunk_size_and_batch_invariance() -> None:
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    kwargs = dict(n_samples=5, radius=0.1, seed=3)
    whole = max_sensitivity(model, x, 1, Saliency, **kwargs)
    chunked = max_sensitivity(model, x, 1, Saliency, max_examples_per_batch=3, **kwargs)
    assert torch.allclose(whole, chunked, atol=1e-6)
    # the explanation function is called once per chunk on stacked noisy copies
    calls = []

    def explain(m, inputs, target):
        calls.append(inputs.shape[0])
        return Saliency(m).attribute(inputs, target=target)

    max_sensitivity(model, x, 1, explain, max_examples_per_batch=6, **kwargs)
    assert calls == [3, 6, 6, 3]
    single = torch.cat([max_sensitivity(model, x[i:i + 1], 1, Saliency, **kwargs) for i in range(3)])
    assert single.shape == whole.shape and torch.isfinite(single).all()


def test_local_lipschitz_of_input_x_gradient_on_linear_model() -> None:
    # ||w * d|| / ||d|| is at most max|w| and at least min|w|
    model = _linear()
    x = torch.randn(6, 5)
    w = model.weight[0].detach().abs()
    got = local_lipschitz_estimate(model, x, 0, InputXGradient, n_samples=20)
    assert (got <= w.max() + 1e-5).all() and (got >= w.min() - 1e-5).all()
    identity = nn.Linear(5, 1, bias=False)
    nn.init.ones_(identity.weight)
    assert torch.allclose(local_lipschitz_estimate(identity, x, None, InputXGradient), torch.ones(6))


def test_relative_input_stability_by_hand() -> None:
    # Phi = w * x: relative explanation change (w x - w x')/(w x) = (x - x')/x, so RIS = 1
    model = _linear()
    x = torch.randn(4, 5) + 3.0
    got = relative_input_stability(model, x, 0, InputXGradient, radius=0.05,
                                   nan_when_prediction_changes=False)
    assert torch.allclose(got, torch.ones(4), atol=1e-5)


def test_relative_output_and_representation_stability_by_hand() -> None:
    model = _linear(5, 2)
    x = torch.randn(3, 5) + 3.0
    noise = uniform_noise(0.05, seed=0)
    draws = torch.stack([noise(p, x) for p in range(4)])
    w = model.weight.detach()
    numerator = ((x - draws) / x).norm(dim=-1)  # InputXGradient on a linear model
    logits = (draws - x) @ w.t()
    expected = (numerator / logits.norm(dim=-1)).amax(0)
    got = relative_output_stability(model, x, 0, InputXGradient, radius=0.05, n_samples=4,
                                    nan_when_prediction_changes=False)
    assert torch.allclose(got, expected, rtol=1e-4)
    wrapped = nn.Sequential(model)
    rep = relative_representation_stability(wrapped, x, 0, InputXGradient, layer="0", radius=0.05,
                                            n_samples=4, nan_when_prediction_changes=False)
    h = x @ w.t() + model.bias.detach()
    expected_rep = (numerator / ((draws @ w.t() + model.bias.detach() - h) / h).norm(dim=-1)).amax(0)
    assert torch.allclose(rep, expected_rep, rtol=1e-4)
    assert not any(m._forward_hooks for m in wrapped.modules())


class _Peak(nn.Module):
    """Class 0 only exactly at x0 = 0 (logits (0, -1e-9)); any perturbation of x0 flips to 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x[:, 0]
        return torch.stack([-(d ** 2) * 1e6, torch.full_like(d, -1e-9)], 1)


def test_prediction_change_gives_nan_not_zero() -> None:
    x = torch.zeros(2, 3)
    x[1, 0] = 5.0  # example 1 is predicted as class 1 and stays class 1
    got = relative_input_stability(_Peak(), x, 0, Saliency, radius=0.1, n_samples=3)
    assert torch.isnan(got[0]) and not torch.isnan(got[1])
    kept = relative_input_stability(_Peak(), x, 0, Saliency, radius=0.1, n_samples=3,
                                    nan_when_prediction_changes=False)
    assert not torch.isnan(kept).any()


def test_perturbation_rank_metrics_on_linear_models() -> None:
    model = _linear()
    x = torch.randn(3, 5)
    assert torch.equal(top_k_intersection_under_perturbation(model, x, 0, Saliency, k=2), torch.ones(3))
    assert torch.allclose(rank_correlation_under_perturbation(model, x, 0, Saliency), torch.ones(3))
    mlp = MLP().eval()
    score = rank_correlation_under_perturbation(mlp, torch.randn(3, 6), 0, InputXGradient, std=1.0)
    assert (score < 1).all() and (score >= -1).all()


def test_continuity_by_hand_on_identity_model() -> None:
    # Phi = x (InputXGradient, weight 1): ||x_t - x||_1 / ||x_t - x||_2
    model = nn.Linear(6, 1, bias=False)
    nn.init.ones_(model.weight)
    x = torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    got = continuity(model, x, None, InputXGradient, n_steps=1)
    diff = torch.tensor([0.0, -1.0, -1.0, -1.0, -1.0, -1.0])  # shift right by one, fill min 0
    assert torch.allclose(got, diff.abs().sum() / diff.norm()[None])


def test_consistency_by_hand() -> None:
    model = _linear(4, 2)
    maps = torch.tensor([[3.0, 2, 0, 0], [3.0, 2, 0, 0], [0, 0, 3, 2], [3.0, 2, 0, 1]])
    x = torch.randn(4, 4)
    predicted = model(x).argmax(1)
    got = consistency(model, x, 0, Saliency, top_n=2, attributions=maps)
    # examples 0, 1, 3 share the top-2 (features 0 and 1, positive); example 2 shares with no one
    assert torch.isnan(got[2])
    for i, others in [(0, [1, 3]), (1, [0, 3]), (3, [0, 1])]:
        expected = (predicted[others] == predicted[i]).float().mean()
        assert torch.allclose(got[i], expected)


def test_model_untouched_and_errors_name_the_argument() -> None:
    model = MLP().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(3, 6)
    x_copy = x.clone()
    max_sensitivity(model, x, 0, Saliency)
    assert torch.equal(x, x_copy) and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="`n_samples`"):
        max_sensitivity(model, x, 0, Saliency, n_samples=0)
    with pytest.raises(ValueError, match="`radius`"):
        max_sensitivity(model, x, 0, Saliency, radius=-1.0)
    with pytest.raises(ValueError, match="`norm`"):
        max_sensitivity(model, x, 0, Saliency, norm="l7")
    with pytest.raises(ValueError, match="`attributions`"):
        max_sensitivity(model, x, 0, Saliency, attributions=torch.randn(3, 5))
    with pytest.raises(ValueError, match="`layer`"):
        relative_representation_stability(model, x, 0, Saliency, layer="missing")
    with pytest.raises(TypeError, match="`inputs`"):
        max_sensitivity(model, [1, 2], 0, Saliency)
    with pytest.raises(ValueError, match="`n_steps`"):
        continuity(model, x, 0, Saliency, n_steps=6)
    with pytest.raises(RuntimeError, match="boom"):
        def broken(m, inputs, target):
            raise RuntimeError("boom")
        max_sensitivity(model, x, 0, broken)
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())
