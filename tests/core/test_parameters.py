"""Parameter gradients against per-example torch.autograd.grad loops in float64."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import MLP, SmallCNN
from tests.core.model_state import assert_unchanged, snapshot
from veracity._core.parameters import parameter_gradients, select_parameters


def reference(model: nn.Module, x: torch.Tensor, scalar) -> dict[str, torch.Tensor]:
    """One forward and one autograd.grad per example."""
    names = [n for n, _ in model.named_parameters()]
    rows = []
    for i in range(x.shape[0]):
        value = scalar(model(x[i:i + 1]), i)
        rows.append(torch.autograd.grad(value, list(model.parameters()), allow_unused=True))
    return {n: torch.stack([r[j] for r in rows]) for j, n in enumerate(names)}


def models() -> list[tuple[nn.Module, torch.Tensor]]:
    torch.manual_seed(1)
    return [(MLP().double().eval(), torch.randn(7, 6, dtype=torch.float64)),
            (SmallCNN().double().eval(), torch.randn(5, 1, 8, 8, dtype=torch.float64))]


@pytest.mark.parametrize("vectorize", [True, False])
@pytest.mark.parametrize("case", [0, 1])
def test_target_mode_per_example_and_summed(case: int, vectorize: bool) -> None:
    model, x = models()[case]
    target = torch.arange(x.shape[0]) % 3
    before = snapshot(model)
    expected = reference(model, x, lambda out, i: out[0, target[i]])
    got = parameter_gradients(model, x, target=target, per_example=True, vectorize=vectorize, chunk_rows=3)
    summed = parameter_gradients(model, x, target=target, chunk_rows=2)
    assert list(got) == list(expected)
    for name in expected:
        assert got[name].shape == expected[name].shape
        assert torch.allclose(got[name], expected[name], atol=1e-12)
        assert torch.allclose(summed[name], expected[name].sum(0), atol=1e-12)
    assert_unchanged(model, before)


@pytest.mark.parametrize("vectorize", [True, False])
@pytest.mark.parametrize("case", [0, 1])
def test_loss_mode_per_example_and_summed(case: int, vectorize: bool) -> None:
    model, x = models()[case]
    labels = torch.arange(x.shape[0]) % 3

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y, reduction="none")

    expected = reference(model, x, lambda out, i: loss_fn(out, labels[i:i + 1])[0])
    got = parameter_gradients(model, x, loss_fn=loss_fn, labels=labels, per_example=True, vectorize=vectorize)
    summed = parameter_gradients(model, x, loss_fn=loss_fn, labels=labels, chunk_rows=3)
    for name in expected:
        assert torch.allclose(got[name], expected[name], atol=1e-12)
        assert torch.allclose(summed[name], expected[name].sum(0), atol=1e-12)


@pytest.mark.parametrize("per_example", [True, False])
def test_chunk_size_invariance(per_example: bool) -> None:
    model, x = models()[1]
    results = [parameter_gradients(model, x, target=1, per_example=per_example, chunk_rows=rows)
               for rows in (1, 2, 5, None)]
    for other in results[1:]:
        assert all(torch.allclose(results[0][n], other[n], atol=1e-12) for n in results[0])


def test_subset_frozen_parameters_and_extra_args() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = MLP().double()

        def forward(self, x: torch.Tensor, scale: torch.Tensor, offset: float) -> torch.Tensor:
            return self.body(x) * scale[:, None] + offset

    model = Scaled().eval()
    model.body.fc1.weight.requires_grad_(False)
    x, scale = torch.randn(6, 6, dtype=torch.float64), torch.rand(6, dtype=torch.float64)
    before = snapshot(model)
    got = parameter_gradients(model, x, target=2, additional_forward_args=(scale, 0.5), per_example=True,
                              parameters=["body.fc1.weight", model.body.fc3], chunk_rows=4)
    assert list(got) == ["body.fc1.weight", "body.fc3.weight", "body.fc3.bias"]
    for i in range(6):
        weight = model.body.fc1.weight.detach().requires_grad_()
        out = torch.func.functional_call(model, {"body.fc1.weight": weight}, (x[i:i + 1], scale[i:i + 1], 0.5))
        expected = torch.autograd.grad(out[0, 2], [weight, model.body.fc3.weight, model.body.fc3.bias])
        assert all(torch.allclose(g[i], e, atol=1e-12) for g, e in zip(got.values(), expected))
    assert_unchanged(model, before)


def test_vmap_fallback_for_data_dependent_model() -> None:
    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2).double()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.fc(x)
            # a data-dependent branch (same for every row): vmap cannot run it
            return out * 2 if float(x.detach().abs().max()) < 1e6 else out

    model = Branchy().eval()
    x = torch.randn(5, 3, dtype=torch.float64)
    expected = reference(model, x, lambda out, i: out[0, 1])
    got = parameter_gradients(model, x, target=1, per_example=True)
    assert all(torch.allclose(got[n], expected[n]) for n in expected)


def test_training_mode_batchnorm_buffers_untouched() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).double().train()
    before = snapshot(model)
    parameter_gradients(model, torch.randn(6, 3, dtype=torch.float64), per_example=True)
    parameter_gradients(model, torch.randn(6, 3, dtype=torch.float64))
    assert_unchanged(model, before)


def test_bad_arguments_name_themselves() -> None:
    model, x = models()[0]
    with pytest.raises(ValueError, match="`loss_fn`"):
        parameter_gradients(model, x, loss_fn=F.cross_entropy, labels=torch.zeros(7, dtype=torch.long))
    with pytest.raises(ValueError, match="`parameters`"):
        select_parameters(model, ["nope"])
    with pytest.raises(ValueError, match="`target`"):
        parameter_gradients(model, x, target=9, per_example=True)
    with pytest.raises(TypeError, match="`model`"):
        parameter_gradients(lambda t: t, x)


def test_vectorized_path_runs_once_per_chunk() -> None:
    seen: list[int] = []

    class Recording(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2).double()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.shape[0])
            return self.fc(x)

    x = torch.randn(6, 3, dtype=torch.float64)
    parameter_gradients(Recording(), x, target=0, per_example=True, chunk_rows=4)
    assert seen == [1, 1, 1]  # one shape probe, then one vmapped call per chunk, each seeing one example
    seen.clear()
    parameter_gradients(Recording(), x, target=0, per_example=True, chunk_rows=4, vectorize=False)
    assert seen == [4, 2]
