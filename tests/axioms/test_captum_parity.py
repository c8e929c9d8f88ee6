"""Same numbers as Captum 0.9 where Captum is right (runs where the `bench` extra is installed)."""

from __future__ import annotations

import warnings

import pytest
import torch

from tests.conftest import SmallCNN
from veracity import attr

captum = pytest.importorskip("captum.attr")


@pytest.mark.parametrize("name,kwargs", [
    ("Saliency", {}), ("InputXGradient", {}), ("GuidedBackprop", {}), ("Deconvolution", {}),
    ("IntegratedGradients", {"n_steps": 20}),
    ("IntegratedGradients", {"n_steps": 20, "method": "riemann_middle"}),
])
def test_same_numbers_as_captum(name: str, kwargs: dict) -> None:
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = getattr(captum, name)(model).attribute(x, target=2, **kwargs)
    torch.testing.assert_close(getattr(attr, name)(model).attribute(x, target=2, **kwargs), expected,
                               atol=1e-6, rtol=1e-5)


def test_trapezoid_weights_sum_to_one_unlike_captum() -> None:
    """Captum 0.9's trapezoid weights are 1/n with halved ends, summing to (n-1)/n, so its
    attributions are scaled down by that factor and miss completeness; ours use 1/(n-1)."""
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = captum.IntegratedGradients(model).attribute(x, target=2, n_steps=20,
                                                               method="riemann_trapezoid")
    ours = attr.IntegratedGradients(model).attribute(x, target=2, n_steps=20, method="riemann_trapezoid")
    torch.testing.assert_close(ours * 19 / 20, expected, atol=1e-6, rtol=1e-5)
