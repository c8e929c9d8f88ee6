"""Sampling distributions and sample weights of Lime and KernelShap, batched.

Each object is usable the Captum way (called once per sample, with Captum's arguments) and
has a batched form (``draw`` / ``batch``) that Lime uses to treat all samples at once.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from veracity._core.validate import check_choice, fail


def _flat(value: Tensor | tuple[Tensor, ...]) -> Tensor:
    parts = value if isinstance(value, tuple) else (value,)
    return torch.cat([p.reshape(-1) for p in parts]).double()


class ExpKernelSimilarity:
    """exp(-d^2 / (2 width^2)) of the cosine or Euclidean distance between the flattened
    original and perturbed inputs: LIME's default sample weight (Ribeiro et al. 2016).

    Example:
        >>> import torch
        >>> kernel = ExpKernelSimilarity("euclidean", kernel_width=1.0)
        >>> round(kernel(torch.zeros(1, 2), torch.ones(1, 2), None), 4)
        0.3679
    """

    def __init__(self, distance_mode: str = "cosine", kernel_width: float = 1.0) -> None:
        check_choice("distance_mode", distance_mode, ("cosine", "euclidean"))
        if not isinstance(kernel_width, (int, float)) or kernel_width <= 0:
            fail("kernel_width", "a positive number", kernel_width)
        self.distance_mode, self.kernel_width = distance_mode, float(kernel_width)

    def _weight(self, original: Tensor, perturbed: Tensor) -> Tensor:
        if self.distance_mode == "cosine":
            distance = 1 - torch.nn.functional.cosine_similarity(original, perturbed, dim=-1)
        else:
            distance = (original - perturbed).norm(dim=-1)
        return torch.exp(-(distance**2) / (2 * self.kernel_width**2))

    def __call__(self, original_inp: Any, perturbed_inp: Any, interpretable_sample: Any, **kwargs: Any) -> float:
        return float(self._weight(_flat(original_inp), _flat(perturbed_inp)))

    def batch(self, original: Tensor, perturbed: Tensor, presence: Tensor) -> Tensor:
        """``original`` ``(batch, D)``, ``perturbed`` ``(k, batch, D)`` -> weights ``(k, batch)``."""
        return self._weight(original.double().unsqueeze(0), perturbed.double())


def get_exp_kernel_similarity_function(distance_mode: str = "cosine", kernel_width: float = 1.0) -> ExpKernelSimilarity:
    """Captum's constructor name for :class:`ExpKernelSimilarity`.

    Example:
        >>> get_exp_kernel_similarity_function("cosine", 0.5).kernel_width
        0.5
    """
    return ExpKernelSimilarity(distance_mode, kernel_width)


class ShapleyKernelWeight:
    """KernelShap's sample weights: ``inf_weight`` for the empty and the full coalition
    (which pins the fit to F(baseline) and F(x)), 1 for every other sample (the Shapley
    kernel is in the sampling distribution, :class:`KernelShapSampler`).

    Example:
        >>> import torch
        >>> ShapleyKernelWeight().batch(None, None, torch.tensor([[True, True], [True, False]])).tolist()
        [1000000.0, 1.0]
    """

    def __init__(self, inf_weight: float = 1_000_000.0) -> None:
        self.inf_weight = inf_weight

    def __call__(self, original_inp: Any, perturbed_inp: Any, interpretable_sample: Tensor, **kwargs: Any) -> float:
        return float(self.batch(None, None, interpretable_sample.reshape(1, -1).bool())[0])

    def batch(self, original: Any, perturbed: Any, presence: Tensor) -> Tensor:
        count = presence.sum(-1)
        ends = (count == 0) | (count == presence.shape[-1])
        return torch.where(ends, self.inf_weight, 1.0).double()


class BernoulliSampler:
    """Each feature present with probability ``p`` independently: LIME's default sampler.

    Example:
        >>> import torch
        >>> BernoulliSampler().draw(3, 4, torch.Generator().manual_seed(0), torch.device("cpu")).shape
        torch.Size([3, 4])
    """

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, original_inp: Any, num_interp_features: int, **kwargs: Any) -> Tensor:
        """One sample ``(1, num_interp_features)``, Captum's ``perturb_func`` protocol."""
        return self.draw(1, num_interp_features, None, torch.device("cpu")).long()

    def draw(self, n_samples: int, n_features: int, generator: torch.Generator | None,
             device: torch.device) -> Tensor:
        return (torch.rand(n_samples, n_features, generator=generator) < self.p).to(device)


class KernelShapSampler:
    """The full and the empty coalition first, then coalitions whose size k is drawn with
    probability proportional to (M - 1) / (k (M - k)) and whose members are uniform given k,
    so that sampling realises the Shapley kernel (Lundberg & Lee 2017).

    Example:
        >>> import torch
        >>> z = KernelShapSampler().draw(5, 4, torch.Generator().manual_seed(0), torch.device("cpu"))
        >>> z[:2].sum(1).tolist(), bool(((z[2:].sum(1) > 0) & (z[2:].sum(1) < 4)).all())
        ([4, 0], True)
    """

    def __call__(self, original_inp: Any, num_interp_features: int, **kwargs: Any) -> Tensor:
        """One coalition other than the full and the empty one, ``(1, num_interp_features)``."""
        return self.draw(3, num_interp_features, None, torch.device("cpu"))[2:].long()

    def draw(self, n_samples: int, n_features: int, generator: torch.Generator | None,
             device: torch.device) -> Tensor:
        ends = torch.tensor([[True] * n_features, [False] * n_features])
        rest = n_samples - 2
        if rest <= 0 or n_features < 2:
            repeats = math.ceil(n_samples / 2)
            return ends.repeat(repeats, 1)[:n_samples].to(device)
        k = torch.arange(1, n_features, dtype=torch.float64)
        probs = (n_features - 1) / (k * (n_features - k))
        sizes = torch.multinomial(probs, rest, replacement=True, generator=generator) + 1
        ranks = torch.rand(rest, n_features, generator=generator).argsort(1).argsort(1)
        return torch.cat([ends, ranks < sizes.unsqueeze(1)]).to(device)
