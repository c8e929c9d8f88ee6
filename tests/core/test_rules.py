"""Module-level backward rules: hand-computed LRP-epsilon, selection, and the model left untouched."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from tests.conftest import MLP, SmallCNN
from tests.core.model_state import assert_unchanged, snapshot
from veracity._core.rules import Gradient, ModuleRules, Passthrough, forward_with, select_modules, stabilize

EPS = 0.01


@dataclass(frozen=True)
class Epsilon:
    """Test fixture: a minimal LRP-epsilon rule in gradient form, ``R_in = x * (W^T (R_out /
    (z + epsilon * sign(z))))``, to test the ModuleRules machinery apart from the library's
    rules (veracity.lrp.Epsilon is the library's one, tested in tests/lrp). Subclasses may
    override :meth:`parameters` to modify the weights functionally."""

    epsilon: float = 1e-6

    def parameters(self, module: nn.Module) -> dict[str, torch.Tensor]:
        return {}

    def backward(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor,
                 grad_output: torch.Tensor) -> torch.Tensor:
        x = inputs[0].detach().requires_grad_()
        with torch.enable_grad():
            z = forward_with(module, (x,), **self.parameters(module))
        (contribution,) = torch.autograd.grad(z, x, grad_output / stabilize(z.detach(), self.epsilon))
        return x.detach() * contribution


@dataclass(frozen=True)
class Gamma(Epsilon):
    """Test fixture: the gamma rule's weights, computed functionally."""

    gamma: float = 0.25

    def parameters(self, module: nn.Module) -> dict[str, torch.Tensor]:
        return {"weight": module.weight + self.gamma * module.weight.clamp(min=0)}


def two_layer() -> nn.Sequential:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).double().eval()


def relevance(model: nn.Module, x: torch.Tensor, rules: ModuleRules, target: int = 1) -> torch.Tensor:
    x = x.clone().requires_grad_()
    with rules:
        out = model(x)
    start = out * nn.functional.one_hot(torch.tensor(target), out.shape[1]).to(out.dtype)
    return torch.autograd.grad(out, x, start)[0]  # differentiated after the session: allowed


def test_epsilon_and_gamma_on_linear_layers_match_hand_computation() -> None:
    model = two_layer()
    x = torch.randn(5, 4, dtype=torch.float64)
    before = snapshot(model)
    got = relevance(model, x, ModuleRules(model, [("0", Gamma(EPS)), (nn.Linear, Epsilon(EPS))]))
    w1, b1, w2, b2 = (p.detach() for p in model.parameters())
    a = x @ w1.T + b1
    h = a.clamp(min=0)
    y = h @ w2.T + b2
    r_out = torch.zeros_like(y)
    r_out[:, 1] = y[:, 1]
    r_h = h * ((r_out / stabilize(y, EPS)) @ w2)
    r_a = r_h * (a > 0)
    w1_gamma = w1 + 0.25 * w1.clamp(min=0)
    r_x = x * ((r_a / stabilize(x @ w1_gamma.T + b1, EPS)) @ w1_gamma)
    assert torch.allclose(got, r_x, atol=1e-12)
    assert_unchanged(model, before)


def test_module_called_twice_keeps_each_calls_input() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.shared = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.shared(torch.relu(self.shared(x)))

    model = Twice().double().eval()
    x = torch.randn(4, 3, dtype=torch.float64)
    got = relevance(model, x, ModuleRules(model, [(nn.Linear, Epsilon(EPS))]), target=0)
    w, b = model.shared.weight.detach(), model.shared.bias.detach()
    a = x @ w.T + b
    h = a.clamp(min=0)
    y = h @ w.T + b
    r_out = torch.zeros_like(y)
    r_out[:, 0] = y[:, 0]
    r_a = h * ((r_out / stabilize(y, EPS)) @ w) * (a > 0)
    assert torch.allclose(got, x * ((r_a / stabilize(a, EPS)) @ w), atol=1e-12)


def test_gradient_rule_everywhere_reproduces_autograd_on_a_cnn() -> None:
    model = SmallCNN().double().eval()
    model.relu1 = nn.ReLU(inplace=True)  # an in-place module with a rule works on a copy
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    expected = torch.autograd.grad(model(x)[:, 2].sum(), x)[0]
    before = snapshot(model)
    with ModuleRules(model, [(lambda name, module: name != "", Gradient())]) as rules:
        out = model(x)
        got = torch.autograd.grad(out[:, 2].sum(), x)[0]
    assert set(rules.assigned) == {"conv1", "relu1", "pool", "conv2", "relu2", "fc"}
    assert torch.allclose(got, expected, atol=1e-12)
    assert_unchanged(model, before)


def test_passthrough_and_no_rule_without_grad() -> None:
    model = two_layer()
    x = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    with ModuleRules(model, [("1", Passthrough())]):
        with torch.no_grad():
            plain = model(x)
        out = model(x)
    assert torch.equal(out, plain)
    got = torch.autograd.grad(out.sum(), x)[0]
    assert torch.allclose(got, model[2].weight.sum(0) @ model[0].weight)  # the ReLU's mask is ignored


def test_everything_undone_after_an_exception_in_the_model() -> None:
    class Boom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.fc2 = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.fc(x)
            raise RuntimeError("inside the model")

    model = Boom().double().train()
    before = snapshot(model)
    with pytest.raises(RuntimeError, match="inside the model"):
        with ModuleRules(model, [(nn.Linear, Epsilon())]):
            model(torch.randn(2, 3, dtype=torch.float64, requires_grad=True))
    assert_unchanged(model, before)


def test_selection_by_type_name_pattern_predicate_and_mapping() -> None:
    model = MLP()
    first, second = Epsilon(0.1), Epsilon(0.2)
    with ModuleRules(model, [(nn.Linear, first)]) as rules:
        assert rules.assigned == {"fc1": first, "fc2": first, "fc3": first}
    cases = [
        ([("fc[12]", first), (nn.Linear, second)], {}, {"fc1": first, "fc2": first, "fc3": second}),
        ([(lambda n, m: n.endswith("3"), second), ("fc*", first)], {}, {"fc1": first, "fc2": first, "fc3": second}),
        ([("fc*", first)], {model.fc2: second}, {"fc1": first, "fc2": second, "fc3": first}),
        ([((nn.ReLU, nn.Tanh), first)], {"fc1": second}, {"fc1": second, "act": first, "relu": first}),
    ]
    for assignments, mapping, expected in cases:
        with ModuleRules(model, assignments, mapping) as rules:
            assert rules.assigned == expected
    assert [n for n, _ in select_modules(model, "fc?")] == ["fc1", "fc2", "fc3"]
    with pytest.raises(ValueError, match="`assignments`"):
        with ModuleRules(model, [("fc4", first)]):
            pass
    with pytest.raises(TypeError, match="`assignments`"):
        with ModuleRules(model, [(nn.Linear, "not a rule")]):
            pass
    assert_unchanged(model, snapshot(model))
