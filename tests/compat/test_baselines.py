"""Baselines as a callable (Captum's form for the SHAP methods), a numpy array or a list (one
per input; an addition: Captum 0.9 refuses both) give the same attributions as tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from veracity import attr


def _linear() -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def test_callable_baselines_closed_form_and_captum() -> None:
    model, x = _linear(), torch.randn(4, 3)
    rows = torch.randn(6, 3)
    expected = (model.weight[1] * (x - rows.mean(0))).detach()
    for form in (lambda: rows, lambda inputs: rows):
        got = attr.DeepLiftShap(model).attribute(x, baselines=form, target=1)
        assert torch.allclose(got, expected, atol=1e-5)
    ca = pytest.importorskip("captum.attr")
    theirs = ca.DeepLiftShap(model).attribute(x, baselines=lambda inputs: rows, target=1)
    assert torch.allclose(attr.DeepLiftShap(model).attribute(x, baselines=lambda inputs: rows, target=1), theirs,
                          atol=1e-5)
    shap = [attr.GradientShap(model).attribute(x, baselines=form, target=1, n_samples=40,
                                               generator=torch.Generator().manual_seed(0))
            for form in (lambda: rows, rows)]
    assert torch.equal(shap[0], shap[1])  # the callable's rows are drawn exactly as the tensor's


@pytest.mark.parametrize("name", ["DeepLiftShap", "GradientShap", "KernelShap", "Lime", "IntegratedGradients",
                                  "FeatureAblation"])
def test_numpy_and_list_baselines_equal_tensors(name: str) -> None:
    model, x = _linear(), torch.randn(2, 3)
    rows = torch.randn(3, 3) if name in ("DeepLiftShap", "GradientShap") else torch.randn(1, 3)
    kwargs: dict = {"target": 0}
    if name in ("KernelShap", "Lime", "GradientShap"):
        kwargs["n_samples"] = 20

    def run(baselines):  # noqa: ANN001, ANN202
        if name in ("KernelShap", "Lime", "GradientShap"):
            kwargs["generator"] = torch.Generator().manual_seed(0)
        return getattr(attr, name)(model).attribute(x, baselines=baselines, **kwargs)

    reference = run(rows)
    assert torch.allclose(run(rows.numpy()), reference, atol=1e-6)
    assert torch.allclose(run(rows.double().numpy()), reference, atol=1e-6)
    assert torch.allclose(run([rows])[0] if isinstance(run([rows]), tuple) else run([rows]), reference, atol=1e-6)


def test_list_is_one_baseline_per_input() -> None:
    def model(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a.sum(1) + 2 * b.sum(1)

    x = (torch.ones(2, 3), torch.ones(2, 2))
    got = attr.FeatureAblation(model).attribute(x, baselines=[0.5, np.zeros((1, 2), dtype=np.float32)])
    assert torch.allclose(got[0], torch.full((2, 3), 0.5)) and torch.allclose(got[1], torch.full((2, 2), 2.0))
    with pytest.raises(ValueError, match="`baselines`"):
        attr.FeatureAblation(model).attribute(x, baselines=[0.5])
