"""Learnable stochastic feature gates with an L0 penalty (Captum 0.9's ``captum.module``).

A gate module multiplies each input element by the value of its gate (``mask`` maps input
elements to ``n_gates`` gates) and returns the gated input together with a regulariser: the
expected number of open gates (the probability of each gate being non-zero, summed or
averaged, times ``reg_weight``). Trained together with a model, it selects features: gates
of useless features close. In training mode the gate values are sampled per example (a
relaxation that gradients pass through); in eval mode they are their deterministic values.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from veracity._core.validate import check_choice, check_positive_int, fail

_REDUCTIONS = ("sum", "mean", "none")


class StochasticGatesBase(nn.Module):
    """Base of the gates: subclasses say how a gate value is sampled (``_sample_gate_values``),
    its deterministic value (``_get_gate_values``) and its probability of being non-zero
    (``_get_gate_active_probs``).

    ``mask``: integer gate ids ``0..n_gates-1``, one per input element (shape of one example);
    None means each element has its own gate (``n_gates`` must equal the elements per example).
    ``reg_reduction``: ``'sum'``, ``'mean'`` or ``'none'`` of the gate-active probabilities.
    """

    def __init__(self, n_gates: int, mask: Tensor | None = None, reg_weight: float = 1.0,
                 reg_reduction: str = "sum") -> None:
        super().__init__()
        check_positive_int("n_gates", n_gates)
        check_choice("reg_reduction", reg_reduction, _REDUCTIONS)
        if mask is not None:
            if not isinstance(mask, Tensor) or mask.is_floating_point() or mask.numel() == 0:
                fail("mask", "an integer tensor of gate ids", mask, TypeError)
            if int(mask.min()) < 0 or int(mask.max()) >= n_gates or int(mask.unique().numel()) != n_gates:
                fail("mask", f"every gate id 0..{n_gates - 1} used and no other",
                     f"ids {sorted(set(mask.reshape(-1).tolist()))[:8]}")
            self.register_buffer("mask", mask.detach().clone().long())
        else:
            self.mask = None
        self.n_gates = n_gates
        self.reg_weight = reg_weight
        self.reg_reduction = reg_reduction

    def forward(self, input_tensor: Tensor) -> tuple[Tensor, Tensor]:
        """``(input_tensor * gate values, regulariser)``; gates sampled per example in
        training mode, deterministic in eval mode."""
        if not isinstance(input_tensor, Tensor) or input_tensor.dim() < 1:
            fail("input_tensor", "a batch tensor (batch, ...)", input_tensor, TypeError)
        batch = input_tensor.shape[0]
        per_example = input_tensor[0].numel() if batch else math.prod(input_tensor.shape[1:])
        if self.mask is None:
            if per_example != self.n_gates:
                fail("input_tensor", f"{self.n_gates} elements per example, one per gate (no mask given)",
                     f"a tensor of shape {tuple(input_tensor.shape)}")
        elif self.mask.numel() != per_example:
            fail("input_tensor", f"examples of the mask's shape {tuple(self.mask.shape)}",
                 f"a tensor of shape {tuple(input_tensor.shape)}")
        if self.training:
            gates = self._sample_gate_values(batch)
        else:
            gates = self._get_gate_values().clamp(0, 1).expand(batch, self.n_gates)
        if self.mask is not None:
            gates = gates[:, self.mask.reshape(-1)]
        gated = input_tensor * gates.reshape(input_tensor.shape).to(input_tensor.dtype)
        probs = self._get_gate_active_probs()
        if self.reg_reduction == "sum":
            reg = probs.sum()
        elif self.reg_reduction == "mean":
            reg = probs.mean()
        else:
            reg = probs
        return gated, reg * self.reg_weight

    def get_gate_values(self, clamp: bool = True) -> Tensor:
        """The deterministic gate values ``(n_gates,)``, clamped to [0, 1] unless ``clamp=False``."""
        values = self._get_gate_values().detach()
        return values.clamp(0, 1) if clamp else values

    def get_gate_active_probs(self) -> Tensor:
        """Each gate's probability of being non-zero ``(n_gates,)``."""
        return self._get_gate_active_probs().detach()

    def _sample_gate_values(self, batch_size: int) -> Tensor:
        raise NotImplementedError

    def _get_gate_values(self) -> Tensor:
        raise NotImplementedError

    def _get_gate_active_probs(self) -> Tensor:
        raise NotImplementedError


class BinaryConcreteStochasticGates(StochasticGatesBase):
    """Hard-concrete gates (Louizos, Welling & Kingma, "Learning Sparse Neural Networks
    through L0 Regularization", ICLR 2018): a binary-concrete sample with ``temperature``,
    stretched to (``lower_bound``, ``upper_bound``) and clamped to [0, 1], so a gate is exactly
    0 or 1 with non-zero probability. Parameter: ``log_alpha_param`` (initialised N(0, 0.01)).
    Deterministic value ``sigmoid(log_alpha) * (upper - lower) + lower``; active probability
    ``sigmoid(log_alpha - temperature * log(-lower / upper))``.

    Example:
        >>> import torch
        >>> from veracity.module import BinaryConcreteStochasticGates
        >>> gates = BinaryConcreteStochasticGates(3, mask=torch.tensor([0, 1, 1, 2])).eval()
        >>> with torch.no_grad():
        ...     _ = gates.log_alpha_param.copy_(torch.tensor([-9.0, 0.0, 9.0]))
        >>> gated, reg = gates(torch.ones(1, 4))
        >>> gated.detach()
        tensor([[0.0000, 0.5000, 0.5000, 1.0000]])
    """

    def __init__(self, n_gates: int, mask: Tensor | None = None, reg_weight: float = 1.0,
                 temperature: float = 2.0 / 3, lower_bound: float = -0.1, upper_bound: float = 1.1,
                 eps: float = 1e-8, reg_reduction: str = "sum") -> None:
        super().__init__(n_gates, mask, reg_weight, reg_reduction)
        if not temperature > 0:
            fail("temperature", "a positive number", temperature)
        if not (lower_bound < 0 and upper_bound > 1):
            fail("lower_bound", "lower_bound < 0 and upper_bound > 1 (the stretch around [0, 1])",
                 f"({lower_bound}, {upper_bound})")
        self.temperature, self.lower_bound, self.upper_bound, self.eps = temperature, lower_bound, upper_bound, eps
        self.log_alpha_param = nn.Parameter(torch.empty(n_gates).normal_(0.0, 0.01))
        self.active_prob_offset = temperature * math.log(-lower_bound / upper_bound)

    def _stretch(self, s: Tensor) -> Tensor:
        return s * (self.upper_bound - self.lower_bound) + self.lower_bound

    def _sample_gate_values(self, batch_size: int) -> Tensor:
        u = torch.empty(batch_size, self.n_gates, device=self.log_alpha_param.device).uniform_(
            self.eps, 1 - self.eps)
        s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + self.log_alpha_param) / self.temperature)
        return self._stretch(s).clamp(0, 1)

    def _get_gate_values(self) -> Tensor:
        return self._stretch(torch.sigmoid(self.log_alpha_param))

    def _get_gate_active_probs(self) -> Tensor:
        return torch.sigmoid(self.log_alpha_param - self.active_prob_offset)

    @classmethod
    def _from_pretrained(cls, log_alpha_param: Tensor, *args: Any, **kwargs: Any) -> "BinaryConcreteStochasticGates":
        gates = cls(log_alpha_param.numel(), *args, **kwargs)
        with torch.no_grad():
            gates.log_alpha_param.copy_(log_alpha_param.reshape(-1))
        return gates


class GaussianStochasticGates(StochasticGatesBase):
    """Gaussian gates (Yamada et al., "Feature Selection using Stochastic Gates", ICML 2020):
    ``clamp(mu + std * N(0, 1), 0, 1)``. Parameter ``mu`` (initialised N(0.5, 0.01));
    deterministic value ``mu``; active probability ``Phi(mu / std)``.

    Example:
        >>> import torch
        >>> from veracity.module import GaussianStochasticGates
        >>> gates = GaussianStochasticGates(2, std=0.5, reg_reduction="none")
        >>> with torch.no_grad():
        ...     _ = gates.mu.copy_(torch.tensor([0.0, 0.5]))
        >>> gates.get_gate_active_probs()
        tensor([0.5000, 0.8413])
    """

    def __init__(self, n_gates: int, mask: Tensor | None = None, reg_weight: float = 1.0, std: float = 0.5,
                 reg_reduction: str = "sum") -> None:
        super().__init__(n_gates, mask, reg_weight, reg_reduction)
        if not std > 0:
            fail("std", "a positive number", std)
        self.std = std
        self.mu = nn.Parameter(torch.empty(n_gates).normal_(0.5, 0.01))

    def _sample_gate_values(self, batch_size: int) -> Tensor:
        noise = torch.randn(batch_size, self.n_gates, device=self.mu.device) * self.std
        return (self.mu + noise).clamp(0, 1)

    def _get_gate_values(self) -> Tensor:
        return self.mu

    def _get_gate_active_probs(self) -> Tensor:
        return 0.5 * (1 + torch.erf(self.mu / (self.std * math.sqrt(2))))

    @classmethod
    def _from_pretrained(cls, mu: Tensor, *args: Any, **kwargs: Any) -> "GaussianStochasticGates":
        gates = cls(mu.numel(), *args, **kwargs)
        with torch.no_grad():
            gates.mu.copy_(mu.reshape(-1))
        return gates
