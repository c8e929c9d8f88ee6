"""LRP rules with Zennit's names and defaults (Zennit 0.5: ``zennit.rules``).

Each rule maps the relevance at a module's output to its input; all are configurations of one
engine rule (:class:`veracity._core.lrp_rules.BranchRule`): a few evaluations of the module on
modified inputs and parameters, one denominator per group, a stabiliser
``z + eps * sign(z)`` (sign(0) = 1). ``zero_params`` names parameters set to zero in every
evaluation (e.g. ``["bias"]``). As in Zennit, a rule's parameter change (clamping, gamma)
applies to the bias too. Numbers only as stabilisers (Zennit also takes callables).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from veracity._core.lrp_rules import Branch, BranchRule, Group, PassRule, gamma_mod, negative, ones, positive, squared
from veracity._core.validate import fail

__all__ = ["Epsilon", "Gamma", "ZPlus", "AlphaBeta", "Alpha1Beta0", "Flat", "WSquare", "ZBox", "Pass", "Norm"]


def _names(zero_params: Any) -> tuple[str, ...]:
    if zero_params is None:
        return ()
    if isinstance(zero_params, str):
        return (zero_params,)
    if isinstance(zero_params, (list, tuple)) and all(isinstance(n, str) for n in zero_params):
        return tuple(zero_params)
    fail("zero_params", "a parameter name or a list of names", zero_params, TypeError)


def _setup(rule: Any, stabilizer: float, zero_params: Any, graph: bool = False) -> None:
    if isinstance(stabilizer, bool) or not isinstance(stabilizer, (int, float)) or stabilizer < 0:
        fail("stabilizer", "a number >= 0", stabilizer, TypeError)
    object.__setattr__(rule, "stabilizer", float(stabilizer))
    object.__setattr__(rule, "zero_params", _names(zero_params))
    object.__setattr__(rule, "uses_forward_graph", graph and not rule.zero_params)


@dataclass(frozen=True)
class Epsilon(BranchRule):
    """LRP-epsilon (Bach et al. 2015): ``R_i = x_i * sum_j w_ji R_j / (z_j + eps sign(z_j))``;
    ``epsilon=0`` is LRP-0 (gradient x input on ReLU networks).

    Example:
        >>> layer = torch.nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, 3.0]]))
        >>> x = torch.ones(1, 2)
        >>> Epsilon(0.0).backward(layer, (x,), layer(x), torch.tensor([[8.0]]))
        tensor([[2., 6.]])
    """

    epsilon: float = 1e-6
    zero_params: Any = None

    def __post_init__(self) -> None:
        _setup(self, self.epsilon, self.zero_params, graph=True)


@dataclass(frozen=True)
class Norm(BranchRule):
    """Relevance split in proportion to each input's contribution (epsilon with a stabiliser
    only); for sum and average pooling and the residual :class:`~veracity.lrp.Sum`. Takes
    modules with several inputs.

    Example:
        >>> pool = torch.nn.AvgPool1d(2)
        >>> x = torch.tensor([[[1.0, 3.0]]])
        >>> Norm(0.0).backward(pool, (x,), pool(x), torch.tensor([[[4.0]]]))
        tensor([[[1., 3.]]])
    """

    stabilizer: float = 1e-6

    def __post_init__(self) -> None:
        _setup(self, self.stabilizer, None, graph=True)


@dataclass(frozen=True)
class ZPlus(BranchRule):
    """z+ (alpha=1, beta=0 with negative inputs allowed): positive contributions
    ``x+ w+`` and ``x- w-`` (bias in the first only) share the relevance.

    Example:
        >>> layer = torch.nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, -3.0]]))
        >>> x = torch.ones(1, 2)
        >>> ZPlus(0.0).backward(layer, (x,), layer(x), torch.tensor([[5.0]]))
        tensor([[5., 0.]])
    """

    stabilizer: float = 1e-6
    zero_params: Any = None

    def __post_init__(self) -> None:
        _setup(self, self.stabilizer, self.zero_params)

    def groups(self, module: nn.Module) -> tuple[Group, ...]:
        return (Group((Branch("positive", positive), Branch("negative", negative, zero_bias=True))),)


@dataclass(frozen=True)
class AlphaBeta(BranchRule):
    """Alpha-beta (Bach et al. 2015): ``alpha`` times the positive contributions' share minus
    ``beta`` times the negative ones'; ``alpha - beta = 1``.

    Example:
        >>> layer = torch.nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, -3.0]]))
        >>> x = torch.ones(1, 2)
        >>> AlphaBeta(2, 1, stabilizer=0.0).backward(layer, (x,), layer(x), torch.tensor([[1.0]]))
        tensor([[ 2., -1.]])
    """

    alpha: float = 2.0
    beta: float = 1.0
    stabilizer: float = 1e-6
    zero_params: Any = None

    def __post_init__(self) -> None:
        if self.alpha < 0 or self.beta < 0 or abs(self.alpha - self.beta - 1.0) > 1e-12:
            fail("alpha", "alpha >= 0 and beta >= 0 with alpha - beta = 1", f"alpha={self.alpha}, beta={self.beta}")
        _setup(self, self.stabilizer, self.zero_params)

    def groups(self, module: nn.Module) -> tuple[Group, ...]:
        plus = Group((Branch("positive", positive), Branch("negative", negative, zero_bias=True)), self.alpha)
        if self.beta == 0:
            return (plus,)
        minus = Group((Branch("positive", negative), Branch("negative", positive, zero_bias=True)), -self.beta)
        return plus, minus


@dataclass(frozen=True)
class Alpha1Beta0(AlphaBeta):
    """:class:`AlphaBeta` with ``alpha=1, beta=0`` (equal to :class:`ZPlus`).

    Example:
        >>> Alpha1Beta0().alpha, Alpha1Beta0().beta
        (1.0, 0.0)
    """

    alpha: float = 1.0
    beta: float = 0.0


@dataclass(frozen=True)
class Gamma(BranchRule):
    """Generalised LRP-gamma (Montavon et al. 2019; Andéol et al. 2021): weights
    ``w + gamma * w+`` for outputs > 0 (``w + gamma * w-`` for outputs < 0), positive and
    negative inputs treated apart.

    Example:
        >>> layer = torch.nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, -1.0]]))
        >>> x = torch.tensor([[3.0, 1.0]])
        >>> Gamma(1.0, stabilizer=0.0).backward(layer, (x,), layer(x), torch.tensor([[5.0]]))
        tensor([[ 6., -1.]])
    """

    gamma: float = 0.25
    stabilizer: float = 1e-6
    zero_params: Any = None

    def __post_init__(self) -> None:
        _setup(self, self.stabilizer, self.zero_params)

    def groups(self, module: nn.Module) -> tuple[Group, ...]:
        up, down = gamma_mod(self.gamma, positive), gamma_mod(self.gamma, negative)
        return (Group((Branch("positive", up), Branch("negative", down, zero_bias=True)), mask="positive"),
                Group((Branch("positive", down), Branch("negative", up, zero_bias=True)), mask="negative"))


@dataclass(frozen=True)
class Flat(BranchRule):
    """Flat (Lapuschkin et al. 2019): the relevance spread evenly over each output's receptive
    field (inputs and weights set to one, no bias).

    Example:
        >>> layer = torch.nn.Linear(2, 1)
        >>> Flat(0.0).backward(layer, (torch.randn(1, 2),), torch.zeros(1, 1), torch.tensor([[4.0]]))
        tensor([[2., 2.]])
    """

    stabilizer: float = 1e-6
    zero_params: Any = None

    def __post_init__(self) -> None:
        _setup(self, self.stabilizer, self.zero_params)

    def groups(self, module: nn.Module) -> tuple[Group, ...]:
        return (Group((Branch("ones", ones, zero_bias=True),)),)


@dataclass(frozen=True)
class WSquare(BranchRule):
    """w-square (Montavon et al. 2017): relevance in proportion to ``w^2``; the input is ignored
    (every parameter squared, the bias too, as in Zennit).

    Example:
        >>> layer = torch.nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, -3.0]]))
        >>> WSquare(0.0).backward(layer, (torch.randn(1, 2),), torch.zeros(1, 1), torch.tensor([[10.0]]))
        tensor([[1., 9.]])
    """

    stabilizer: float = 1e-6
    zero_params: Any = None

    def __post_init__(self) -> None:
        _setup(self, self.stabilizer, self.zero_params)

    def groups(self, module: nn.Module) -> tuple[Group, ...]:
        return (Group((Branch("ones", squared),)),)


@dataclass(frozen=True)
class ZBox(BranchRule):
    """z^B (Montavon et al. 2017) for inputs bounded by ``low`` and ``high`` (numbers or
    tensors broadcast to the input, e.g. shape (1, 3, 1, 1) per channel):
    ``z = W x - W+ low - W- high`` (the bias's parts cancel: ``b - b+ - b-``).

    Example:
        >>> layer = torch.nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, -1.0]]))
        >>> x = torch.tensor([[1.0, 0.0]])
        >>> ZBox(0.0, 1.0, stabilizer=0.0).backward(layer, (x,), layer(x), torch.tensor([[2.0]]))
        tensor([[1., 1.]])
    """

    low: float | Tensor = 0.0
    high: float | Tensor = 1.0
    stabilizer: float = 1e-6
    zero_params: Any = None

    def __post_init__(self) -> None:
        _setup(self, self.stabilizer, self.zero_params)

    def groups(self, module: nn.Module) -> tuple[Group, ...]:
        return (Group((Branch("x"), Branch(self.low, positive, sign=-1.0), Branch(self.high, negative, sign=-1.0))),)


@dataclass(frozen=True)
class Pass(PassRule):
    """The relevance passes unchanged (activations, and BatchNorm when not merged).

    Example:
        >>> Pass().backward(torch.nn.Tanh(), (torch.zeros(2),), torch.zeros(2), torch.ones(2))
        tensor([1., 1.])
    """


_ = torch  # the examples use torch
