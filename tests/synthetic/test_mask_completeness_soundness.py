"""Gupta et al.'s completeness and soundness of masks (veracity.metrics.mask_completeness /
mask_soundness) in closed form on a linear model, and the exact-contribution mask is the best
k-pixel certificate there (exhaustive enumeration)."""

from __future__ import annotations

import itertools

import torch
from torch import nn

from veracity.metrics import mask_completeness, mask_soundness


def _linear(classes: int, features: int) -> nn.Linear:
    torch.manual_seed(0)
    model = nn.Linear(features, classes).double().eval()
    return model


def test_completeness_is_the_probability_on_the_kept_top_k() -> None:
    model = _linear(3, 8)
    x = torch.rand(4, 8, dtype=torch.double)
    attributions = x * model.weight.detach()[0]
    fractions = (0.25, 0.5)
    result = mask_completeness(model, x, attributions, target=0, fractions=fractions, baseline=0.0,
                               return_curve=True)
    for j, fraction in enumerate(fractions):
        k = int(fraction * 8)
        top = attributions.topk(k, 1).indices
        kept = torch.zeros_like(x).scatter(1, top, 1.0) * x
        expected = torch.softmax(model(kept), 1)[:, 0].detach()
        torch.testing.assert_close(result.curve[:, j].double(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(result.score, result.curve.mean(1))


def test_exact_contributions_give_the_most_complete_k_pixel_mask() -> None:
    model = _linear(2, 6)
    x = torch.rand(3, 6, dtype=torch.double)
    w = model.weight.detach()
    attributions = x * (w[1] - w[0])  # exact contributions to the logit margin of class 1
    got = mask_completeness(model, x, attributions, target=1, fractions=(2 / 6,), return_curve=True).curve[:, 0]
    best = torch.zeros(3, dtype=torch.double)
    for subset in itertools.combinations(range(6), 2):
        keep = torch.zeros(6, dtype=torch.double)
        keep[list(subset)] = 1
        best = torch.maximum(best, torch.softmax(model(x * keep), 1)[:, 1].detach())
    torch.testing.assert_close(got.double(), best, rtol=1e-5, atol=1e-6)


def test_soundness_is_own_minus_other_labels_completeness_in_closed_form() -> None:
    model = _linear(3, 8)
    x = torch.rand(2, 8, dtype=torch.double)
    w = model.weight.detach()

    def explain(inputs: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return inputs * w[label]

    def certified(label: torch.Tensor, k: int) -> torch.Tensor:
        a = explain(x, label)
        kept = torch.zeros_like(x).scatter(1, a.topk(k, 1).indices, 1.0) * x
        return torch.softmax(model(kept), 1).gather(1, label.view(-1, 1))[:, 0].detach()

    others = torch.tensor([[1, 2], [2, 1]])
    result = mask_soundness(model, x, explain, 0, others, fractions=(0.25, 0.5), return_curve=True)
    own = torch.zeros(2, dtype=torch.long)
    for j, k in enumerate((2, 4)):
        expected = certified(own, k) - (certified(others[:, 0], k) + certified(others[:, 1], k)) / 2
        torch.testing.assert_close(result.curve[:, j].double(), expected, rtol=1e-5, atol=1e-6)
