"""The `veracity.metrics` package: every exported name is a real public object, one subpackage
per category, and the layout keeps its rules (no import cycles, no private cross-package imports,
no submodule named like an exported function, small files)."""

import ast
import importlib
import sys
import types
from pathlib import Path

import pytest

import veracity.metrics
import veracity.metrics.grid

METRICS = Path(veracity.metrics.__file__).parent
CATEGORIES = ("faithfulness", "robustness", "localisation", "complexity", "axiomatic",
              "randomisation", "similarity")


def test_every_exported_name_is_an_attribute_and_not_a_module():
    names = veracity.metrics.__all__
    assert len(names) == len(set(names)), "duplicate names in veracity.metrics.__all__"
    for name in names:
        assert hasattr(veracity.metrics, name), name
        assert not isinstance(getattr(veracity.metrics, name), types.ModuleType), name


def test_evaluate_is_the_grid_function_and_no_module_is_named_evaluate():
    grid = sys.modules["veracity.metrics.grid"]
    assert callable(veracity.metrics.evaluate)
    assert veracity.metrics.evaluate is grid.evaluate
    assert not hasattr(grid.evaluate, "__all__")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("veracity.metrics.evaluate")

    from veracity.metrics import evaluate
    assert evaluate is grid.evaluate


def test_star_import_exports_every_public_name():
    namespace: dict = {}
    exec("from veracity.metrics import *", namespace)
    exported = set(namespace) - {"__builtins__"}
    assert exported == set(veracity.metrics.__all__)
    assert namespace["evaluate"] is veracity.metrics.grid.evaluate


def test_each_category_is_a_package_whose_names_reach_veracity_metrics():
    collected = []
    for category in CATEGORIES:
        package = importlib.import_module(f"veracity.metrics.{category}")
        assert hasattr(package, "__path__"), category
        for name in package.__all__:
            assert getattr(veracity.metrics, name) is getattr(package, name), name
        collected += package.__all__
    assert sorted(collected + veracity.metrics.grid.__all__) == sorted(veracity.metrics.__all__)
    for captum_name in ("infidelity", "infidelity_perturb_func_decorator", "sensitivity_max"):
        assert captum_name in veracity.metrics.__all__


def _modules() -> dict[str, Path]:
    modules = {}
    for path in METRICS.rglob("*.py"):
        parts = path.relative_to(METRICS.parent.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(path: Path, module: str) -> list[tuple[str, list[str]]]:
    """``(imported module, names)`` of every import in ``path``, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            found.append((base, [alias.name for alias in node.names]))
    return found


def test_no_import_cycles_inside_veracity_metrics():
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for base, names in _imports(path, module):
            submodules = {f"{base}.{n}" for n in names} & modules.keys()
            targets |= submodules or ({base} & modules.keys())
        graph[module] = targets - {module}
    state: dict[str, int] = {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        for target in graph[module]:
            if state.get(target) == 1:
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(target):] + [target]))
            if target not in state:
                visit(target, stack + [target])
        state[module] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


def test_no_private_name_is_imported_from_another_package():
    for module, path in _modules().items():
        for base, names in _imports(path, module):
            for name in names:
                assert not name.startswith("_"), f"{module} imports {name} from {base}"
            private = [p for p in base.split(".") if p.startswith("_")]
            if base.startswith("veracity.") and private:
                owner = base.split(".")[: base.split(".").index(private[0])]
                assert module.startswith(".".join(owner)), f"{module} imports from {base}"


def test_no_submodule_is_named_like_a_name_its_package_exports():
    for module in _modules():
        package, _, leaf = module.rpartition(".")
        exported = getattr(importlib.import_module(package), "__all__", [])
        assert leaf not in exported and leaf not in veracity.metrics.__all__, module


def test_files_stay_small():
    for path in METRICS.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path
