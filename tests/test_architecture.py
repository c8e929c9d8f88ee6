"""Static checks of the house rules over ``veracity/`` (AST only: fast, nothing runs).

(a) no source file over 400 lines;
(b) private names stay in their package tree: a name or module starting with ``_`` belongs to
    the package (directory) that contains it and may be imported only from modules in that
    directory or below it. ``from veracity.attr.gradient.deeplift import _rule`` is fine inside
    ``veracity/attr/gradient/``, not in ``veracity/attr/layer/``; ``veracity.metrics._stats``
    may be imported anywhere under ``veracity/metrics/``. ``veracity._core`` is the engine
    package: its public names are for everyone (its private ones are not);
(c) only ``veracity/_core/`` differentiates or calls the model;
(d) no import cycle through module-level imports (imports inside functions are deferred and
    counted apart; ``if TYPE_CHECKING:`` imports are ignored).
Every failure lists the offending ``file:line``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
AUTOGRAD_CALLS = {"torch.autograd.grad", "torch.autograd.backward"}
MODEL_NAMES = {"forward_func", "model"}
ENGINE = "veracity._core"
# Training and demo code, not explanation code: they train or score the model they built
# themselves (the digits CNN), outside any attribution, so the engine rule does not apply.
TRAINING_CODE = frozenset({"veracity.data.digits", "veracity.demo", "veracity.text.classifier",
                           "veracity.training.saliency_guided", "veracity.causal.training",
                           "veracity.detection.training", "veracity.synthetic.training"})


@dataclass(frozen=True)
class Source:
    """A module of the package: ``path`` relative to the repository root, and its text."""

    path: str
    text: str

    @property
    def is_package(self) -> bool:
        return self.path.endswith("__init__.py")

    @property
    def module(self) -> str:
        parts = self.path[:-3].split("/")
        return ".".join(parts[:-1] if self.is_package else parts)

    @property
    def package(self) -> str:
        return self.module if self.is_package else self.module.rpartition(".")[0]

    def tree(self) -> ast.Module:
        return ast.parse(self.text, filename=self.path)


@dataclass(frozen=True)
class Import:
    """``target`` imported by ``source`` at ``line``; ``name`` is the imported attribute, if any."""

    source: Source
    line: int
    target: str
    name: str | None
    deferred: bool  # inside a function: runs at call time, not at import time


def _is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(test)


def imports(source: Source) -> list[Import]:
    """Every import of the module, relative ones resolved, ``if TYPE_CHECKING:`` blocks skipped."""
    found: list[Import] = []

    def visit(node: ast.AST, deferred: bool) -> None:
        for child in (c for c in ast.iter_child_nodes(node) if not _type_checking(c)):
            if isinstance(child, ast.Import):
                found.extend(Import(source, child.lineno, a.name, None, deferred) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = source.package.split(".")[:len(source.package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                found.extend(Import(source, child.lineno, base, a.name, deferred) for a in child.names)
            visit(child, deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(source.tree(), False)
    return found


def check_length(source: Source, limit: int = MAX_LINES) -> list[str]:
    count = len(source.text.splitlines())
    return [f"{source.path}:{count}: {count} lines (limit {limit})"] if count > limit else []


def check_private_imports(source: Source, packages: set[str]) -> list[str]:
    """Imports of a private name or module from outside the package tree that owns it."""
    problems = []
    for imp in imports(source):
        if not imp.target.startswith("veracity"):
            continue
        parts = [*imp.target.split("."), *([imp.name] if imp.name else [])]
        for i, part in enumerate(parts):
            if not _is_private(part) or (".".join(parts[:i + 1]) == ENGINE):
                continue
            prefix = ".".join(parts[:i])
            owner = prefix if prefix in packages else prefix.rpartition(".")[0]
            if source.package != owner and not source.package.startswith(owner + "."):
                problems.append(f"{source.path}:{imp.line}: imports {'.'.join(parts)} "
                                f"(private to {owner})")
            break
    return problems


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str:
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value, aliases)}.{node.attr}"
    return ""


def check_engine_only(source: Source) -> list[str]:
    """Outside ``veracity/_core``: calls of ``torch.autograd.grad`` / ``.backward`` (also through
    import aliases such as ``from torch.autograd import grad``), any ``.backward(...)``, and
    calls of the model: ``model(...)``, ``forward_func(...)``, ``self.model(...)``,
    ``self.forward_func(...)`` and their ``.forward(...)``.

    Limits: a purely syntactic rule. It misses the model under another name (``net(x)``, a local
    ``f = self.forward_func``), calls through ``getattr``, ``functools.partial`` or a helper
    outside the engine that receives the model; ``torch.func`` transforms are not checked.
    """
    if source.module == ENGINE or source.module.startswith(ENGINE + ".") or source.module in TRAINING_CODE:
        return []
    aliases = {}
    for imp in imports(source):
        if imp.name:
            aliases[imp.name] = f"{imp.target}.{imp.name}"
    for node in ast.walk(source.tree()):  # `import torch.autograd as ag` binds ag to the module
        if isinstance(node, ast.Import):
            aliases.update({a.asname: a.name for a in node.names if a.asname})
    problems: list[tuple[int, str]] = []
    for node in ast.walk(source.tree()):
        if not isinstance(node, ast.Call):
            continue
        func, name = node.func, _dotted(node.func, aliases)
        callee = func.value if isinstance(func, ast.Attribute) and func.attr == "forward" else func
        is_model = (isinstance(callee, ast.Name) and callee.id in MODEL_NAMES) or (
            isinstance(callee, ast.Attribute) and callee.attr in MODEL_NAMES
            and isinstance(callee.value, ast.Name) and callee.value.id == "self")
        if name in AUTOGRAD_CALLS or (isinstance(func, ast.Attribute) and func.attr == "backward"):
            problems.append((node.lineno, f"{ast.unparse(func)}(...) outside {ENGINE}"))
        elif is_model:
            problems.append((node.lineno, f"calls the model, {ast.unparse(func)}(...), outside {ENGINE}"))
    return [f"{source.path}:{line}: {what}" for line, what in sorted(problems)]


def import_graph(sources: list[Source], deferred: bool = False) -> dict[str, dict[str, Import]]:
    """module -> {imported veracity module -> the import}; ``from pkg import sub`` names the
    submodule when ``sub`` is one, else the package. Only module-level imports unless
    ``deferred``. Parents' ``__init__`` run implicitly on import are not edges."""
    modules = {s.module for s in sources}
    graph: dict[str, dict[str, Import]] = {s.module: {} for s in sources}
    for source in sources:
        for imp in imports(source):
            if imp.deferred and not deferred:
                continue
            target = f"{imp.target}.{imp.name}" if f"{imp.target}.{imp.name}" in modules else imp.target
            if target in modules and target != source.module:
                graph[source.module].setdefault(target, imp)
    return graph


def find_cycles(graph: dict[str, dict[str, Import]]) -> list[list[Import]]:
    """One shortest cycle per module that lies on a cycle, each cycle reported once."""
    cycles, seen = [], set()
    for start in sorted(graph):
        paths, frontier = {start: []}, [start]
        while frontier and start not in {t for m in frontier for t in graph[m]}:
            nxt = []
            for module in frontier:
                for target, imp in graph[module].items():
                    if target not in paths:
                        paths[target] = [*paths[module], imp]
                        nxt.append(target)
            frontier = nxt
        closing = [(m, graph[m][start]) for m in frontier if start in graph[m]]
        if closing:
            module, imp = closing[0]
            cycle = [*paths[module], imp]
            key = frozenset(i.source.module for i in cycle)
            if key not in seen:
                seen.add(key)
                cycles.append(cycle)
    return cycles


def _format(cycle: list[Import]) -> str:
    return " -> ".join([*(f"{i.source.module} ({i.source.path}:{i.line})" for i in cycle), cycle[0].source.module])


def _sources() -> list[Source]:
    return [Source(str(p.relative_to(ROOT)), p.read_text()) for p in sorted((ROOT / "veracity").rglob("*.py"))]


def _report(problems: list[str], what: str) -> None:
    assert not problems, f"{len(problems)} {what}:\n" + "\n".join(problems)


def test_no_file_over_the_line_limit() -> None:
    _report([p for s in _sources() for p in check_length(s)], f"files over {MAX_LINES} lines")


def test_private_names_stay_in_their_package_tree() -> None:
    sources = _sources()
    _report([p for s in sources for p in check_private_imports(s, {x.module for x in sources if x.is_package})],
            "imports of private names from another package tree")


def test_only_the_engine_differentiates_or_calls_the_model() -> None:
    _report([p for s in _sources() for p in check_engine_only(s)], f"model calls / autograd outside {ENGINE}")


def test_no_import_cycle_through_module_level_imports() -> None:
    sources = _sources()
    deferred = find_cycles(import_graph(sources, deferred=True))
    cycles = find_cycles(import_graph(sources))
    _report([_format(c) for c in cycles], f"import cycles through module-level imports ({len(deferred)} "
            "when imports inside functions, which run only at call time, are counted too)")


# The checkers on synthetic sources: each must fail when it should.

def test_check_length_flags_long_files() -> None:
    assert check_length(Source("veracity/a.py", "x = 1\n" * 3), limit=3) == []
    assert check_length(Source("veracity/a.py", "x = 1\n" * 4), limit=3) == ["veracity/a.py:4: 4 lines (limit 3)"]


@pytest.mark.parametrize(("path", "code", "bad"), [
    ("veracity/attr/layer/deeplift.py", "from veracity.attr.gradient.deeplift import _apply_custom", True),
    ("veracity/attr/gradient/guided.py", "from veracity.attr.gradient.deeplift import _apply_custom", False),
    ("veracity/attr/gradient/guided.py", "from .deeplift import _apply_custom, rule", False),
    ("veracity/attr/layer/deeplift.py", "from ..gradient.deeplift import _apply_custom", True),
    ("veracity/metrics/similarity/ssim.py", "from veracity.metrics._stats import rank", False),
    ("veracity/metrics/similarity/ssim.py", "from veracity.metrics import _stats", False),
    ("veracity/viz/grid.py", "from veracity.metrics._stats import rank", True),
    ("veracity/viz/grid.py", "import veracity.metrics._stats", True),
    ("veracity/metrics/robustness.py", "from veracity.attr._base import Attribution", True),
    ("veracity/attr/cam/combiner.py", "from veracity.attr._base import Attribution", False),
    ("veracity/metrics/robustness.py", "from veracity._core.engine import forward", False),
    ("veracity/metrics/robustness.py", "from veracity._core.engine import _chunk", True),
    ("veracity/metrics/robustness.py", "from veracity import __version__", False),
    ("veracity/metrics/robustness.py", "from torch._C import _get_tracing_state", False),
])
def test_check_private_imports(path: str, code: str, bad: bool) -> None:
    packages = {"veracity", "veracity.attr", "veracity.attr.gradient", "veracity.attr.layer",
                "veracity.attr.cam", "veracity.metrics", "veracity.metrics.similarity", "veracity._core",
                "veracity.viz"}
    problems = check_private_imports(Source(path, code), packages)
    assert bool(problems) == bad, problems
    assert all(p.startswith(f"{path}:1: ") for p in problems)


@pytest.mark.parametrize(("code", "bad"), [
    ("torch.autograd.grad(y, x)", True),
    ("from torch.autograd import grad\ngrad(y, x)", True),
    ("from torch import autograd\nautograd.backward(y)", True),
    ("import torch.autograd as ag\nag.grad(y, x)", True),
    ("loss.backward()", True),
    ("model(x)", True),
    ("self.forward_func(x, *args)", True),
    ("def f(forward_func):\n    return forward_func(x)", True),
    ("self.model.forward(x)", True),
    ("engine.forward(self.forward_func, points)", False),
    ("self.layer(x)", False),
    ("torch.autograd.functional.jacobian(f, x)", False),
])
def test_check_engine_only(code: str, bad: bool) -> None:
    problems = check_engine_only(Source("veracity/attr/gradient/x.py", code))
    assert bool(problems) == bad, problems
    assert not check_engine_only(Source("veracity/_core/engine.py", code))


def test_import_cycles_module_level_and_deferred() -> None:
    sources = [
        Source("veracity/__init__.py", ""),
        Source("veracity/a.py", "from veracity import b\nimport veracity.c"),
        Source("veracity/b.py", "from veracity.a import thing"),
        Source("veracity/c.py", "def f():\n    from . import a"),
        Source("veracity/d.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from veracity import a"),
    ]
    cycles = find_cycles(import_graph(sources))
    assert [_format(c) for c in cycles] == [
        "veracity.a (veracity/a.py:1) -> veracity.b (veracity/b.py:1) -> veracity.a"]
    assert len(find_cycles(import_graph(sources, deferred=True))) == 2  # adds a -> c -> a
