"""What is specific to single gradient methods: Captum parity, DeepLift on awkward models,
memory of the path expansion, convergence deltas' shapes."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import SmallCNN
from veracity import attr


class _Reused(nn.Module):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(4, 6), nn.Linear(6, 6), nn.Linear(6, 2)
        self.act = nn.ReLU(inplace=inplace)
        self.pool = nn.MaxPool1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.l2(self.act(self.l1(x))))  # one module, two calls
        return self.l3(self.pool(h.unsqueeze(1)).repeat(1, 1, 2).squeeze(1))


class _Functional(_Reused):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.l2(torch.relu(self.l1(x))))
        return self.l3(F.max_pool1d(h.unsqueeze(1), 2).repeat(1, 1, 2).squeeze(1))


class _Separate(_Reused):
    def __init__(self) -> None:
        super().__init__()
        self.act2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act2(self.l2(self.act(self.l1(x))))
        return self.l3(self.pool(h.unsqueeze(1)).repeat(1, 1, 2).squeeze(1))


@pytest.mark.parametrize("variant", [lambda: _Reused(), lambda: _Reused(inplace=True), _Functional],
                         ids=["reused", "inplace", "functional"])
def test_deeplift_handles_reuse_inplace_and_functional_relu(variant) -> None:
    reference = _Separate().eval()
    model = variant().eval()
    model.load_state_dict(reference.state_dict(), strict=False)
    x, base = torch.randn(5, 4), torch.randn(5, 4)
    expected, expected_delta = attr.DeepLift(reference).attribute(x, base, target=1, return_convergence_delta=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no completeness warning
        result, delta = attr.DeepLift(model).attribute(x, base, target=1, return_convergence_delta=True)
    torch.testing.assert_close(result, expected)
    assert float(delta.abs().max()) < 1e-5
    gbp = attr.GuidedBackprop(model).attribute(x, target=0)
    torch.testing.assert_close(gbp, attr.GuidedBackprop(reference).attribute(x, target=0))


def test_deeplift_warns_when_completeness_fails() -> None:
    class Product(nn.Module):
        def forward(self, x):
            return (x[:, :1] * x[:, 1:2]) * torch.sigmoid(x[:, 2:3]) * torch.sigmoid(x[:, 3:4])

    with pytest.warns(UserWarning, match="completeness"):
        attr.DeepLift(Product()).attribute(torch.randn(3, 4) + 2)


def test_convergence_delta_shapes_follow_captum() -> None:
    model = SmallCNN().eval()
    x, background = torch.randn(3, 1, 8, 8), torch.randn(5, 1, 8, 8)
    _, delta = attr.DeepLiftShap(model).attribute(x, background, target=0, return_convergence_delta=True)
    assert delta.shape == (15,)
    _, delta = attr.GradientShap(model).attribute(x, background, n_samples=4, target=0,
                                                  return_convergence_delta=True)
    assert delta.shape == (12,)
    _, delta = attr.IntegratedGradients(model).attribute(x, target=0, return_convergence_delta=True)
    assert delta.shape == (3,)


def test_gradient_shap_delta_is_exact_on_a_linear_model() -> None:
    model = nn.Linear(6, 2)
    _, delta = attr.GradientShap(model).attribute(torch.randn(3, 6), torch.randn(4, 6), n_samples=5,
                                                  stdevs=0.3, target=1, return_convergence_delta=True)
    assert float(delta.abs().max()) < 1e-5


def test_integrated_gradients_holds_one_chunk_of_the_path_at_a_time() -> None:
    model = SmallCNN().eval()
    largest = []

    def spy(x: torch.Tensor) -> torch.Tensor:
        largest.append(x.shape[0])
        return model(x)

    x = torch.randn(4, 1, 8, 8)
    attr.IntegratedGradients(spy).attribute(x, target=0, n_steps=200, internal_batch_size=40)
    assert max(largest) == 40 and sum(largest) == 800
    largest.clear()
    import veracity

    veracity.set_memory_budget(64 * x[0].numel() * 4)  # 64 rows of inputs
    try:
        attr.IntegratedGradients(spy).attribute(x, target=0, n_steps=200)
    finally:
        veracity.set_memory_budget(None)
    assert max(largest) <= 64 and sum(largest) == 800


def test_show_progress_draws_a_bar(capsys) -> None:
    attr.IntegratedGradients(SmallCNN().eval()).attribute(torch.randn(2, 1, 8, 8), target=0,
                                                           internal_batch_size=4, show_progress=True)
    assert "IntegratedGradients" in capsys.readouterr().err


def test_deeplift_custom_attribution_func() -> None:
    model = SmallCNN().eval()
    x, base = torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8)
    plain = attr.DeepLift(model).attribute(x, base, target=0)
    doubled = attr.DeepLift(model).attribute(
        x, base, target=0, custom_attribution_func=lambda m, inp, ref: tuple(2 * a * (i - r) for a, i, r in
                                                                             zip(m, inp, ref)))
    torch.testing.assert_close(doubled, 2 * plain)
    multipliers = attr.DeepLift(model).attribute(x, base, target=0, custom_attribution_func=lambda m: m)
    torch.testing.assert_close(multipliers * (x - base), plain)


def test_noise_tunnel_draws_baselines_from_a_distribution() -> None:
    model = nn.Linear(6, 2)
    x = torch.randn(3, 6)
    row = torch.randn(1, 6)
    result = attr.NoiseTunnel(attr.IntegratedGradients(model)).attribute(
        x, nt_samples=5, stdevs=0.0, draw_baseline_from_distrib=True, baselines=row.repeat(4, 1), target=1)
    torch.testing.assert_close(result, model.weight[1].detach() * (x - row))


def test_gradient_shap_accepts_a_callable_baseline() -> None:
    model = nn.Linear(6, 2)
    x = torch.randn(3, 6)
    result = attr.GradientShap(model).attribute(x, lambda: torch.ones(1, 6), n_samples=3, target=0)
    torch.testing.assert_close(result, model.weight[0].detach() * (x - 1))


def test_compute_convergence_delta() -> None:
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    ig = attr.IntegratedGradients(model)
    attributions, delta = ig.attribute(x, target=1, return_convergence_delta=True)
    again = ig.compute_convergence_delta(attributions, torch.zeros_like(x), x, target=1)
    torch.testing.assert_close(again, delta)


def test_get_name_and_flags() -> None:
    assert attr.IntegratedGradients.get_name() == "Integrated Gradients"
    assert attr.DeepLift(SmallCNN()).has_convergence_delta()
    assert not attr.IntegratedGradients(SmallCNN(), multiply_by_inputs=False).multiplies_by_inputs


@pytest.mark.parametrize("activation", [nn.ReLU(), nn.ELU(), nn.LeakyReLU(0.1), nn.Sigmoid(), nn.Tanh(),
                                        nn.Softplus(), nn.GELU(), nn.SiLU(), nn.SELU(), nn.Mish()],
                         ids=lambda m: type(m).__name__)
def test_deeplift_is_complete_through_each_activation(activation: nn.Module) -> None:
    model = nn.Sequential(nn.Linear(5, 7), activation, nn.Linear(7, 7), activation, nn.Linear(7, 2)).eval()
    x, base = torch.randn(4, 5) * 2, torch.randn(4, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, delta = attr.DeepLift(model).attribute(x, base, target=1, return_convergence_delta=True)
    assert float(delta.abs().max()) < 1e-5


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_deeplift_is_complete_through_max_pooling(dims: int) -> None:
    conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
    pool = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims]
    size = (4,) * dims
    model = nn.Sequential(conv(1, 3, 3, padding=1), nn.ReLU(), pool(2, stride=1), nn.Flatten(),
                          nn.LazyLinear(2)).eval()
    x, base = torch.randn(3, 1, *size), torch.randn(3, 1, *size) * 0.1
    model(x)  # materialise the lazy layer
    _, delta = attr.DeepLift(model).attribute(x, base, target=0, return_convergence_delta=True)
    assert float(delta.abs().max()) < 1e-5
