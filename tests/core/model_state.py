"""Snapshots of a model's state, to assert that engine sessions leave it bit-identical."""

from __future__ import annotations

import torch
from torch import nn


def snapshot(model: nn.Module) -> tuple:
    """Parameter/buffer values and objects, flags, modes, grads and the module tree."""
    state = model.state_dict(keep_vars=True)
    return ({k: v.detach().clone() for k, v in state.items()}, {k: id(v) for k, v in state.items()},
            {n: p.requires_grad for n, p in model.named_parameters()},
            [m.training for m in model.modules()], [n for n, _ in model.named_modules()])


def assert_unchanged(model: nn.Module, before: tuple) -> None:
    values, ids, flags, modes, names = before
    now = model.state_dict(keep_vars=True)
    assert list(now) == list(values)
    assert all(torch.equal(now[k].detach(), v) for k, v in values.items())
    assert {k: id(v) for k, v in now.items()} == ids
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert [m.training for m in model.modules()] == modes
    assert [n for n, _ in model.named_modules()] == names
    assert all(p.grad is None for p in model.parameters())
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
        assert "forward" not in vars(m)
