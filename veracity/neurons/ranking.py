"""Neuron rankings: by probe weight mass (Dalvi et al. 2019), hard threshold, bottom, probeless
(Antverg & Belinkov 2022: class-mean differences), random. Neurons are column indices."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from veracity._core.validate import fail
from veracity.neurons.probe import LinearProbe


def _weights(probe: Any) -> Tensor:
    weight = probe.weight if isinstance(probe, LinearProbe) else probe
    if not isinstance(weight, Tensor) or weight.dim() != 2:
        fail("probe", "a LinearProbe or a (classes, neurons) weight tensor", probe, TypeError)
    return weight.detach().abs().cpu().double()


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        fail(name, "a number in [0, 1]", repr(value))


def _prefix(sorted_mass: Tensor, percentage: float) -> int:
    """Length of the shortest prefix whose cumulative mass reaches ``percentage`` of the total."""
    cumulative = sorted_mass.cumsum(0)
    reached = (cumulative >= percentage * cumulative[-1] - 1e-12 * cumulative[-1]).nonzero()
    return int(reached[0]) + 1 if len(reached) else sorted_mass.numel()


def _union(per_class: dict[int, Tensor], weights: Tensor) -> Tensor:
    chosen = torch.unique(torch.cat(list(per_class.values()))) if per_class else torch.zeros(0, dtype=torch.long)
    # strongest first: by the largest |w| over classes
    return chosen[weights[:, chosen].max(0).values.argsort(descending=True, stable=True)]


def top_neurons(probe: Any, percentage: float) -> tuple[Tensor, dict[int, Tensor]]:
    """Per class (row), the fewest neurons holding ``percentage`` of the row's |weight| mass
    (largest first); ``(union over classes, per class)``. NeuroX's ``get_top_neurons``.

    Example:
        >>> w = torch.tensor([[4.0, 3.0, 2.0, 1.0], [0.0, 0.0, 1.0, 9.0]])
        >>> union, per_class = top_neurons(w, 0.5)
        >>> union.tolist(), per_class[0].tolist(), per_class[1].tolist()
        ([3, 0, 1], [0, 1], [3])
    """
    _check_fraction("percentage", percentage)
    weights = _weights(probe)
    per_class = {}
    for row in range(weights.shape[0]):
        order = weights[row].argsort(descending=True, stable=True)
        per_class[row] = order[:_prefix(weights[row][order], percentage)] if percentage > 0 else order[:0]
    return _union(per_class, weights), per_class


def bottom_neurons(probe: Any, percentage: float) -> tuple[Tensor, dict[int, Tensor]]:
    """Per class, the most neurons whose |weight| mass stays within ``percentage`` of the row's
    (smallest first); the union over classes and the per-class sets.

    Example:
        >>> w = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
        >>> bottom_neurons(w, 0.3)[0].tolist()
        [3, 2]
    """
    _check_fraction("percentage", percentage)
    weights = _weights(probe)
    per_class = {}
    for row in range(weights.shape[0]):
        order = weights[row].argsort(stable=True)
        cumulative = weights[row][order].cumsum(0)
        count = int((cumulative <= percentage * cumulative[-1] + 1e-12 * cumulative[-1]).sum())
        per_class[row] = order[:count]
    union = torch.unique(torch.cat(list(per_class.values())))
    return union[weights[:, union].max(0).values.argsort(stable=True)], per_class


def top_neurons_hard_threshold(probe: Any, fraction: float = 10.0) -> Tensor:
    """Neurons whose |weight| exceeds ``max |weight| / fraction`` in some class row.

    Example:
        >>> top_neurons_hard_threshold(torch.tensor([[10.0, 2.0, 0.5]]), fraction=8).tolist()
        [0, 1]
    """
    if fraction <= 0:
        fail("fraction", "a positive number", repr(fraction))
    weights = _weights(probe)
    chosen = (weights > weights.max(1, keepdim=True).values / fraction).any(0).nonzero()[:, 0]
    return chosen[weights[:, chosen].max(0).values.argsort(descending=True, stable=True)]


def neuron_ordering(probe: Any, search_stride: int = 100) -> tuple[Tensor, list[int]]:
    """A global order of all neurons: :func:`top_neurons` at ``p / search_stride`` of the mass,
    ``p = 0..search_stride``, each step appending the neurons it adds (strongest first within a
    step); ``cutoffs`` is the ordering's length after each step (NeuroX's
    ``get_neuron_ordering``).

    Example:
        >>> order, cutoffs = neuron_ordering(torch.tensor([[1.0, 5.0, 0.0, 3.0]]), search_stride=4)
        >>> order.tolist(), cutoffs
        ([1, 3, 0, 2], [0, 1, 1, 2, 3])
    """
    if not isinstance(search_stride, int) or search_stride < 1:
        fail("search_stride", "an integer >= 1", repr(search_stride))
    weights = _weights(probe)
    ordering: list[int] = []
    seen: set[int] = set()
    cutoffs = []
    for step in range(search_stride + 1):
        chosen, _ = top_neurons(weights, step / search_stride)
        new = [int(n) for n in chosen if int(n) not in seen]
        ordering += new
        seen.update(new)
        cutoffs.append(len(ordering))
    rest = [n for n in range(weights.shape[1]) if n not in seen]  # zero-weight neurons last
    return torch.tensor(ordering + rest, dtype=torch.long), cutoffs


def probeless_ordering(activations: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """``(ordering, scores)``: each neuron's score is ``sum over class pairs |mu_c - mu_c'|`` of
    its class-mean activations (Antverg & Belinkov); no probe is trained.

    Example:
        >>> x = torch.tensor([[0.0, 1.0], [0.0, 3.0], [1.0, 1.0], [1.0, 1.0]])
        >>> order, scores = probeless_ordering(x, torch.tensor([0, 0, 1, 1]))
        >>> order.tolist(), scores.tolist()
        ([0, 1], [1.0, 1.0])
    """
    if activations.dim() != 2 or labels.dim() != 1 or labels.shape[0] != activations.shape[0]:
        fail("labels", f"one label per row of the (examples, neurons) activations {tuple(activations.shape)}",
             labels)
    classes = torch.unique(labels)
    means = torch.stack([activations[labels == c].double().mean(0) for c in classes])
    scores = (means[:, None, :] - means[None, :, :]).abs().sum((0, 1)) / 2
    return scores.argsort(descending=True, stable=True), scores


def random_neurons(n_neurons: int, count: int, seed: int = 0) -> Tensor:
    """``count`` distinct neurons out of ``n_neurons``, drawn under ``seed``.

    Example:
        >>> random_neurons(10, 3, seed=1).shape
        torch.Size([3])
    """
    if not 0 <= count <= n_neurons:
        fail("count", f"a number of neurons in [0, {n_neurons}]", repr(count))
    return torch.randperm(n_neurons, generator=torch.Generator().manual_seed(seed))[:count]
