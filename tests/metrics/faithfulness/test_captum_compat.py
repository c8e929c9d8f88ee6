"""infidelity and sensitivity_max: closed forms and equality with Captum 0.9 on fixed perturbations."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import MLP, TwoInputModel
from veracity.attr import IntegratedGradients, Saliency
from veracity.metrics import infidelity, infidelity_perturb_func_decorator, sensitivity_max


def gaussian(inputs):
    noise = torch.randn_like(inputs) * 0.1
    return noise, inputs - noise


def test_infidelity_of_the_exact_linear_explanation_is_zero() -> None:
    torch.manual_seed(0)
    model = nn.Linear(5, 2).double().eval()
    x = torch.rand(3, 5, dtype=torch.double)
    gradient = model.weight.detach()[1].expand(3, 5)
    assert infidelity(model, gaussian, x, gradient, target=1, n_perturb_samples=20).abs().max() < 1e-15
    # a wrong explanation: E[(I^T (w - 2w))^2] = E[(I^T w)^2] > 0
    wrong = infidelity(model, gaussian, x, 2 * gradient, target=1, n_perturb_samples=20)
    assert bool((wrong > 1e-6).all())
    # normalize rescales by the optimal beta = 1/2: zero again
    assert infidelity(model, gaussian, x, 2 * gradient, target=1, normalize=True).abs().max() < 1e-15


def test_infidelity_is_chunk_invariant_under_fixed_perturbations() -> None:
    model = MLP().eval()
    x = torch.rand(4, 6)
    a = torch.rand(4, 6)

    def fixed(inputs):
        # the same perturbation for every sample: any grouping of samples gives the same value
        perturbation = torch.linspace(-0.2, 0.3, inputs.shape[1]).expand_as(inputs)
        return perturbation, inputs - perturbation

    results = [infidelity(model, fixed, x, a, target=0, max_examples_per_batch=mepb,
                          n_perturb_samples=5) for mepb in (None, 4, 12)]
    torch.testing.assert_close(results[0], results[1])
    torch.testing.assert_close(results[0], results[2])
    single = torch.cat([infidelity(model, fixed, x[i:i + 1], a[i:i + 1], target=0,
                                   n_perturb_samples=5) for i in range(4)])
    torch.testing.assert_close(results[0], single)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("mepb", [None, 8, 12])
def test_infidelity_equals_captum(normalize: bool, mepb: int | None) -> None:
    captum_metrics = pytest.importorskip("captum.metrics")
    model = MLP().eval()
    x = torch.rand(4, 6)
    a = torch.randn(4, 6)
    torch.manual_seed(1)
    expected = captum_metrics.infidelity(model, gaussian, x, a, target=[0, 1, 2, 0],
                                         n_perturb_samples=7, max_examples_per_batch=mepb,
                                         normalize=normalize)
    torch.manual_seed(1)
    got = infidelity(model, gaussian, x, a, target=[0, 1, 2, 0], n_perturb_samples=7,
                     max_examples_per_batch=mepb, normalize=normalize)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)


def test_infidelity_with_decorator_baselines_and_two_inputs_equals_captum() -> None:
    captum_metrics = pytest.importorskip("captum.metrics")
    model = TwoInputModel().eval()
    x = (torch.rand(3, 4), torch.rand(3, 5))
    a = (torch.randn(3, 4), torch.randn(3, 5))
    baselines = (torch.zeros(3, 4), 0.5)

    def shrink(inputs, baselines):
        return tuple(i * 0.5 + (b * 0.5 if isinstance(b, float) else b * 0.5) for i, b in
                     zip(inputs, baselines))

    ours = infidelity_perturb_func_decorator(True)(shrink)
    theirs = captum_metrics.infidelity_perturb_func_decorator(True)(shrink)
    expected = captum_metrics.infidelity(model, theirs, x, a, baselines=baselines, target=1,
                                         additional_forward_args=2.0)
    got = infidelity(model, ours, x, a, baselines=baselines, target=1, additional_forward_args=2.0)
    torch.testing.assert_close(got, expected)


def test_sensitivity_max_equals_captum() -> None:
    captum_metrics = pytest.importorskip("captum.metrics")
    captum_attr = pytest.importorskip("captum.attr")
    model = MLP().eval()
    x = torch.rand(4, 6)
    target = torch.tensor([0, 1, 2, 0])
    for mepb in (None, 8):
        torch.manual_seed(2)
        expected = captum_metrics.sensitivity_max(captum_attr.Saliency(model).attribute, x,
                                                  target=target, max_examples_per_batch=mepb)
        torch.manual_seed(2)
        got = sensitivity_max(Saliency(model).attribute, x, target=target,
                              max_examples_per_batch=mepb)
        torch.testing.assert_close(got, expected)
    torch.manual_seed(3)
    expected = captum_metrics.sensitivity_max(captum_attr.IntegratedGradients(model).attribute, x,
                                              target=1, baselines=torch.zeros(4, 6), n_steps=8)
    torch.manual_seed(3)
    got = sensitivity_max(IntegratedGradients(model).attribute, x, target=1,
                          baselines=torch.zeros(4, 6), n_steps=8)
    torch.testing.assert_close(got, expected)


def test_sensitivity_max_of_a_linear_model_gradient_is_zero() -> None:
    model = nn.Linear(3, 2).eval()
    assert sensitivity_max(Saliency(model).attribute, torch.rand(2, 3), target=1).max() == 0


def test_bad_input_raises_clear_errors() -> None:
    model = nn.Linear(3, 1)
    x = torch.rand(2, 3)
    with pytest.raises(ValueError, match="`n_perturb_samples`"):
        infidelity(model, gaussian, x, x, n_perturb_samples=0)
    with pytest.raises(ValueError, match="`attributions`"):
        infidelity(model, gaussian, x, x[:, :2])
    with pytest.raises(TypeError, match="`perturb_func`"):
        infidelity(model, lambda i: i, x, x)
    with pytest.raises(ValueError, match="`n_perturb_samples`"):
        sensitivity_max(Saliency(model).attribute, x, n_perturb_samples=0)
