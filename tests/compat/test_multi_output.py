"""``target=None`` on a model with several output values per example: Captum 0.9's
perturbation family explains every value (one attribution row per value, example-major;
the Shapley methods ``(batch, *output shape, *input shape)``). Closed forms and parity."""

from __future__ import annotations

import pytest
import torch

from veracity import attr


def _model() -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def _roll(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, x.roll(1, 0), x)


def test_closed_form_of_every_output_value() -> None:
    """On Linear(3, 2), ablating feature f to 0 changes output j by W[j, f] x[f]."""
    model, x = _model(), torch.randn(4, 3)
    expected = (x[:, None, :] * model.weight[None]).detach()  # (example, output, feature)
    fa = attr.FeatureAblation(model).attribute(x)
    assert fa.shape == (8, 3) and torch.allclose(fa, expected.reshape(8, 3), atol=1e-6)
    occlusion = attr.Occlusion(model).attribute(x, sliding_window_shapes=(1,))
    assert torch.allclose(occlusion, expected.reshape(8, 3), atol=1e-6)
    shapley = attr.ShapleyValues(model).attribute(x)
    assert shapley.shape == (4, 2, 3) and torch.allclose(shapley, expected, atol=1e-5)
    sampled = attr.ShapleyValueSampling(model).attribute(x, n_samples=3)
    assert torch.allclose(sampled, expected, atol=1e-5)  # additive model: exact for every order
    grouped = attr.FeatureAblation(model).attribute(x, feature_mask=torch.tensor([[0, 0, 1]]))
    assert torch.allclose(grouped[:, 0], expected[..., :2].sum(-1).reshape(8), atol=1e-6)
    per_example = torch.tensor([[0, 1, 1], [0, 0, 1], [1, 1, 1], [0, 1, 2]])
    masked = attr.FeatureAblation(model).attribute(x, feature_mask=per_example)  # a mask per example
    for b in range(4):
        for group in per_example[b].unique():
            sel = per_example[b] == group
            assert torch.allclose(masked[2 * b:2 * b + 2][:, sel],
                                  expected[b][:, sel].sum(-1, keepdim=True).expand(2, int(sel.sum())), atol=1e-6)
    permuted = attr.FeaturePermutation(model, perm_func=_roll).attribute(x)
    change = ((x - x.roll(1, 0))[:, None, :] * model.weight[None]).detach().reshape(8, 3)
    assert torch.allclose(permuted, change, atol=1e-6)


def test_a_target_still_picks_one_value() -> None:
    model, x = _model(), torch.randn(4, 3)
    assert attr.FeatureAblation(model).attribute(x, target=1).shape == (4, 3)


@pytest.mark.parametrize("name", ["FeatureAblation", "Occlusion", "FeaturePermutation", "ShapleyValues",
                                  "ShapleyValueSampling", "LayerFeatureAblation", "LayerFeaturePermutation"])
def test_parity_with_captum(name: str) -> None:
    ca = pytest.importorskip("captum.attr")
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    x = torch.randn(5, 3)
    layer = name.startswith("Layer")
    args: dict = {"sliding_window_shapes": (1,)} if name == "Occlusion" else {}
    if name == "ShapleyValueSampling":  # the two draw orders differently: an additive model makes all agree
        args, net = {"n_samples": 2}, torch.nn.Sequential(torch.nn.Linear(3, 2))
    make = (lambda lib: getattr(lib, name)(net, net[0])) if layer else (
        lambda lib: getattr(lib, name)(net, perm_func=_roll) if "Permutation" in name else getattr(lib, name)(net))
    if name == "LayerFeaturePermutation":
        pytest.skip("Captum's layer permutation draws its own random permutation; shapes checked below")
    ours, theirs = make(attr).attribute(x, **args), make(ca).attribute(x, **args)
    assert ours.shape == theirs.shape and torch.allclose(ours, theirs, atol=1e-5)


def test_layer_permutation_shape_matches_captum() -> None:
    ca = pytest.importorskip("captum.attr")
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    x = torch.randn(5, 3)
    assert (attr.LayerFeaturePermutation(net, net[0]).attribute(x).shape
            == ca.LayerFeaturePermutation(net, net[0]).attribute(x).shape == (10, 4))


def test_one_output_column_stays_one_row_per_example() -> None:
    """A (batch, 1) output is one value per example: (batch, features) for every method, as
    veracity always gave; Captum 0.9's Shapley methods return (batch, 1, features) there."""
    torch.manual_seed(0)
    model, x = torch.nn.Linear(4, 1), torch.randn(2, 4)
    for name in ("FeatureAblation", "ShapleyValues", "ShapleyValueSampling"):
        assert getattr(attr, name)(model).attribute(x).shape == (2, 4)
    ca = pytest.importorskip("captum.attr")
    assert ca.ShapleyValues(model).attribute(x).shape == (2, 1, 4)
