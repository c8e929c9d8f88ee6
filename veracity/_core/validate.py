"""Argument checks with one message style: "`name`: expected ..., got ..."."""

from __future__ import annotations

from typing import Any, NoReturn

import torch


def describe(value: Any) -> str:
    """A short description of a value for error messages."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, (tuple, list)):
        kind = type(value).__name__
        shown = ", ".join(describe(v) for v in value[:4]) + (", ..." if len(value) > 4 else "")
        return f"a {kind} of {len(value)} ({shown})"
    if value is None:
        return "None"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def fail(name: str, expected: str, got: Any, error: type[Exception] = ValueError) -> NoReturn:
    """Raise ``error`` naming the argument, what it should be and what it was."""
    got_text = got if isinstance(got, str) else describe(got)
    raise error(f"`{name}`: expected {expected}, got {got_text}")


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        fail(name, f"an integer >= {minimum}", value, TypeError)
    if value < minimum:
        fail(name, f"an integer >= {minimum}", str(value))
    return value


def check_optional_positive_int(name: str, value: Any) -> int | None:
    return None if value is None else check_positive_int(name, value)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        fail(name, "one of " + ", ".join(repr(c) for c in choices), repr(value))
    return value


def check_non_negative(name: str, value: Any) -> None:
    values = value if isinstance(value, (tuple, list)) else (value,)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            fail(name, "a non-negative number or a tuple of them", value)


_GRAD_OPTIONS = ("retain_graph", "create_graph", "allow_unused", "materialize_grads")


def check_grad_kwargs(grad_kwargs: Any) -> dict[str, Any] | None:
    """Captum's ``grad_kwargs``: extra keyword arguments of ``torch.autograd.grad``, passed to
    every gradient call the engine makes for this call (one per chunk). The engine chooses
    what is differentiated and against what, so ``outputs``, ``inputs``, ``grad_outputs`` and
    ``is_grads_batched`` are refused.

    Example:
        >>> check_grad_kwargs({"materialize_grads": True})
        {'materialize_grads': True}
    """
    if grad_kwargs is None:
        return None
    if not isinstance(grad_kwargs, dict):
        fail("grad_kwargs", "a dict of torch.autograd.grad keyword arguments or None", grad_kwargs, TypeError)
    unknown = sorted(set(grad_kwargs) - set(_GRAD_OPTIONS))
    if unknown:
        fail("grad_kwargs", "keys among " + ", ".join(_GRAD_OPTIONS) + " (the engine sets outputs, inputs and "
             "grad_outputs itself)", ", ".join(map(str, unknown)))
    return dict(grad_kwargs) or None
