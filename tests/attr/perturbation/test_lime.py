"""Lime, KernelShap and LimeBase: exactness, batching, seeds, solvers and surrogate interfaces."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.attr.perturbation._models import Additive, mlp
from veracity.attr import KernelShap, Lime, LimeBase
from veracity.attr.perturbation import TorchLasso, TorchLinearRegression, TorchRidge


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_kernel_shap_is_exact_on_additive_model() -> None:
    model = Additive()
    x = torch.randn(3, 2, 3, dtype=torch.float64)
    mask = torch.tensor([[[0, 0, 1], [2, 3, 3]]])
    attr = KernelShap(model).attribute(x, target=1, feature_mask=mask, n_samples=60, generator=_gen())
    terms = 2 * (model.terms(x) - model.terms(torch.zeros_like(x)))
    flat = terms.reshape(3, 6)
    groups = torch.stack([flat[:, :2].sum(1), flat[:, 2], flat[:, 3], flat[:, 4:].sum(1)], 1)
    expected = groups[:, mask.reshape(-1)].view_as(x)
    torch.testing.assert_close(attr, expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("method", [Lime, KernelShap])
def test_batch_equals_per_example_and_chunk_and_seed_invariance(method: type) -> None:
    model = mlp(5)
    x = torch.randn(4, 5, dtype=torch.float64)

    def run(inputs: torch.Tensor, ppe: int | None, seed: int = 0) -> torch.Tensor:
        return method(model).attribute(inputs, target=2, n_samples=40, perturbations_per_eval=ppe,
                                       generator=_gen(seed))

    reference = run(x, None)
    for ppe in (1, 7):
        torch.testing.assert_close(run(x, ppe), reference)
    torch.testing.assert_close(torch.cat([run(x[i:i + 1], 3) for i in range(4)]), reference)
    assert not torch.allclose(run(x, None, seed=1), reference)


def test_return_input_shape_false_gives_coefficients_per_group() -> None:
    model = Additive()
    x = torch.randn(2, 4, dtype=torch.float64)
    mask = torch.tensor([[3, 3, 8, 1]])  # groups in increasing id order: 1, 3, 8
    coefs = KernelShap(model).attribute(x, target=0, feature_mask=mask, n_samples=30, return_input_shape=False,
                                        generator=_gen())
    terms = model.terms(x) - model.terms(torch.zeros_like(x))
    expected = torch.stack([terms[:, 3], terms[:, 0] + terms[:, 1], terms[:, 2]], 1)
    torch.testing.assert_close(coefs, expected, atol=1e-6, rtol=1e-6)


def test_torch_solvers_match_scikit_learn() -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    g = _gen(0)
    x = (torch.rand(120, 7, generator=g) > 0.5).double()
    y = x @ torch.randn(7, 2, generator=g).double() + 0.1 * torch.randn(120, 2, generator=g).double()
    w = torch.rand(120, 2, generator=g).double()
    pairs = [(TorchLinearRegression(), linear_model.LinearRegression()),
             (TorchRidge(alpha=0.5), linear_model.Ridge(alpha=0.5)),
             (TorchLasso(alpha=0.01), linear_model.Lasso(alpha=0.01, tol=1e-12, max_iter=100000))]
    for ours, theirs in pairs:
        coef, intercept = ours.fit_batch(x, y.t(), w.t())
        for b in range(2):
            theirs.fit(x.numpy(), y[:, b].numpy(), sample_weight=w[:, b].numpy())
            torch.testing.assert_close(coef[b], torch.as_tensor(theirs.coef_), atol=1e-6, rtol=1e-6)
            assert abs(float(intercept[b]) - float(theirs.intercept_)) < 1e-6


def test_lasso_zeroes_small_coefficients_and_ridge_shrinks() -> None:
    x = torch.eye(4).repeat(5, 1).double()
    y = (x @ torch.tensor([3.0, 0.001, -2.0, 0.0]).double()).unsqueeze(0)
    w = torch.ones_like(y)
    lasso, _ = TorchLasso(alpha=0.05).fit_batch(x, y, w)
    assert lasso[0, 1] == 0 and lasso[0, 3] == 0 and lasso[0, 0] > 2
    ols, _ = TorchLinearRegression().fit_batch(x, y, w)
    ridge, _ = TorchRidge(alpha=5.0).fit_batch(x, y, w)
    assert ridge[0].abs().sum() < ols[0].abs().sum()


class CaptumStyleOLS:
    """A Captum-style surrogate: fit(dataloader) and representation()."""

    def fit(self, loader: Any) -> None:
        x, y, w = next(iter(loader))
        self.coef, _ = TorchLinearRegression().fit_batch(x.double(), y.double().unsqueeze(0), w.double().unsqueeze(0))

    def representation(self) -> torch.Tensor:
        return self.coef


def test_surrogate_interfaces_agree() -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    model = mlp(5)
    x = torch.randn(2, 5, dtype=torch.float64)
    results = [Lime(model, interpretable_model=surrogate).attribute(x, target=0, n_samples=50, generator=_gen())
               for surrogate in (TorchLinearRegression(), linear_model.LinearRegression(), CaptumStyleOLS())]
    for other in results[1:]:
        torch.testing.assert_close(other, results[0], atol=1e-5, rtol=1e-5)


def test_custom_perturb_and_similarity_functions() -> None:
    model = Additive()
    x = torch.randn(2, 3, dtype=torch.float64)
    calls = {"perturb": 0, "similarity": 0}
    samples = iter(torch.tensor([[1, 1, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]))

    def perturb(inputs: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        calls["perturb"] += 1
        assert kwargs["num_interp_features"] == 3
        return next(samples).unsqueeze(0)

    def similarity(original: torch.Tensor, perturbed: torch.Tensor, sample: torch.Tensor, **kwargs: Any) -> float:
        calls["similarity"] += 1
        assert original.shape == perturbed.shape == (1, 3) and sample.shape == (1, 3)
        return 1.0

    lime = Lime(model, interpretable_model=TorchLinearRegression(), similarity_func=similarity, perturb_func=perturb)
    attr = lime.attribute(x, target=0, n_samples=6)
    torch.testing.assert_close(attr, model.terms(x) - model.terms(torch.zeros_like(x)))
    assert calls == {"perturb": 6, "similarity": 12}


def test_lime_base_generic_input_space_sampling() -> None:
    model = Additive()
    x = torch.randn(1, 3, dtype=torch.float64)
    draws = iter([torch.tensor([[1.0, 0, 1]]), torch.tensor([[0.0, 1, 1]]), torch.tensor([[1.0, 1, 0]]),
                  torch.tensor([[0.0, 0, 0]]), torch.tensor([[1.0, 1, 1]])])

    def perturb(inputs: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return inputs * next(draws)  # a perturbed input, not an interpretable sample

    def to_interp(sample: torch.Tensor, inputs: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return (sample != 0).double()

    lime = LimeBase(model, TorchLinearRegression(), lambda *a, **k: 1.0, perturb, False, None, to_interp)
    coefs = lime.attribute(x, target=0, n_samples=5)
    torch.testing.assert_close(coefs, model.terms(x) - model.terms(torch.zeros_like(x)))


def test_generator_perturb_func_that_stops_early_warns() -> None:
    def perturb(inputs: torch.Tensor, **kwargs: Any) -> Any:
        yield torch.tensor([[1, 0]])
        yield torch.tensor([[0, 1]])
        yield torch.tensor([[1, 1]])

    lime = Lime(lambda t: t.sum(1), interpretable_model=TorchLinearRegression(), perturb_func=perturb)
    with pytest.warns(UserWarning, match="generator stopped"):
        attr = lime.attribute(torch.tensor([[2.0, 3.0]]), n_samples=10)
    torch.testing.assert_close(attr, torch.tensor([[2.0, 3.0]]))
