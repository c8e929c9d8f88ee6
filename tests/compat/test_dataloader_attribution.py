"""DataLoaderAttribution and ProductBaselines: closed forms and parity with Captum 0.9."""

from __future__ import annotations

import random

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from veracity.attr import DataLoaderAttribution, FeatureAblation, Occlusion, ProductBaselines

W = torch.tensor([1.0, -2.0, 3.0])


def _linear(x: torch.Tensor) -> torch.Tensor:
    return x @ W


def _two_inputs(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x @ W + 0.5 * y.sum(1)


def _total(accum, output, batch):  # noqa: ANN001, ANN201
    return output.sum() + (0 if accum is None else accum)


def _data(n: int = 11) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, generator=g), torch.randn(n, 2, generator=g), torch.randint(0, 2, (n,), generator=g)


def test_closed_form_on_a_linear_model_with_uneven_batches() -> None:
    """Ablating feature f changes the summed output by sum_i x_if * w_f - n * b_f * w_f."""
    x, _, labels = _data()
    loader = DataLoader(TensorDataset(x, labels), batch_size=4)  # batches of 4, 4, 3
    baseline = torch.tensor([[0.5, -1.0, 2.0]])
    method = DataLoaderAttribution(FeatureAblation(_linear))
    for per_pass in (None, 1, 2):
        attr = method.attribute(loader, input_roles=(0, 2), baselines=baseline, reduce=_total,
                                perturbations_per_pass=per_pass)
        assert isinstance(attr, tuple) and attr[0].shape == (1, 3)
        assert torch.allclose(attr[0][0], ((x - baseline) * W).sum(0), atol=1e-5)
    grouped = method.attribute(loader, input_roles=(0, 2), feature_mask=torch.tensor([[0, 0, 1]]), reduce=_total,
                               return_input_shape=False)
    sums = (x * W).sum(0)
    assert torch.allclose(grouped, torch.stack([sums[:2].sum(), sums[2]]).unsqueeze(0), atol=1e-5)
    # default reduce: outputs concatenated, one metric entry per example
    per_example = method.attribute(DataLoader(x, batch_size=5))
    assert isinstance(per_example, torch.Tensor) and torch.allclose(per_example, x * W, atol=1e-6)


def _captum_cases():  # noqa: ANN202
    x, y, labels = _data()
    count_positive = lambda accum, output, batch: (  # noqa: E731
        torch.stack([output.sum(), (output > 0).float().sum()]) + (0 if accum is None else accum))
    return [
        (_linear, DataLoader(TensorDataset(x, labels), batch_size=4), {"input_roles": (0, 2)}),
        (_linear, DataLoader(TensorDataset(x, labels), batch_size=4),
         {"input_roles": (0, 2), "feature_mask": torch.tensor([[0, 0, 1]]), "reduce": count_positive}),
        (_linear, DataLoader(TensorDataset(x, labels), batch_size=3),
         {"input_roles": (0, 2), "reduce": _total, "to_metric": lambda a: 2 * a, "baselines": torch.ones(1, 3),
          "return_input_shape": False}),
        (_two_inputs, DataLoader(TensorDataset(x, y), batch_size=4), {"input_roles": (0, 1), "reduce": _total}),
        (_two_inputs, DataLoader(TensorDataset(x, y), batch_size=4),
         {"reduce": _total, "feature_mask": (torch.tensor([[0, 1, 2]]), torch.tensor([[0, 3]]))}),
        (_two_inputs, DataLoader(TensorDataset(x, y), batch_size=5), {"reduce": _total, "return_input_shape": False}),
    ]


@pytest.mark.parametrize("case", range(6))
def test_parity_with_captum(case: int) -> None:
    ca = pytest.importorskip("captum.attr")
    model, loader, kwargs = _captum_cases()[case]
    ours = DataLoaderAttribution(FeatureAblation(model)).attribute(loader, **kwargs)
    theirs = ca.DataLoaderAttribution(ca.FeatureAblation(model)).attribute(loader, **kwargs)
    assert type(ours) is type(theirs)
    for a, b in zip(ours if isinstance(ours, tuple) else (ours,), theirs if isinstance(theirs, tuple) else (theirs,)):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)


def test_bare_tensor_batches_are_one_input() -> None:
    """A DataLoader over a bare tensor yields tensors, not tuples: one attributed input. Ours
    equals the closed form; Captum 0.9 gives other numbers (it takes the batch apart)."""
    x, _, _ = _data()
    loader = DataLoader(x, batch_size=4)
    expected = (x * W).sum(0, keepdim=True)
    ours = DataLoaderAttribution(FeatureAblation(_linear)).attribute(loader, reduce=_total)
    assert isinstance(ours, torch.Tensor) and torch.allclose(ours, expected, atol=1e-5)
    ca = pytest.importorskip("captum.attr")
    theirs = ca.DataLoaderAttribution(ca.FeatureAblation(_linear)).attribute(loader, reduce=_total)
    assert (theirs - expected).abs().max() > 1.0


def test_bad_arguments_are_named() -> None:
    x, _, labels = _data()
    loader = DataLoader(TensorDataset(x, labels), batch_size=4)
    with pytest.raises(TypeError, match="`attr_method`"):
        DataLoaderAttribution(Occlusion(_linear))
    method = DataLoaderAttribution(FeatureAblation(_linear))
    with pytest.raises(ValueError, match="`input_roles`"):
        method.attribute(loader, input_roles=(0,))
    with pytest.raises(ValueError, match="`feature_mask`"):
        method.attribute(loader, input_roles=(0, 2), feature_mask=torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="`perturbations_per_pass`"):
        method.attribute(loader, input_roles=(0, 2), perturbations_per_pass=0)


def test_product_baselines_parity_and_seed() -> None:
    ca = pytest.importorskip("captum.attr")
    options = {"a": [1, 2, 3], ("b", "c"): [(4, 5), (6, 7)]}
    random.seed(3)
    theirs = [ca.ProductBaselines(options)() for _ in range(20)]
    random.seed(3)
    ours = [ProductBaselines(options)() for _ in range(20)]
    assert ours == theirs
    random.seed(4)
    assert [ProductBaselines([[1, 2], [3, 4, 5]]).sample() for _ in range(9)] == (
        random.seed(4) or [ca.ProductBaselines([[1, 2], [3, 4, 5]]).sample() for _ in range(9)])
    seeded = [ProductBaselines(options, seed=1)() for _ in range(2)]
    assert seeded[0] == seeded[1]
    with pytest.raises(TypeError, match="`baseline_values`"):
        ProductBaselines({("b", "c"): [4, 5]})
