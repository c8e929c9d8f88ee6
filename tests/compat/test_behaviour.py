"""Behaviour that a Captum user relies on: multiplies_by_inputs, attribute.__wrapped__,
attribute_future, grad_kwargs, progress descriptions; each against Captum 0.9 as well."""

from __future__ import annotations

import inspect

import pytest
import torch

from veracity import attr

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _net() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def _instances(lib):  # noqa: ANN001, ANN202
    """Every attribution class of ``lib`` that a model (and a layer) constructs, by name."""
    net = _net()
    found = {}
    for name in sorted(lib.__all__):
        cls = getattr(lib, name)
        if not inspect.isclass(cls) or not hasattr(cls, "attribute") or name in ("LimeBase", "DataLoaderAttribution"):
            continue
        params = list(inspect.signature(cls.__init__).parameters)[1:]
        if params[:1] == ["attribution_method"]:
            found[name] = cls(lib.Saliency(net))
        elif params[:2] in (["forward_func", "layer"], ["model", "layer"]):
            found[name] = cls(net, net[0])
        elif params[:1] in (["forward_func"], ["model"]):
            found[name] = cls(net)
    return found


def test_multiplies_by_inputs_and_convergence_delta_as_captum() -> None:
    ca = pytest.importorskip("captum.attr")
    theirs = _instances(ca)
    ours = _instances(attr)
    assert len(theirs) > 35
    for name, method in theirs.items():
        if name in ("LRP", "LayerLRP"):
            continue  # issue 18
        assert ours[name].multiplies_by_inputs == method.multiplies_by_inputs, name
        assert ours[name].has_convergence_delta() == method.has_convergence_delta(), name
    assert attr.FeatureAblation(_net()).multiplies_by_inputs and not attr.Lime(_net()).multiplies_by_inputs
    assert attr.LayerActivation(_net(), _net()[0]).multiplies_by_inputs


BASES = ("Attribution", "GradientAttribution", "PerturbationAttribution", "LayerAttribution", "NeuronAttribution")


def test_attribute_has_wrapped_with_the_signature() -> None:
    for name, method in _instances(attr).items():
        if name in BASES:
            continue
        wrapped = type(method).attribute.__wrapped__
        assert inspect.signature(wrapped) == inspect.signature(type(method).attribute), name
        assert "inputs" in inspect.signature(wrapped).parameters, name


def _future_model(model):  # noqa: ANN001, ANN202
    def forward(x: torch.Tensor) -> torch.futures.Future:
        future: torch.futures.Future = torch.futures.Future()
        future.set_result(model(x))
        return future
    return forward


@pytest.mark.parametrize("name", ["FeatureAblation", "ShapleyValueSampling", "ShapleyValues"])
def test_attribute_future_equals_attribute_and_captum(name: str) -> None:
    net, x = _net(), torch.randn(4, 3)
    kwargs = {"target": 1, "feature_mask": torch.tensor([[0, 0, 1]])}
    if name == "ShapleyValueSampling":
        kwargs["n_samples"] = 4
    future = getattr(attr, name)(_future_model(net)).attribute_future(x, **kwargs)
    assert isinstance(future, torch.futures.Future)
    plain = getattr(attr, name)(net).attribute(x, **kwargs)
    if name == "ShapleyValueSampling":  # two groups, four random orders: compare with exact values instead
        plain = attr.ShapleyValues(net).attribute(x, target=1, feature_mask=kwargs["feature_mask"])
        one_per_group = [0, 2]
        assert torch.allclose(future.wait()[:, one_per_group].sum(1), plain[:, one_per_group].sum(1), atol=1e-5)
        return
    assert torch.allclose(future.wait(), plain, atol=1e-6)
    ca = pytest.importorskip("captum.attr")
    theirs = getattr(ca, name)(_future_model(net)).attribute_future(x, **kwargs).wait()
    assert torch.allclose(future.wait(), theirs, atol=1e-5)
    with pytest.raises(NotImplementedError):
        attr.Occlusion(_future_model(net)).attribute_future(x, sliding_window_shapes=(1,))


def test_feature_permutation_attribute_future() -> None:
    net, x = _net(), torch.randn(4, 3)
    roll = lambda x, mask: torch.where(mask, x.roll(1, 0), x)  # noqa: E731
    got = attr.FeaturePermutation(_future_model(net), perm_func=roll).attribute_future(x, target=0).wait()
    assert torch.allclose(got, attr.FeaturePermutation(net, perm_func=roll).attribute(x, target=0))


@pytest.mark.parametrize("name", ["LayerIntegratedGradients", "LayerGradientXActivation", "LayerConductance",
                                  "InternalInfluence", "LayerDeepLift", "LayerGradCam", "NeuronConductance"])
def test_grad_kwargs_reach_the_gradient_call(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    net, x = _net(), torch.randn(5, 3)
    seen: list[dict] = []
    real = torch.autograd.grad

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(kwargs)
        return real(*args, **kwargs)

    args: tuple = (1,) if name.startswith("Neuron") else ()
    extra = {"method": "gausslegendre"} if name == "NeuronConductance" else {}  # its default is a correction
    plain = getattr(attr, name)(net, net[0]).attribute(x, *args, target=1, **extra)
    monkeypatch.setattr(torch.autograd, "grad", spy)
    got = getattr(attr, name)(net, net[0]).attribute(x, *args, target=1, grad_kwargs={"materialize_grads": True},
                                                           **extra)
    monkeypatch.setattr(torch.autograd, "grad", real)
    assert any(k.get("materialize_grads") for k in seen)
    assert torch.allclose(got[0] if isinstance(got, tuple) else got, plain[0] if isinstance(plain, tuple) else plain)
    ca = pytest.importorskip("captum.attr")
    theirs = getattr(ca, name)(net, net[0]).attribute(x, *args, target=1, grad_kwargs={"materialize_grads": True},
                                                           **extra)
    assert torch.allclose(got, theirs, atol=1e-5)
    with pytest.raises(ValueError, match="`grad_kwargs`"):
        getattr(attr, name)(net, net[0]).attribute(x, *args, target=1, grad_kwargs={"inputs": x})


@pytest.mark.parametrize(("name", "kwargs", "desc"), [
    ("KernelShap", {"n_samples": 8}, "Kernel Shap attribution"),
    ("Lime", {"n_samples": 8}, "Lime attribution"),
    ("FeatureAblation", {}, "Feature Ablation attribution"),
    ("ShapleyValueSampling", {"n_samples": 2}, "Shapley Value Sampling attribution"),
    ("ShapleyValues", {}, "Shapley Values attribution"),
    ("Occlusion", {"sliding_window_shapes": (1,)}, "Occlusion attribution"),
    ("FeaturePermutation", {}, "Feature Permutation attribution"),
])
def test_progress_names_the_method_as_captum(name: str, kwargs: dict, desc: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    net, x = _net(), torch.randn(3, 3)
    getattr(attr, name)(net).attribute(x, target=0, show_progress=True, **kwargs)
    ours = capsys.readouterr().err
    assert desc + ":" in ours
    ca = pytest.importorskip("captum.attr")
    getattr(ca, name)(net).attribute(x[:1] if "Shap" in name or name == "Lime" else x, target=0,
                                     show_progress=True, **kwargs)
    assert desc + ":" in capsys.readouterr().err


def test_float64_stays_float64() -> None:
    """IG's path in float64 (Captum's alphas lose precision: completeness off by ~1e-9 at
    n_steps=300) and Lime/KernelShap answers in the inputs' float64 (Captum's: float32)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1)).double()
    x = torch.randn(8, 10, dtype=torch.float64)
    _, delta = attr.IntegratedGradients(model).attribute(x, n_steps=300, return_convergence_delta=True)
    assert delta.dtype == torch.float64 and delta.abs().max() < 1e-12
    for name in ("Lime", "KernelShap"):
        assert getattr(attr, name)(model).attribute(x[:1], n_samples=10).dtype == torch.float64
    ca = pytest.importorskip("captum.attr")
    _, theirs = ca.IntegratedGradients(model).attribute(x, n_steps=300, return_convergence_delta=True)
    assert theirs.abs().max() > 1e-10
    assert ca.KernelShap(model).attribute(x[:1], n_samples=10).dtype == torch.float32
