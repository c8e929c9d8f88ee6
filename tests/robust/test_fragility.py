"""Attacks on explanations: the metrics on hand-made maps, the differentiable maps equal the
library's attribution methods, the attack keeps the label and the ball, lowers the top-k
intersection, and stalls without the Softplus surrogate on a ReLU network."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from veracity._core.attack import explanation_maps
from veracity.attr import InputXGradient, IntegratedGradients, Saliency
from veracity.robust.fragility import explanation_attack, random_sign_perturbation, softplus_surrogate
from veracity.robust.fragility_metrics import center_shift, saliency_image, spearman, top_k_intersection


def _relu_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(6 * 36, 4)).eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.rand(6, 1, 6, 6)


def test_metrics_on_hand_made_maps():
    a = torch.tensor([[[4.0, 3.0], [2.0, 1.0]]])
    assert top_k_intersection(a, torch.tensor([[[4.0, 1.0], [3.0, 2.0]]]), 2).tolist() == [0.5]
    assert spearman(a, -a).tolist() == pytest.approx([-1.0])
    assert center_shift(a, a).tolist() == [0.0]
    image = saliency_image(torch.tensor([[[[1.0, -1.0], [2.0, 0.0]]], [[[0.0, 0.0], [0.0, 5.0]]]]))
    assert image.sum((1, 2)).tolist() == [4.0, 4.0] and image[1, 1, 1] == 4.0


@pytest.mark.parametrize("method", ["saliency", "input_x_gradient", "integrated_gradients"])
def test_maps_equal_the_attribution_methods(images, method):
    model = _relu_cnn()
    labels = model(images).argmax(1)
    ours = explanation_maps(model, images, labels, method, n_steps=8)
    if method == "saliency":
        expected = Saliency(model).attribute(images, target=labels, abs=False)
    elif method == "input_x_gradient":
        expected = InputXGradient(model).attribute(images, target=labels)
    else:
        expected = IntegratedGradients(model).attribute(images, target=labels, n_steps=8, method="riemann_middle")
    assert torch.allclose(ours, expected, atol=1e-5)


def test_surrogate_copies_and_swaps_relu():
    model = _relu_cnn()
    surrogate = softplus_surrogate(model, beta=5.0)
    assert isinstance(model[1], nn.ReLU) and isinstance(surrogate[1], nn.Softplus) and surrogate[1].beta == 5.0
    assert torch.equal(surrogate[0].weight, model[0].weight) and surrogate[0].weight is not model[0].weight


def test_top_k_attack_keeps_label_and_ball_and_beats_random(images):
    model = _relu_cnn()
    attacked = explanation_attack(model, images, attack="top_k", epsilon=0.1, step_size=0.02, steps=10, k=6)
    assert bool(attacked.label_kept.all()) and float(attacked.linf.max()) <= 0.1 + 1e-6
    assert float(attacked.perturbed.min()) >= 0.0 and float(attacked.perturbed.max()) <= 1.0
    assert torch.equal(model(attacked.perturbed).argmax(1), model(images).argmax(1))
    single = random_sign_perturbation(model, images, epsilon=0.1, draws=1, k=6)
    assert attacked.top_k_intersection.mean() < single.top_k_intersection.mean() - 0.1


def test_without_surrogate_the_attack_stalls(images):
    """A ReLU network's saliency is piecewise constant in the input: the objective's gradient
    is exactly zero, the signed step is zero, and the image never moves."""
    model = _relu_cnn()
    stalled = explanation_attack(model, images, attack="top_k", epsilon=0.1, step_size=0.02, steps=3, k=6,
                                 surrogate_beta=None)
    assert torch.equal(stalled.perturbed, images)
    assert stalled.top_k_intersection.tolist() == [1.0] * 6
    moving = explanation_attack(model, images, attack="top_k", epsilon=0.1, step_size=0.02, steps=3, k=6)
    assert moving.top_k_intersection.mean() < 0.9


@pytest.mark.parametrize("attack", ["mass_center", "targeted"])
def test_other_attacks_move_the_map(images, attack):
    model = _relu_cnn()
    region = torch.zeros(6, 6)
    region[:, :2] = 1.0
    result = explanation_attack(model, images, attack=attack, epsilon=0.1, step_size=0.02, steps=10, k=6,
                                target_region=region)
    assert bool(result.label_kept.all())
    if attack == "mass_center":
        assert result.center_shift.mean() > 0.1
    else:
        before = (result.original_map * region).sum((1, 2))
        after = (result.perturbed_map * region).sum((1, 2))
        assert bool((after >= before).all()) and after.mean() > before.mean()


def test_smoothgrad_attack_runs_reproducibly(images):
    model = _relu_cnn()
    runs = [explanation_attack(model, images[:2], method="smoothgrad", nt_samples=3, epsilon=0.1, step_size=0.02,
                               steps=2, k=6, seed=4) for _ in range(2)]
    assert torch.equal(runs[0].perturbed, runs[1].perturbed)


def test_bad_input(images):
    model = _relu_cnn()
    with pytest.raises(ValueError, match="`epsilon`"):
        explanation_attack(model, images, epsilon=-0.1)
    with pytest.raises(ValueError, match="`inputs`"):
        explanation_attack(model, images + 2.0)
    with pytest.raises(ValueError, match="`method`"):
        explanation_attack(model, images, method="deconvolution", steps=1)
    with pytest.raises(ValueError, match="`target_region`"):
        explanation_attack(model, images, attack="targeted", steps=1)
    with pytest.raises(ValueError, match="`k`"):
        explanation_attack(model, images, k=100)
