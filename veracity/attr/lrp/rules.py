"""Captum's LRP rule classes (``captum.attr._utils.lrp_rules``), public here.

Set one on a module as ``module.rule = GammaRule()``, as in Captum; :class:`~veracity.attr.LRP`
reads the attribute and never writes or deletes it (Captum deletes user rules after each call).
The rules keep Captum's definitions: the stabiliser is ``STABILITY_FACTOR = 1e-9`` unless given,
Gamma and Alpha1-Beta0 modify only the ``weight`` parameter (and the bias when
``set_bias_to_zero``), and the input enters unmodified (unlike Zennit's :class:`veracity.lrp.ZPlus`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from veracity._core.lrp_rules import Branch, BranchRule, Group, ParamFn

__all__ = ["PropagationRule", "EpsilonRule", "GammaRule", "Alpha1_Beta0_Rule", "IdentityRule"]


def _weight_only(change: ParamFn) -> ParamFn:
    return lambda name, p: change(name, p) if name == "weight" else p


class PropagationRule(BranchRule):
    """Base of Captum's rules: one evaluation of the module on its input, with the parameters
    :meth:`modify` gives, and the stabiliser ``STABILITY_FACTOR``.

    Example:
        >>> isinstance(EpsilonRule(), PropagationRule)
        True
    """

    STABILITY_FACTOR = 1e-9
    set_bias_to_zero = False

    def __init__(self) -> None:
        self.stabilizer = self.STABILITY_FACTOR

    def modify(self, name: str, param: Tensor) -> Tensor:
        return param

    def groups(self, module: nn.Module) -> tuple[Group, ...]:
        return (Group((Branch("x", _weight_only(self.modify), zero_bias=self.set_bias_to_zero),)),)

    def __repr__(self) -> str:
        shown = {k: v for k, v in vars(self).items() if k not in ("stabilizer", "uses_forward_graph")}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


class EpsilonRule(PropagationRule):
    """LRP-epsilon with Captum's default ``epsilon=1e-9``:
    ``R_i = x_i * sum_j w_ji R_j / (z_j + epsilon * sign(z_j))``.

    Example:
        >>> layer = torch.nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, 3.0]]))
        >>> x = torch.ones(1, 2)
        >>> EpsilonRule().backward(layer, (x,), layer(x), torch.tensor([[8.0]]))
        tensor([[2., 6.]])
    """

    uses_forward_graph = True

    def __init__(self, epsilon: float = 1e-9) -> None:
        self.epsilon = epsilon
        self.stabilizer = epsilon


class GammaRule(PropagationRule):
    """LRP-gamma as Captum has it: weights ``w + gamma * w+`` (bias zero if
    ``set_bias_to_zero``), one denominator.

    Example:
        >>> layer = torch.nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, -1.0]]))
        >>> x = torch.tensor([[3.0, 1.0]])
        >>> GammaRule(gamma=1.0).backward(layer, (x,), layer(x), torch.tensor([[5.0]]))
        tensor([[ 6., -1.]])
    """

    def __init__(self, gamma: float = 0.25, set_bias_to_zero: bool = False) -> None:
        super().__init__()
        self.gamma = gamma
        self.set_bias_to_zero = set_bias_to_zero

    def modify(self, name: str, param: Tensor) -> Tensor:
        return param + self.gamma * param.clamp(min=0)


class Alpha1_Beta0_Rule(PropagationRule):
    """Alpha1-Beta0 as Captum has it: positive weights only (bias zero if
    ``set_bias_to_zero``); the input is not split by sign.

    Example:
        >>> layer = torch.nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, -3.0]]))
        >>> x = torch.ones(1, 2)
        >>> Alpha1_Beta0_Rule().backward(layer, (x,), layer(x), torch.tensor([[5.0]]))
        tensor([[5., 0.]])
    """

    def __init__(self, set_bias_to_zero: bool = False) -> None:
        super().__init__()
        self.set_bias_to_zero = set_bias_to_zero

    def modify(self, name: str, param: Tensor) -> Tensor:
        return param.clamp(min=0)


class IdentityRule(EpsilonRule):
    """The relevance passes unchanged (modules whose input and output shapes agree).

    Example:
        >>> IdentityRule().backward(torch.nn.BatchNorm1d(2), (torch.ones(1, 2),), torch.ones(1, 2), torch.ones(1, 2))
        tensor([[1., 1.]])
    """

    uses_forward_graph = False
    passes_relevance = True

    def backward(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor, grad_output: Tensor,
                 graph: Any = None) -> Tensor:
        if len(inputs) != 1 or inputs[0].shape != grad_output.shape:
            raise TypeError(f"`rule`: IdentityRule needs a module whose input has its output's shape, got "
                            f"{type(module).__name__} with output shape {tuple(grad_output.shape)}")
        return grad_output


_ = torch
