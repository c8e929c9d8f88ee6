"""The library registry covers every public method and metric, and its entries tell the truth
about the objects they point at (signatures, packages, directions); every method has a test."""

from __future__ import annotations

import inspect

import pytest

import veracity.attr
import veracity.metrics
from tests.attr.layer.registry import CASES
from tests.axioms.registry import ALL_SPECS, FIXTURES
from veracity import registry

METHOD_NAMES = [m.name for m in registry.methods()]
METRIC_NAMES = [m.name for m in registry.metrics()]


def _parameters(function: object) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(function).parameters)


@pytest.mark.parametrize(("package", "declared", "exempt"), [
    (veracity.attr, METHOD_NAMES, registry.NON_METHODS),
    (veracity.metrics, METRIC_NAMES, registry.NON_METRICS),
], ids=["attr", "metrics"])
def test_every_public_name_is_declared_or_exempt(package: object, declared: list[str], exempt: dict) -> None:
    public = set(package.__all__)
    missing = sorted(public - set(declared) - set(exempt))
    assert not missing, f"public names of {package.__name__} with no registry entry: {missing}"
    assert not set(declared) & set(exempt), "a name is both an entry and exempt"
    stale = sorted((set(declared) | set(exempt)) - public)
    assert not stale, f"registry names not in {package.__name__}.__all__: {stale}"


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_method_entry_matches_the_class(name: str) -> None:
    entry = registry.get(name)
    assert entry.cls is getattr(veracity.attr, name)
    assert entry.cls.__module__.startswith(f"veracity.attr.{entry.family}."), entry.cls.__module__
    attribute = _parameters(entry.cls.attribute)
    chunk_args = [arg for arg in registry.CHUNK_ARGS if arg in attribute]
    assert chunk_args == ([entry.chunk_arg] if entry.chunk_arg else []), chunk_args
    assert ("generator" in attribute) == entry.stochastic
    takes_baselines = "baselines" in attribute or "layer_baselines" in attribute
    assert takes_baselines == (entry.baseline_kind != "none") or name == "NoiseTunnel"
    assert ("layer" in _parameters(entry.cls.__init__)) == entry.takes_layer
    assert ("neuron_selector" in attribute) == (entry.scope == "neuron")
    if entry.completeness:
        assert entry.baseline_kind != "none", "completeness is relative to a baseline"
    if entry.stochastic:
        assert not entry.batch_invariant, "a noise draw or permutation is shared across the batch"


_PARAMETERS_OF_NEED = {
    "model": {"model", "forward_func"}, "inputs": {"inputs"}, "attributions": {"attributions", "a"},
    "explain_func": {"explain_func", "explanation_func"}, "masks": {"masks", "tile_labels"},
    "reference": {"b"}, "other_targets": {"other_targets"}, "train_func": {"train_func", "train_labels"},
    "layer": {"layer"}, "perturb_func": {"perturb_func"},
}


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_metric_entry_matches_the_function(name: str) -> None:
    entry = registry.get(name)
    assert entry.function is getattr(veracity.metrics, name)
    parameters = _parameters(entry.function)
    for need in entry.needs:
        assert _PARAMETERS_OF_NEED[need] & set(parameters), f"{name} declares {need!r}: not in {list(parameters)}"
    required = {p for p, v in parameters.items() if v.default is inspect.Parameter.empty
                and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD) and p not in ("target", "k")}
    # `target` and required settings such as top_k_overlap's `k` are not things to supply.
    covered = set().union(*(_PARAMETERS_OF_NEED[need] for need in entry.needs))
    assert required <= covered, f"{name}: required {sorted(required - covered)} not declared in `needs`"


def test_directions_agree_with_the_evaluation_grid() -> None:
    grid = veracity.metrics.builtin_metrics()
    for entry in registry.metrics():
        if entry.name in grid and grid[entry.name].higher_is_better is not None:
            expected = "higher" if grid[entry.name].higher_is_better else "lower"
            assert entry.better == expected, entry.name


def test_every_method_has_a_test_fixture() -> None:
    covered = {spec.method for spec in ALL_SPECS} | {case.name for case in CASES}
    assert covered == set(METHOD_NAMES)
    assert set(FIXTURES) <= set(METHOD_NAMES)
    for case in CASES:
        if case.claims.completeness:
            assert case.baselines is not None, f"{case.name} claims completeness: give it baselines"


def test_queries() -> None:
    assert {m.family for m in registry.methods("perturbation")} == {"perturbation"}
    assert all(m.stochastic for m in registry.methods(deterministic=False))
    assert [m.name for m in registry.methods(scope="neuron", stochastic=True)] == ["NeuronGradientShap"]
    assert {m.category for m in registry.metrics("localisation")} == {"localisation"}
    assert len(registry.methods()) + len(registry.metrics()) == len(set(METHOD_NAMES) | set(METRIC_NAMES))
    with pytest.raises(TypeError, match="unknown filter"):
        registry.methods(colour="red")
    with pytest.raises(ValueError, match="`family`"):
        registry.methods("gradients")
    with pytest.raises(KeyError, match="IntegratedGradients"):
        registry.get("IntegratedGradient")


def test_entries_validate_their_vocabulary() -> None:
    with pytest.raises(ValueError, match="`scope`"):
        registry.MethodEntry("X", object, "gradient", "pixels")
    with pytest.raises(ValueError, match="`needs`"):
        registry.MetricEntry("y", len, "complexity", "lower", ("gpu",))
