"""Every public name of Captum 0.9's ``captum.attr``, ``captum.metrics`` and ``captum.module``
exists in veracity with the same constructor and method parameters (names, order, defaults),
except the deliberate differences listed in :mod:`tests.compat.differences`.

Found by introspection of the installed captum (the ``test`` extra), so a name or keyword that
Captum has and veracity lacks fails here.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Iterator

import pytest

from tests.compat.differences import DEFAULTS, METHODS, OTHER_ISSUES

captum = pytest.importorskip("captum")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

PAIRS = (("captum.attr", "veracity.attr"), ("captum.metrics", "veracity.metrics"),
         ("captum.module", "veracity.module"), ("captum.attr.visualization", "veracity.attr.visualization"))
_EMPTY = inspect.Parameter.empty
_NAMED = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _module(dotted: str) -> Any:
    """A module by its public dotted name (``captum.attr.visualization`` is an attribute)."""
    head, _, tail = dotted.rpartition(".")
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        return getattr(_module(head), tail)


def _public_names(module_name: str) -> list[str]:
    module = _module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:  # visualization: what the module itself defines
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and getattr(v, "__module__", None) == module.__name__]
    return sorted(names)


def _cases() -> Iterator[Any]:
    for theirs, ours in PAIRS:
        for name in _public_names(theirs):
            marks = [pytest.mark.skip(reason=OTHER_ISSUES[name])] if name in OTHER_ISSUES else []
            yield pytest.param(theirs, ours, name, id=f"{theirs}.{name}", marks=marks)


def _own_methods(cls: type) -> dict[str, Callable[..., Any]]:
    """``__init__`` and the public methods Captum's class (or a captum base) defines."""
    found: dict[str, Callable[..., Any]] = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith("captum"):
            continue
        for key, value in vars(klass).items():
            if key == "__init__" or (not key.startswith("_") and callable(value)):
                found[key] = getattr(cls, key)
    return found


def _same_default(a: Any, b: Any) -> bool:
    if callable(a) and callable(b):
        return getattr(a, "__name__", None) == getattr(b, "__name__", None)
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _difference(owner: str, method: str, theirs: Callable[..., Any], ours: Callable[..., Any]) -> list[str]:
    try:
        sig_t, sig_o = inspect.signature(theirs), inspect.signature(ours)
    except (TypeError, ValueError):
        return []
    named_t = [p for p in sig_t.parameters.values() if p.kind in _NAMED and p.name != "self"]
    params_o = {p.name: p for p in sig_o.parameters.values()}
    positional_o = [p.name for p in sig_o.parameters.values()
                    if p.kind != inspect.Parameter.KEYWORD_ONLY and p.name != "self"]
    problems = []
    order_t = [p.name for p in named_t if p.kind != inspect.Parameter.KEYWORD_ONLY]
    if positional_o[:len(order_t)] != order_t:
        problems.append(f"{owner}.{method}: positional order {order_t}, ours {positional_o}")
    for p in named_t:
        mine = params_o.get(p.name)
        if mine is None:
            problems.append(f"{owner}.{method}: no parameter `{p.name}`")
            continue
        key = next((k for k in ((owner, method, p.name), ("*", method, p.name)) if k in DEFAULTS), None)
        if key is not None:
            continue
        if (p.default is _EMPTY) != (mine.default is _EMPTY) or (
                p.default is not _EMPTY and not _same_default(p.default, mine.default)):
            problems.append(f"{owner}.{method}: `{p.name}` default {p.default!r}, ours {mine.default!r}")
    extra = [p.name for p in sig_o.parameters.values() if p.kind in _NAMED and p.name != "self"
             and p.name not in sig_t.parameters and p.default is _EMPTY]
    if extra:
        problems.append(f"{owner}.{method}: extra required parameters {extra} (additions need defaults)")
    return problems


@pytest.mark.parametrize(("theirs", "ours", "name"), list(_cases()))
def test_public_name_and_signature(theirs: str, ours: str, name: str) -> None:
    reference = getattr(_module(theirs), name)
    module = _module(ours)
    assert hasattr(module, name), f"{ours} has no `{name}` (captum: {theirs}.{name})"
    mine = getattr(module, name)
    if inspect.ismodule(reference):
        assert inspect.ismodule(mine)
        return
    if inspect.isclass(reference):
        assert inspect.isclass(mine), f"{ours}.{name} is not a class"
        problems = []
        for method, theirs_fn in _own_methods(reference).items():
            if (name, method) in METHODS:
                continue
            ours_fn = getattr(mine, method, None)
            if ours_fn is None:
                problems.append(f"{name}.{method}: missing")
                continue
            problems += _difference(name, method, theirs_fn, ours_fn)
        assert not problems, "\n".join(problems)
    elif callable(reference) and inspect.isroutine(reference):
        assert callable(mine)
        problems = _difference(name, "__call__", reference, mine)
        assert not problems, "\n".join(problems)


def test_listed_differences_are_real() -> None:
    """Every deliberate difference listed still differs (no stale entries)."""
    attr = importlib.import_module("captum.attr")
    ours = importlib.import_module("veracity.attr")
    for (owner, method, param) in DEFAULTS:
        owners = _public_names("captum.attr") if owner == "*" else [owner]
        seen = False
        for name in owners:
            cls_t, cls_o = getattr(attr, name, None), getattr(ours, name, None)
            if not inspect.isclass(cls_t) or cls_o is None or not hasattr(cls_t, method):
                continue
            p_t = inspect.signature(getattr(cls_t, method)).parameters.get(param)
            p_o = inspect.signature(getattr(cls_o, method)).parameters.get(param)
            if p_t is not None and p_o is not None:
                seen = seen or not _same_default(p_t.default, p_o.default)
        assert seen, f"listed difference {owner}.{method}({param}) no longer differs"
    for (owner, method) in METHODS:
        assert hasattr(getattr(attr, owner), method), f"Captum's {owner} has no {method} any more"
        mine = getattr(getattr(ours, owner), method, None)
        if method == "attribute_future":
            with pytest.raises(NotImplementedError):
                mine(None)  # type: ignore[misc]
        else:
            assert mine is None, f"{owner}.{method} exists now: remove it from the list"
