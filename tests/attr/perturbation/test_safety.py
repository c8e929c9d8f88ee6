"""Every perturbation method: bad input names the argument, nothing is mutated, progress bars."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest
import torch

from tests.attr.perturbation._models import mlp
from veracity import attr

G = lambda: torch.Generator().manual_seed(0)  # noqa: E731

METHODS: dict[str, tuple[Callable[[Any], Any], dict[str, Any]]] = {
    "FeatureAblation": (attr.FeatureAblation, {}),
    "Occlusion": (attr.Occlusion, {"sliding_window_shapes": (2,)}),
    "FeaturePermutation": (attr.FeaturePermutation, {}),
    "ShapleyValueSampling": (attr.ShapleyValueSampling, {"n_samples": 2}),
    "ShapleyValues": (attr.ShapleyValues, {"feature_mask": torch.tensor([[0, 0, 1, 1, 2]])}),
    "Lime": (attr.Lime, {"n_samples": 10}),
    "KernelShap": (attr.KernelShap, {"n_samples": 10}),
    "RISE": (attr.RISE, {"n_masks": 8, "mask_resolution": 2}),
}
STOCHASTIC = {"FeaturePermutation", "ShapleyValueSampling", "Lime", "KernelShap", "RISE"}


def _call(name: str, model: Any, x: Any, **extra: Any) -> Any:
    make, kwargs = METHODS[name]
    kwargs = {**kwargs, **extra}
    if name in STOCHASTIC:
        kwargs.setdefault("generator", G())
    return make(model).attribute(x, target=1, **kwargs)


@pytest.mark.parametrize("name", METHODS)
def test_no_mutation_and_progress(name: str) -> None:
    model = mlp(5).train()  # training mode is kept as it is (and warned about only with dropout/BN)
    state = copy.deepcopy(model.state_dict())
    x = torch.randn(3, 5, dtype=torch.float64)
    x_copy = x.clone()
    result = _call(name, model, x, show_progress=True)
    assert result.shape == x.shape
    assert torch.equal(x, x_copy) and model.training
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("name", METHODS)
def test_model_errors_propagate_and_leave_no_state(name: str) -> None:
    class Broken(torch.nn.Module):
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("boom")

    model = Broken()
    with pytest.raises(RuntimeError, match="boom"):
        _call(name, model, torch.randn(2, 5))
    assert not model._forward_hooks and not model._forward_pre_hooks


@pytest.mark.parametrize("name", METHODS)
def test_bad_common_arguments(name: str) -> None:
    model = mlp(5)
    x = torch.randn(2, 5, dtype=torch.float64)
    with pytest.raises(TypeError, match="`inputs`"):
        _call(name, model, [x])
    with pytest.raises(ValueError, match="`perturbations_per_eval`"):
        _call(name, model, x, perturbations_per_eval=0)
    with pytest.raises(ValueError, match="`target`"):
        METHODS[name][0](model).attribute(x, target=7, **_defaults(name))
    if name not in {"FeaturePermutation", "RISE"}:
        with pytest.raises(ValueError, match="`baselines`"):
            _call(name, model, x, baselines=torch.zeros(3, 4))


def _defaults(name: str) -> dict[str, Any]:
    kwargs = dict(METHODS[name][1])
    if name in STOCHASTIC:
        kwargs["generator"] = G()
    return kwargs


MASKED = ["FeatureAblation", "FeaturePermutation", "ShapleyValueSampling", "Lime", "KernelShap"]


@pytest.mark.parametrize("name", MASKED)
@pytest.mark.parametrize("mask,error,message", [
    (torch.tensor([[0, 1, -1, 2, 3]]), ValueError, "non-negative"),
    (torch.tensor([[0.0, 0.5, 1.0, 1.0, 2.0]]), ValueError, "integer group ids"),
    (torch.tensor([[0, 1, 2]]), ValueError, "broadcasts"),
    ([0, 1, 2, 3, 4], TypeError, "integer tensor"),
    ((torch.zeros(1, 5, dtype=torch.long), torch.zeros(1, 5, dtype=torch.long)), ValueError, "one per input"),
])
def test_bad_feature_mask(name: str, mask: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=f"`feature_mask`.*{message}"):
        _call(name, mlp(5), torch.randn(3, 5, dtype=torch.float64), feature_mask=mask)


def test_method_specific_errors() -> None:
    model, x = mlp(5), torch.randn(2, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match="`sliding_window_shapes`.*no larger"):
        attr.Occlusion(model).attribute(x, sliding_window_shapes=(6,))
    with pytest.raises(ValueError, match="`strides`.*>= 1"):
        attr.Occlusion(model).attribute(x, sliding_window_shapes=(2,), strides=0)
    with pytest.raises(TypeError, match="`sliding_window_shapes`"):
        attr.Occlusion(model).attribute(x, sliding_window_shapes=(2, 2))
    with pytest.raises(ValueError, match="`inputs`.*at least 2"):
        attr.FeaturePermutation(model).attribute(x[:1], target=0)
    for method in (attr.ShapleyValueSampling, attr.Lime, attr.KernelShap):
        with pytest.raises(ValueError, match="`n_samples`"):
            method(model).attribute(x, target=0, n_samples=0)
    with pytest.raises(ValueError, match="`p_keep`"):
        attr.RISE(model).attribute(x, target=0, p_keep=0.0)
    with pytest.raises(ValueError, match="`mask_resolution`"):
        attr.RISE(model).attribute(x, target=0, mask_resolution=(2, 2))
    with pytest.raises(TypeError, match="`kwargs`"):
        attr.FeatureAblation(model).attribute(x, target=0, unknown_option=1)
    with pytest.raises(TypeError, match="`interpretable_model`"):
        attr.Lime(model, interpretable_model=object()).attribute(x, target=0, n_samples=5)


def test_targets_callable_and_regression_outputs() -> None:
    model = mlp(5)
    x = torch.randn(3, 5, dtype=torch.float64)
    by_index = attr.FeatureAblation(model).attribute(x, target=torch.tensor([0, 2, 1]))
    by_callable = attr.FeatureAblation(model).attribute(
        x, target=lambda out: out[torch.arange(out.shape[0]), torch.tensor([0, 2, 1]).repeat(out.shape[0] // 3)])
    torch.testing.assert_close(by_index, by_callable)
    regression = attr.FeatureAblation(lambda t: model(t)[:, 2]).attribute(x)
    torch.testing.assert_close(regression, attr.FeatureAblation(model).attribute(x, target=2))


def test_training_mode_with_dropout_warns() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Dropout(0.1)).train()
    with pytest.warns(UserWarning, match="training mode"):
        attr.FeatureAblation(model).attribute(torch.randn(2, 5), target=0)
