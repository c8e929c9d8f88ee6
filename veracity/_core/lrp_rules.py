"""The LRP rules as module-level backward rules (:class:`~veracity._core.rules.ModuleRules`).

What flows backward between modules is *relevance*. A rule maps the relevance ``R`` at a
module's output to relevance at its input. Almost every rule is one pattern (Montavon et al.
2019, "Layer-wise relevance propagation: an overview"): the module's function is evaluated on
a few modified inputs with modified parameters ("branches"), the branches of a group are summed
into a denominator ``D``, and

    R_in = sum over groups g of  w_g * sum over branches k of  s_k * x_k * J_k^T (m_g * R / stab(D_g))

with ``J_k`` the module's Jacobian on branch ``k``, ``s_k`` its sign, ``m_g`` an optional mask
on the sign of the module's output, and ``stab(z) = z + eps * sign(z)`` (sign(0) = 1). Each rule
here is one configuration of :class:`BranchRule`; the public names live in :mod:`veracity.lrp`
(Zennit's vocabulary) and :mod:`veracity.attr` (Captum's rule classes).

Epsilon-type rules with unmodified parameters (``uses_forward_graph``) reuse the graph the
module recorded in the forward pass: no second forward of the layer in the backward pass.
A branch on the negative part of an input that has none (after a ReLU), with a zero bias, is
exactly zero and is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.rules import forward_with, stabilize
from veracity._core.validate import fail

ParamFn = Callable[[str, Tensor], Tensor]


@dataclass(frozen=True)
class Branch:
    """One evaluation of the module: ``input`` is ``"x"``, ``"positive"``, ``"negative"``,
    ``"ones"`` or a number/tensor broadcast to the input's shape; ``params(name, p)`` modifies
    each parameter (None: unchanged); ``zero_bias`` sets the bias to zero; ``sign`` is the
    branch's sign in the denominator and in the sum."""

    input: Any = "x"
    params: ParamFn | None = None
    zero_bias: bool = False
    sign: float = 1.0


@dataclass(frozen=True)
class Group:
    """Branches sharing one denominator; ``weight`` scales their relevance; ``mask``
    (``"positive"`` / ``"negative"``) keeps only outputs of that sign."""

    branches: tuple[Branch, ...]
    weight: float = 1.0
    mask: str | None = None


def _branch_input(spec: Any, x: Tensor) -> Tensor:
    if isinstance(spec, str):
        if spec == "x":
            return x.detach()  # a fresh alias: every branch has a leaf of its own
        if spec == "positive":
            return x.clamp(min=0)
        if spec == "negative":
            return x.clamp(max=0)
        if spec == "ones":
            return torch.ones_like(x)
        raise ValueError(f"unknown branch input {spec!r}")
    value = torch.as_tensor(spec, dtype=x.dtype, device=x.device)
    if value.dim() == x.dim() and value.shape[0] != x.shape[0]:
        value = value[:1]  # a bound given for one example applies to every row
    return value.expand_as(x).clone()


def _parameters(module: nn.Module, branch: Branch, zero_params: tuple[str, ...]) -> dict[str, Tensor]:
    changed: dict[str, Tensor] = {}
    for name, param in module.named_parameters(recurse=False):
        value = param.detach()
        if (name == "bias" and branch.zero_bias) or name in zero_params:
            changed[name] = torch.zeros_like(value)
        elif branch.params is not None:
            changed[name] = branch.params(name, value)
    return changed


def _has_bias(module: nn.Module) -> bool:
    return getattr(module, "bias", None) is not None


class BranchRule:
    """Base of the rules: subclasses give :meth:`groups` and ``stabilizer``; rules whose one
    branch is the unmodified module set ``uses_forward_graph``.

    Example:
        >>> rule = BranchRule()  # one branch, the module itself: LRP-epsilon
        >>> rule.stabilizer = 0.0
        >>> layer = torch.nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, 3.0]]))
        >>> x = torch.ones(1, 2)
        >>> rule.backward(layer, (x,), layer(x), torch.tensor([[8.0]]))
        tensor([[2., 6.]])
    """

    stabilizer: float = 1e-6
    zero_params: tuple[str, ...] = ()
    uses_forward_graph: bool = False

    def groups(self, module: nn.Module) -> tuple[Group, ...]:
        return (Group((Branch(),)),)

    def backward(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor, grad_output: Tensor,
                 graph: tuple[tuple[Tensor, ...], Tensor] | None = None) -> Tensor | tuple[Tensor | None, ...]:
        if graph is not None:
            return self._from_graph(graph, grad_output)
        if len(inputs) != 1:
            fail("rule", f"a module with one tensor input for {type(self).__name__}",
                 f"{type(module).__name__} with {len(inputs)} inputs", TypeError)
        x = inputs[0].detach()
        has_negative: bool | None = None
        leaves: list[Tensor] = []
        outputs: list[Tensor] = []
        plan: list[tuple[Group, list[tuple[Branch, int]]]] = []
        with torch.enable_grad():
            for group in self.groups(module):
                members = []
                for branch in group.branches:
                    if branch.input == "negative" and (branch.zero_bias or not _has_bias(module)):
                        if has_negative is None:
                            has_negative = bool((x < 0).any())
                        if not has_negative:
                            continue  # exactly zero: no negative inputs and no bias
                    leaf = _branch_input(branch.input, x).requires_grad_()
                    outputs.append(forward_with(module, (leaf,), **_parameters(module, branch, self.zero_params)))
                    leaves.append(leaf)
                    members.append((branch, len(leaves) - 1))
                plan.append((group, members))
            grad_outputs: list[Tensor | None] = [None] * len(outputs)
            for group, members in plan:
                if not members:
                    continue
                denominator = sum(b.sign * outputs[i].detach() for b, i in members)
                scaled = grad_output / stabilize(denominator, self.stabilizer)  # type: ignore[arg-type]
                if group.mask is not None:
                    keep = output > 0 if group.mask == "positive" else output < 0
                    scaled = scaled * keep.to(scaled.dtype)
                for _, i in members:
                    grad_outputs[i] = scaled
            wanted = [i for i in range(len(outputs)) if grad_outputs[i] is not None]
            grads = torch.autograd.grad([outputs[i] for i in wanted], [leaves[i] for i in wanted],
                                        [grad_outputs[i] for i in wanted], allow_unused=True)
        relevance = torch.zeros_like(x)
        by_index = dict(zip(wanted, grads))
        for group, members in plan:
            for branch, i in members:
                g = by_index.get(i)
                if g is not None:
                    relevance = relevance + (group.weight * branch.sign) * leaves[i].detach() * g
        return relevance

    def _from_graph(self, graph: tuple[tuple[Tensor, ...], Tensor], grad_output: Tensor) -> tuple[Tensor | None, ...]:
        leaves, z = graph
        wanted = [t for t in leaves if t.requires_grad]
        with torch.enable_grad():
            grads = iter(torch.autograd.grad(z, wanted, grad_output / stabilize(z.detach(), self.stabilizer),
                                             retain_graph=True, allow_unused=True))
        result: list[Tensor | None] = []
        for leaf in leaves:
            g = next(grads) if leaf.requires_grad else None
            result.append(None if g is None else leaf.detach() * g)
        return tuple(result)


class PassRule:
    """The relevance passes unchanged (shape-preserving modules: activations, BatchNorm).
    On a ReLU this equals the ReLU's gradient (``passes_relevance``: the engine then leaves the
    module's backward alone).

    Example:
        >>> PassRule().backward(torch.nn.ReLU(), (torch.zeros(2),), torch.zeros(2), torch.ones(2))
        tensor([1., 1.])
    """

    passes_relevance = True

    def backward(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor,
                 grad_output: Tensor) -> Tensor:
        if len(inputs) != 1 or inputs[0].shape != grad_output.shape:
            fail("rule", "a module whose one input has its output's shape for the Pass rule",
                 f"{type(module).__name__} with input shapes {[tuple(t.shape) for t in inputs]} and output "
                 f"shape {tuple(grad_output.shape)}", TypeError)
        return grad_output


def positive(name: str, p: Tensor) -> Tensor:
    return p.clamp(min=0)


def negative(name: str, p: Tensor) -> Tensor:
    return p.clamp(max=0)


def ones(name: str, p: Tensor) -> Tensor:
    return torch.ones_like(p)


def squared(name: str, p: Tensor) -> Tensor:
    return p * p


def gamma_mod(gamma: float, part: Callable[[str, Tensor], Tensor]) -> ParamFn:
    """``p + gamma * part(p)``: the gamma rule's parameters."""
    return lambda name, p: p + gamma * part(name, p)
