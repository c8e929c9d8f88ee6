"""Same outputs as Captum 0.9 on the deterministic methods (skipped when captum is missing)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from veracity import attr

captum_attr = pytest.importorskip("captum.attr")


def _cnn_and_input(cnn: torch.nn.Module) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    x = torch.randn(3, 1, 8, 8)
    mask = (torch.arange(64).view(1, 1, 8, 8) // 8 // 3) * 3 + torch.arange(8).view(1, 1, 1, 8) // 3
    return cnn, x, mask


def test_feature_ablation(cnn: torch.nn.Module) -> None:
    model, x, mask = _cnn_and_input(cnn)
    kwargs = {"target": 2, "feature_mask": mask, "baselines": 0.2, "perturbations_per_eval": 4}
    ours = attr.FeatureAblation(model).attribute(x, **kwargs)
    theirs = captum_attr.FeatureAblation(model).attribute(x, **kwargs)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_feature_ablation_across_inputs(two_input_model: torch.nn.Module) -> None:
    a, b = torch.randn(4, 4), torch.randn(4, 5)
    masks = (torch.tensor([[0, 1, 1, 2]]), torch.tensor([[2, 3, 3, 0, 4]]))
    ours = attr.FeatureAblation(two_input_model).attribute((a, b), target=1, feature_mask=masks,
                                                           additional_forward_args=(0.5,))
    theirs = captum_attr.FeatureAblation(two_input_model).attribute((a, b), target=1, feature_mask=masks,
                                                                    additional_forward_args=(0.5,))
    for o, t in zip(ours, theirs):
        torch.testing.assert_close(o, t, atol=1e-6, rtol=1e-5)


def test_occlusion(cnn: torch.nn.Module) -> None:
    model, x, _ = _cnn_and_input(cnn)
    kwargs = {"sliding_window_shapes": (1, 3, 3), "strides": (1, 2, 2), "target": 0, "baselines": 0.1}
    ours = attr.Occlusion(model).attribute(x, **kwargs)
    theirs = captum_attr.Occlusion(model).attribute(x, **kwargs)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_shapley_values(mlp: torch.nn.Module) -> None:
    x = torch.randn(2, 6)
    mask = torch.tensor([[0, 1, 1, 2, 3, 3]])
    ours = attr.ShapleyValues(mlp).attribute(x, target=1, feature_mask=mask, baselines=0.3)
    theirs = captum_attr.ShapleyValues(mlp).attribute(x, target=1, feature_mask=mask, baselines=0.3)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_feature_permutation_with_a_fixed_permutation(mlp: torch.nn.Module) -> None:
    def roll(x: torch.Tensor, feature_mask: torch.Tensor) -> torch.Tensor:
        return torch.where(feature_mask.bool(), x.roll(1, 0), x)

    x = torch.randn(5, 6)
    ours = attr.FeaturePermutation(mlp, perm_func=roll).attribute(x, target=0)
    theirs = captum_attr.FeaturePermutation(mlp, perm_func=roll).attribute(x, target=0)
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)


def _fixed_samples(inputs: Any, **kwargs: Any) -> Any:
    g = torch.Generator().manual_seed(5)
    yield torch.ones(1, kwargs["num_interp_features"], dtype=torch.long)
    yield torch.zeros(1, kwargs["num_interp_features"], dtype=torch.long)
    while True:
        yield torch.randint(0, 2, (1, kwargs["num_interp_features"]), generator=g)


def test_lime_with_the_same_samples(mlp: torch.nn.Module) -> None:
    from captum._utils.models.linear_model import SkLearnLinearRegression

    pytest.importorskip("sklearn")
    x = torch.randn(2, 6)
    mask = torch.tensor([[0, 0, 1, 2, 3, 3]])
    ours = attr.Lime(mlp, interpretable_model=attr.TorchLinearRegression(), perturb_func=_fixed_samples)
    theirs = captum_attr.Lime(mlp, interpretable_model=SkLearnLinearRegression(), perturb_func=_fixed_samples)
    kwargs = {"target": 2, "feature_mask": mask, "n_samples": 30, "baselines": 0.1}
    torch.testing.assert_close(ours.attribute(x, **kwargs), theirs.attribute(x, **kwargs), atol=1e-4, rtol=1e-4)
