"""Every layer/neuron/CAM class: batch == per example, hooks removed (also on errors), model and
inputs untouched, clear errors for a layer never called, a reused module, a bad selector."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from tests.attr.layer.registry import CASES, NEURON, Case
from tests.conftest import SmallCNN
from veracity import attr


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
               for m in model.modules())


def _tensors(result: object) -> list[torch.Tensor]:
    if isinstance(result, torch.Tensor):
        return [result]
    return [t for item in result for t in _tensors(item)]


@pytest.mark.parametrize("case", [c for c in CASES if c.per_example], ids=lambda c: c.name)
def test_batch_equals_per_example(case: Case) -> None:
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    method = case.make(model)
    batched = _tensors(case.call(method, x))
    for i in range(3):
        single = _tensors(case.call(method, x[i:i + 1]))
        for b, s in zip(batched, single):
            assert torch.allclose(b[i:i + 1], s, atol=1e-5, rtol=1e-4), case.name


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_model_inputs_untouched_and_hooks_removed(case: Case) -> None:
    model = SmallCNN().eval()
    before = copy.deepcopy(model.state_dict())
    x = torch.randn(3, 1, 8, 8)
    x_before = x.clone()
    case.call(case.make(model), x)
    assert torch.equal(x, x_before) and not x.requires_grad
    assert not model.training and _no_hooks(model)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert torch.is_grad_enabled()


@pytest.mark.parametrize("case", [c for c in CASES if c.claims.completeness], ids=lambda c: c.name)
def test_completeness_through_the_layer(case: Case) -> None:
    """Layer scope: the layer's attributions sum to F(x) - F(baseline); neuron scope: the input
    attributions sum to the neuron's difference. Baselines from the fixture (its mean for a
    distribution)."""
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    baselines = case.baselines(x)
    extra = {"n_steps": 300} if case.claims.chunk_arg == "internal_batch_size" and "Shap" not in case.name else {}
    total = sum(t.flatten(1).sum(1) for t in _tensors(case.call(case.make(model), x, baselines=baselines,
                                                                 **extra)))

    def explained(v: torch.Tensor) -> torch.Tensor:
        if case.claims.scope == "neuron":
            return attr.LayerActivation(model, model.conv2).attribute(v)[(slice(None), *NEURON)]
        return model(v)[:, 1]

    with torch.no_grad():
        reference = explained(baselines)
        expected = explained(x) - (reference.mean() if case.claims.baseline_kind == "distribution" else reference)
    tolerance = 1e-4 if "DeepLift" in case.name else 2e-3 * max(1.0, float(expected.abs().max()))
    assert torch.allclose(total, expected, atol=tolerance), (total, expected)


@pytest.mark.parametrize("case", [c for c in CASES if c.claims.chunk_arg], ids=lambda c: c.name)
def test_any_chunk_size_gives_the_same_result(case: Case) -> None:
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    reference = _tensors(case.call(case.make(model), x))
    for size in (1, 3, 7, 10_000):
        result = _tensors(case.call(case.make(model), x, **{case.claims.chunk_arg: size}))
        for r, ref in zip(result, reference):
            torch.testing.assert_close(r, ref, atol=1e-5, rtol=1e-4)


class _Explodes(SmallCNN):
    """Raises after its layers ran: hooks must still be removed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        super().forward(x)
        raise RuntimeError("boom")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hooks_removed_after_the_model_raises(case: Case) -> None:
    model = _Explodes().eval()
    with pytest.raises(RuntimeError, match="boom"):
        case.call(case.make(model), torch.randn(3, 1, 8, 8))
    assert _no_hooks(model) and torch.is_grad_enabled()


class _Reuses(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Linear(4, 4)
        self.unused = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.shared(torch.tanh(self.shared(x))))


@pytest.mark.parametrize("make", [
    lambda m, layer: attr.LayerIntegratedGradients(m, layer).attribute(torch.randn(2, 4), target=0, n_steps=4),
    lambda m, layer: attr.LayerConductance(m, layer).attribute(torch.randn(2, 4), target=0, n_steps=4),
    lambda m, layer: attr.LayerActivation(m, layer).attribute(torch.randn(2, 4)),
    lambda m, layer: attr.NeuronGradient(m, layer).attribute(torch.randn(2, 4), 1),
    lambda m, layer: attr.LayerFeatureAblation(m, layer).attribute(torch.randn(2, 4), target=0),
])
def test_reused_and_unused_layers_are_named(make: object) -> None:
    model = _Reuses().eval()
    with pytest.raises(ValueError, match=r"`layer`.*'shared' \(Linear\), called 2 times"):
        make(model, model.shared)
    with pytest.raises(ValueError, match=r"`layer`.*'unused' \(Linear\).*never called"):
        make(model, model.unused)
    assert _no_hooks(model)


def test_bad_layer_and_selector() -> None:
    model = SmallCNN().eval()
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(TypeError, match="`layer`"):
        attr.LayerConductance(model, "conv2")
    with pytest.raises(TypeError, match="`layer`"):
        attr.LayerConductance(model, [model.conv1, model.conv2])
    with pytest.raises(TypeError, match="`neuron_selector`"):
        attr.NeuronGradient(model, model.conv2).attribute(x, 1.5)
    with pytest.raises(IndexError, match="`neuron_selector`"):
        attr.NeuronGradient(model, model.conv2).attribute(x, (6, 0, 0))
    with pytest.raises(ValueError, match="`neuron_selector`"):
        attr.NeuronIntegratedGradients(model, model.conv2).attribute(x, (1, 0, 0, 0))
    with pytest.raises(TypeError, match="`neuron_selector`"):
        attr.NeuronGradient(model, model.conv2).attribute(x, lambda h: h.sum())
    with pytest.raises(ValueError, match="`grad_kwargs`"):
        attr.LayerGradCam(model, model.conv2).attribute(x, target=0, grad_kwargs={"grad_outputs": None})
    with pytest.raises(ValueError, match="`method`"):
        attr.LayerIntegratedGradients(model, model.conv2).attribute(x, target=0, method="simpson")
    with pytest.raises(ValueError, match="`score`"):
        attr.LayerScoreCam(model, model.conv2).attribute(x, target=0, score="logit")
    assert _no_hooks(model)


def test_functional_ops_and_inplace_relu_after_the_layer() -> None:
    """LayerActivation keeps the pre-ReLU values even when an in-place ReLU follows."""
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(inplace=True), nn.Linear(6, 2)).eval()
    x = torch.randn(5, 4)
    expected = model[0](x)
    assert torch.equal(attr.LayerActivation(model, model[0]).attribute(x), expected)
    grads = attr.LayerGradientXActivation(model, model[0], multiply_by_inputs=False).attribute(x, target=1)
    assert torch.allclose(grads, model[2].weight[1] * (expected > 0))
