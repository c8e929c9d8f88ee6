"""Batch == per example, chunk-size invariance, tuple inputs with per-input baselines."""

from __future__ import annotations

import pytest
import torch

import veracity
from tests.axioms.registry import ALL_SPECS, Spec
from tests.conftest import SmallCNN, TwoInputModel
from veracity import attr


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.batch_invariant], ids=lambda s: s.name)
def test_batch_equals_each_example_alone(spec: Spec) -> None:
    model = SmallCNN().eval()
    x = torch.randn(5, 1, 8, 8)
    targets = torch.tensor([0, 1, 2, 3, 1])
    batched = spec.make(model).attribute(x, target=targets, **spec.kwargs(x))
    for i in range(5):
        kwargs = spec.kwargs(x)
        per_example = kwargs.get("baselines")
        if spec.baseline_kind == "single" and isinstance(per_example, torch.Tensor) and per_example.dim():
            kwargs["baselines"] = per_example[i:i + 1]
        alone = spec.make(model).attribute(x[i:i + 1], target=int(targets[i]), **kwargs)
        torch.testing.assert_close(batched[i:i + 1], alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.chunk_arg], ids=lambda s: s.name)
def test_any_chunk_size_gives_the_same_result(spec: Spec) -> None:
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    reference = spec.make(model).attribute(x, target=2, **spec.kwargs(x))
    for size in (1, 3, 7, 10_000):
        result = spec.make(model).attribute(x, target=2, **{spec.chunk_arg: size}, **spec.kwargs(x))
        torch.testing.assert_close(result, reference, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.chunk_arg], ids=lambda s: s.name)
def test_memory_budget_does_not_change_results(spec: Spec) -> None:
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    reference = spec.make(model).attribute(x, target=1, **spec.kwargs(x))
    try:
        veracity.set_memory_budget(1)  # one point per model call
        tiny = spec.make(model).attribute(x, target=1, **spec.kwargs(x))
    finally:
        veracity.set_memory_budget(None)
    torch.testing.assert_close(tiny, reference, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.stochastic], ids=lambda s: s.name)
def test_same_seed_same_result(spec: Spec) -> None:
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    first = spec.make(model).attribute(x, target=0, **spec.kwargs(x))
    second = spec.make(model).attribute(x, target=0, **spec.kwargs(x))
    assert torch.equal(first, second)
    kwargs = spec.kwargs(x)
    kwargs["generator"] = torch.Generator().manual_seed(999)
    assert not torch.equal(first, spec.make(model).attribute(x, target=0, **kwargs))


def test_tuple_inputs_with_per_input_baselines_and_extra_args() -> None:
    model = TwoInputModel().eval()
    x1, x2 = torch.randn(4, 4), torch.randn(4, 5)
    b1, b2 = torch.full((1, 4), 0.2), 0.5
    scale = torch.rand(4, 1) + 0.5
    ig = attr.IntegratedGradients(model)
    (a1, a2), delta = ig.attribute((x1, x2), (b1, b2), target=1, additional_forward_args=(scale,),
                                   n_steps=100, return_convergence_delta=True)
    assert a1.shape == x1.shape and a2.shape == x2.shape
    with torch.no_grad():
        expected = model(x1, x2, scale)[:, 1] - model(b1.expand_as(x1), torch.full_like(x2, 0.5), scale)[:, 1]
    torch.testing.assert_close(a1.sum(1) + a2.sum(1), expected, atol=1e-4, rtol=1e-4)
    assert float(delta.abs().max()) < 1e-4
    dl = attr.DeepLift(model).attribute((x1, x2), (b1, b2), target=1, additional_forward_args=scale)
    assert isinstance(dl, tuple) and len(dl) == 2


def test_list_and_tuple_targets() -> None:
    model = torch.nn.Conv2d(1, 3, 3).eval()  # output (batch, 3, 6, 6): tuple targets index it
    x = torch.randn(2, 1, 8, 8)
    result = attr.Saliency(model).attribute(x, target=[(0, 1, 1), (2, 3, 4)], abs=False)
    first = attr.Saliency(model).attribute(x[:1], target=(0, 1, 1), abs=False)
    torch.testing.assert_close(result[:1], first)
