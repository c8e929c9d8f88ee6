"""The `veracity.metrics` package namespace: every exported name is a real public object."""

import importlib
import sys
import types

import veracity.metrics
import veracity.metrics.evaluate  # noqa: F401  (the submodule must stay importable)


def test_every_exported_name_is_an_attribute_and_not_a_module():
    names = veracity.metrics.__all__
    assert len(names) == len(set(names)), "duplicate names in veracity.metrics.__all__"
    for name in names:
        assert hasattr(veracity.metrics, name), name
        assert not isinstance(getattr(veracity.metrics, name), types.ModuleType), name


def test_evaluate_is_the_grid_function_and_the_module_still_imports():
    module = sys.modules["veracity.metrics.evaluate"]
    assert isinstance(module, types.ModuleType)
    assert callable(veracity.metrics.evaluate)
    assert veracity.metrics.evaluate is module.evaluate
    assert importlib.import_module("veracity.metrics.evaluate") is module
    assert not hasattr(module.evaluate, "__all__")

    from veracity.metrics import evaluate
    assert evaluate is module.evaluate


def test_star_import_exports_every_public_name():
    namespace: dict = {}
    exec("from veracity.metrics import *", namespace)
    exported = set(namespace) - {"__builtins__"}
    assert exported == set(veracity.metrics.__all__)
    assert namespace["evaluate"] is sys.modules["veracity.metrics.evaluate"].evaluate
