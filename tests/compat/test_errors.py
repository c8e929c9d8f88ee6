"""Inputs without a batch dimension: an error that names `inputs`, the likely cause and the
shapes as the user passed them (Captum: a raw torch error with its internal expanded shapes)."""

from __future__ import annotations

import pytest
import torch

from veracity import attr


def _mlp() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).eval()


CALLS = {
    "IntegratedGradients": lambda m, x: attr.IntegratedGradients(m).attribute(x, target=0, n_steps=50),
    "Saliency": lambda m, x: attr.Saliency(m).attribute(x, target=0),
    "GradientShap": lambda m, x: attr.GradientShap(m).attribute(x, torch.zeros(4, *x.shape[1:]), target=0),
    "DeepLift": lambda m, x: attr.DeepLift(m).attribute(x, target=0),
    "FeatureAblation": lambda m, x: attr.FeatureAblation(m).attribute(x, target=0),
    "Occlusion": lambda m, x: attr.Occlusion(m).attribute(x, sliding_window_shapes=(1,), target=0),
    "ShapleyValueSampling": lambda m, x: attr.ShapleyValueSampling(m).attribute(x, target=0, n_samples=2),
    "KernelShap": lambda m, x: attr.KernelShap(m).attribute(x, target=0, n_samples=8),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_single_example_without_batch_dimension(name: str) -> None:
    with pytest.raises((ValueError, RuntimeError)) as info:
        CALLS[name](_mlp(), torch.randn(3))
    text = str(info.value)
    assert "`inputs`" in text and "(3,)" in text and "unsqueeze(0)" in text
    assert "150" not in text and "(50" not in text  # no engine-expanded row counts as the user's shapes


def test_an_image_without_batch_dimension_names_the_user_shape() -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(72, 3)).eval()
    with pytest.raises(RuntimeError) as info:
        attr.IntegratedGradients(model).attribute(torch.randn(1, 8, 8), target=0)
    text = str(info.value)
    assert "inputs of shape (1, 8, 8)" in text and "unsqueeze(0)" in text
    with pytest.raises(RuntimeError, match=r"inputs of shape \(1, 8, 8\)"):
        attr.FeatureAblation(model).attribute(torch.randn(1, 8, 8), target=0)


def test_a_batch_still_works_and_the_model_error_type_is_kept() -> None:
    assert attr.IntegratedGradients(_mlp()).attribute(torch.randn(2, 3), target=0).shape == (2, 3)
    with pytest.raises(RuntimeError, match="mat1 and mat2"):  # the model's own message is kept
        attr.Saliency(_mlp()).attribute(torch.randn(2, 5), target=0)
