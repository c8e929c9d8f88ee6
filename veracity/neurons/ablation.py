"""Ablation: keep or zero the top / random / bottom N neurons and re-evaluate a probe or the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from veracity._core.activations import outputs_with_layer_scaled
from veracity._core.capture import capture_layers
from veracity._core.validate import fail
from veracity.neurons.activations import named_layers
from veracity.neurons.probe import LinearProbe, train_probe
from veracity.neurons.ranking import random_neurons


def _columns(activations: Tensor, neurons: Tensor) -> Tensor:
    neurons = torch.as_tensor(neurons, dtype=torch.long)
    if neurons.numel() and (int(neurons.min()) < 0 or int(neurons.max()) >= activations.shape[1]):
        fail("neurons", f"indices in [0, {activations.shape[1]})", neurons)
    return neurons.to(activations.device)


def keep_neurons(activations: Tensor, neurons: Tensor) -> Tensor:
    """A copy with every neuron zeroed except ``neurons`` (NeuroX's
    ``zero_out_activations_keep_neurons``).

    Example:
        >>> keep_neurons(torch.ones(1, 4), torch.tensor([1, 3])).tolist()
        [[0.0, 1.0, 0.0, 1.0]]
    """
    out = torch.zeros_like(activations)
    index = _columns(activations, neurons)
    out[:, index] = activations[:, index]
    return out


def zero_neurons(activations: Tensor, neurons: Tensor) -> Tensor:
    """A copy with ``neurons`` zeroed.

    Example:
        >>> zero_neurons(torch.ones(1, 3), torch.tensor([0])).tolist()
        [[0.0, 1.0, 1.0]]
    """
    out = activations.clone()
    out[:, _columns(activations, neurons)] = 0
    return out


def filter_neurons(activations: Tensor, neurons: Tensor) -> Tensor:
    """Only the columns ``neurons``, in that order (for a probe retrained on them)."""
    return activations[:, _columns(activations, neurons)]


@dataclass(frozen=True)
class AblationTable:
    """Probe accuracies per number of neurons N: probes retrained on the top, random and bottom
    N neurons, and the full probe with the top, random or bottom N zeroed."""

    full_accuracy: float
    rows: list[dict[str, float]] = field(default_factory=list)

    def markdown(self) -> str:
        keys = ["n", "top", "random", "bottom", "full, top zeroed", "full, random zeroed", "full, bottom zeroed"]
        lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        for row in self.rows:
            lines.append("| " + " | ".join(f"{row[k]:.3f}" if k != "n" else str(int(row[k])) for k in keys) + " |")
        return f"full probe accuracy {self.full_accuracy:.3f}\n\n" + "\n".join(lines)


def ablation_table(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, ordering: Tensor,
                   sizes: Sequence[int], *, probe: LinearProbe | None = None, seed: int = 0,
                   **probe_kwargs: Any) -> AblationTable:
    """The standard protocol of the NAACL tutorial on one ranking ``ordering`` (all neurons,
    most important first). ``probe``: the full probe (trained here when None);
    ``probe_kwargs`` go to :func:`~veracity.neurons.train_probe` for every probe.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(300, 6, generator=g)
        >>> y = (x[:, 0] + x[:, 1] > 0).long()
        >>> table = ablation_table(x, y, x, y, torch.tensor([0, 1, 2, 3, 4, 5]), [2], epochs=20, learning_rate=0.05)
        >>> row = table.rows[0]
        >>> row["top"] > 0.95 > row["bottom"], row["full, top zeroed"] < 0.7
        (True, True)
    """
    n_neurons = train_x.shape[1]
    ordering = torch.as_tensor(ordering, dtype=torch.long)
    if sorted(ordering.tolist()) != list(range(n_neurons)):
        fail("ordering", f"a permutation of the {n_neurons} neurons", ordering)
    full = probe if probe is not None else train_probe(train_x, train_y, seed=seed, **probe_kwargs)
    rows = []
    for n in sizes:
        if not 0 < n <= n_neurons:
            fail("sizes", f"numbers of neurons in [1, {n_neurons}]", list(sizes))
        chosen = {"top": ordering[:n], "random": random_neurons(n_neurons, n, seed), "bottom": ordering[-n:]}
        row: dict[str, float] = {"n": float(n)}
        for name, neurons in chosen.items():
            retrained = train_probe(filter_neurons(train_x, neurons), train_y, seed=seed, **probe_kwargs)
            row[name] = retrained.accuracy(filter_neurons(test_x, neurons), test_y)
            row[f"full, {name} zeroed"] = full.accuracy(zero_neurons(test_x, neurons), test_y)
            row[f"full, {name} kept"] = full.accuracy(keep_neurons(test_x, neurons), test_y)
        rows.append(row)
    return AblationTable(full.accuracy(test_x, test_y), rows)


def model_ablation(model: nn.Module, inputs: Tensor, labels: Tensor, layer: Any, neuron_sets: dict[str, Tensor],
                   additional_forward_args: Any = None, *, chunk_rows: int | None = None) -> dict[str, float]:
    """The model's accuracy with each set of units of ``layer`` zeroed (units along dimension 1:
    features of a linear layer, channels of a conv map), plus ``"none"`` (nothing zeroed).

    Example:
        >>> from veracity.data.toy import toy_mlp
        >>> model, x = toy_mlp(batch=20)
        >>> labels = model(x).argmax(1)
        >>> result = model_ablation(model, x, labels, "1", {"all": torch.arange(8)})
        >>> result["none"]
        1.0
    """
    ((_, module),) = named_layers(model, [layer]).items()
    args = () if additional_forward_args is None else additional_forward_args
    captured = capture_layers(model, inputs, [module], args, chunk_rows=chunk_rows)
    assert isinstance(captured, list)
    shape = captured[0].shape[1:]
    labels = labels.to(inputs.device)
    results = {}
    for set_name, neurons in {"none": torch.zeros(0, dtype=torch.long), **neuron_sets}.items():
        scale = torch.ones(shape[0], device=inputs.device)
        scale[_columns(scale[None], neurons)] = 0
        outputs = outputs_with_layer_scaled(model, inputs, module, scale.reshape(-1, *([1] * (len(shape) - 1))),
                                            additional_forward_args, chunk_rows=chunk_rows)
        results[set_name] = float((outputs.argmax(1) == labels.to(outputs.device)).float().mean())
    return results
