"""veracity.module stochastic gates: closed forms, parity with captum.module, feature selection."""

from __future__ import annotations

import math

import pytest
import torch

from veracity.module import BinaryConcreteStochasticGates, GaussianStochasticGates


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def test_closed_forms_in_eval_mode() -> None:
    gates = BinaryConcreteStochasticGates(3, mask=torch.tensor([[0, 1], [1, 2]]), reg_weight=2.0).eval()
    with torch.no_grad():
        gates.log_alpha_param.copy_(torch.tensor([-3.0, 0.0, 3.0]))
    values = [_sigmoid(a) * 1.2 - 0.1 for a in (-3.0, 0.0, 3.0)]
    probs = [_sigmoid(a - 2 / 3 * math.log(0.1 / 1.1)) for a in (-3.0, 0.0, 3.0)]
    assert gates.get_gate_values(clamp=False).tolist() == pytest.approx(values, abs=1e-6)
    assert gates.get_gate_values().tolist() == pytest.approx([0.0, values[1], 1.0], abs=1e-6)
    assert gates.get_gate_active_probs().tolist() == pytest.approx(probs, abs=1e-6)
    x = torch.arange(1.0, 9.0).view(2, 2, 2)
    gated, reg = gates(x)
    expected = x * torch.tensor([[0.0, values[1]], [values[1], 1.0]])
    assert torch.allclose(gated, expected) and float(reg.detach()) == pytest.approx(2 * sum(probs), abs=1e-5)
    gaussian = GaussianStochasticGates(3, std=0.25, reg_reduction="mean").eval()
    with torch.no_grad():
        gaussian.mu.copy_(torch.tensor([-0.1, 0.5, 1.2]))
    phi = [0.5 * (1 + math.erf(m / 0.25 / math.sqrt(2))) for m in (-0.1, 0.5, 1.2)]
    gated, reg = gaussian(torch.ones(4, 3))
    assert torch.allclose(gated, torch.tensor([[0.0, 0.5, 1.0]]).expand(4, 3))
    assert float(reg.detach()) == pytest.approx(sum(phi) / 3, abs=1e-6)


def test_training_samples_per_example_in_range_and_with_gradients() -> None:
    torch.manual_seed(0)
    gates = BinaryConcreteStochasticGates(5).train()
    gated, reg = gates(torch.ones(4000, 5))
    assert gated.min() >= 0 and gated.max() <= 1 and not torch.equal(gated[0], gated[1])
    # the fraction of exactly-zero gates matches 1 - P(active) (hard-concrete stretch)
    zero_fraction = (gated == 0).double().mean(0)
    assert torch.allclose(zero_fraction, 1 - gates.get_gate_active_probs().double(), atol=0.03)
    (gated.sum() + reg).backward()
    assert gates.log_alpha_param.grad is not None and bool(gates.log_alpha_param.grad.abs().sum() > 0)


def test_l0_training_closes_the_gate_of_a_useless_feature() -> None:
    torch.manual_seed(0)
    x = torch.randn(256, 3)
    y = 2 * x[:, 0] - x[:, 1]  # feature 2 is useless
    gates, head = GaussianStochasticGates(3, reg_weight=0.05), torch.nn.Linear(3, 1)
    optimiser = torch.optim.Adam([*gates.parameters(), *head.parameters()], lr=0.1)
    for _ in range(120):
        gated, reg = gates(x)
        loss = ((head(gated).squeeze(1) - y) ** 2).mean() + reg
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    values = gates.get_gate_values()
    assert values[2] < 0.05 and values[0] > 0.5 and values[1] > 0.5


@pytest.mark.parametrize("reduction", ["sum", "mean", "none"])
def test_parity_with_captum_module(reduction: str) -> None:
    cm = pytest.importorskip("captum.module")
    mask = torch.tensor([0, 0, 1, 2, 3, 3])
    pairs = [(BinaryConcreteStochasticGates(4, mask, 1.5, reg_reduction=reduction),
              cm.BinaryConcreteStochasticGates(4, mask, 1.5, reg_reduction=reduction), "log_alpha_param"),
             (GaussianStochasticGates(4, mask, 1.5, std=0.3, reg_reduction=reduction),
              cm.GaussianStochasticGates(4, mask, 1.5, std=0.3, reg_reduction=reduction), "mu")]
    x = torch.randn(3, 6)
    for ours, theirs, name in pairs:
        with torch.no_grad():
            getattr(theirs, name).copy_(getattr(ours, name).detach() + torch.tensor([-2.0, 0.1, 0.4, 3.0]))
            getattr(ours, name).copy_(getattr(theirs, name))
        ours.eval(), theirs.eval()
        (a, ra), (b, rb) = ours(x), theirs(x)
        assert torch.allclose(a, b, atol=1e-6) and torch.allclose(ra, rb, atol=1e-6)
        assert torch.allclose(ours.get_gate_values(), theirs.get_gate_values(), atol=1e-6)
        assert torch.allclose(ours.get_gate_values(False), theirs.get_gate_values(False), atol=1e-6)
        assert torch.allclose(ours.get_gate_active_probs(), theirs.get_gate_active_probs(), atol=1e-6)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="`input_tensor`"):
        GaussianStochasticGates(3)(torch.ones(2, 4))
    with pytest.raises(ValueError, match="`mask`"):
        GaussianStochasticGates(3, mask=torch.tensor([0, 1, 5]))
    with pytest.raises(ValueError, match="`reg_reduction`"):
        GaussianStochasticGates(3, reg_reduction="max")
