"""Capture at many layers in one pass: equals single-layer captures and manual hooks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import MLP, SmallCNN, TwoInputModel
from tests.core.model_state import assert_unchanged, snapshot
from veracity._core.capture import capture_layer_gradients, capture_layers


def manual(model: nn.Module, x: torch.Tensor, layer: nn.Module, to_input: bool = False) -> torch.Tensor:
    seen = []
    if to_input:
        handle = layer.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    else:
        handle = layer.register_forward_hook(lambda m, args, out: seen.append(out.detach().clone()))
    with torch.no_grad():
        model(x)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize("to_input", [False, True])
def test_many_layers_equal_single_captures_and_manual_hooks(to_input: bool) -> None:
    model = SmallCNN().double().eval()
    x = torch.randn(5, 1, 8, 8, dtype=torch.float64)
    layers = [model.conv1, model.pool, model.conv2, model.fc]
    before = snapshot(model)
    together = capture_layers(model, x, layers, to_input=to_input, chunk_rows=2)
    for layer, value in zip(layers, together):
        alone = capture_layers(model, x, [layer], to_input=to_input)[0]
        assert torch.allclose(value, alone, atol=1e-12)
        assert torch.allclose(value, manual(model, x, layer, to_input), atol=1e-12)
        assert not value.is_inference() and not value.requires_grad
    assert_unchanged(model, before)


def test_chunk_invariance_names_dicts_and_extra_args() -> None:
    model = TwoInputModel().double().eval()
    x1, x2 = torch.randn(7, 4, dtype=torch.float64), torch.randn(7, 5, dtype=torch.float64)
    scale = torch.rand(7, 1, dtype=torch.float64)
    runs = [capture_layers(model, (x1, x2), ["a", "b"], (scale,), chunk_rows=rows) for rows in (1, 3, None)]
    for run in runs:
        assert list(run) == ["a", "b"]
        assert torch.allclose(run["a"], runs[0]["a"], atol=1e-12) and torch.allclose(run["b"], runs[0]["b"], atol=1e-12)
    assert torch.allclose(runs[0]["b"], model.b(x2))
    by_dict = capture_layers(model, (x1, x2), {"first": model.a}, (scale,), chunk_rows=2)
    assert torch.allclose(by_dict["first"], runs[0]["a"], atol=1e-12)


def test_hooks_removed_after_an_exception() -> None:
    class Boom(MLP):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            super().forward(x)
            raise RuntimeError("inside the model")

    model = Boom().eval()
    before = snapshot(model)
    for capture in (capture_layers, capture_layer_gradients):
        with pytest.raises(RuntimeError, match="inside the model"):
            capture(model, torch.randn(3, 6), [model.fc1, model.fc2])
        assert_unchanged(model, before)


def test_bad_layers_argument_names_layers() -> None:
    model = MLP().eval()
    for bad in ([], "fc1", [model.fc1, "fc2"], ["fc9"], {"a": 3}, [model.fc1, model.fc1]):
        with pytest.raises((TypeError, ValueError), match="`layers`"):
            capture_layers(model, torch.randn(2, 6), bad)
    with pytest.raises(TypeError, match="`layers`"):
        capture_layers(lambda x: model(x), torch.randn(2, 6), ["fc1"])


def test_layer_gradients_equal_autograd_through_every_path() -> None:
    model = MLP().double().eval()
    x = torch.randn(6, 6, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    before = snapshot(model)
    acts, grads = capture_layer_gradients(model, x, {"h1": model.fc1, "h2": model.fc2}, target, chunk_rows=4)
    h1 = model.fc1(x).detach().requires_grad_()
    h2 = model.fc2(model.act(h1))
    out = model.fc3(model.relu(h2))
    picked = out[torch.arange(6), target].sum()
    d_h1, d_h2 = torch.autograd.grad(picked, [h1, h2])
    assert torch.allclose(acts["h1"], h1) and torch.allclose(acts["h2"], h2)
    assert torch.allclose(grads["h1"], d_h1, atol=1e-12) and torch.allclose(grads["h2"], d_h2, atol=1e-12)
    other = capture_layer_gradients(model, x, {"h1": model.fc1, "h2": model.fc2}, target, chunk_rows=1)[1]
    assert torch.allclose(other["h1"], d_h1, atol=1e-12)
    assert_unchanged(model, before)
