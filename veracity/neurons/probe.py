"""Linear probes on activations (NeuroX's recipe), torch-native: elastic net, Adam, seeded."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from veracity._core.concept_linear import fit_elastic_net
from veracity._core.validate import check_choice, fail


@dataclass(frozen=True)
class LinearProbe:
    """A trained probe: ``weight`` ``(classes, neurons)`` (one row for regression), ``bias``,
    the task and, for classification, the label of each row."""

    weight: Tensor
    bias: Tensor
    task: str
    classes: tuple[int, ...] = ()

    def scores(self, activations: Tensor) -> Tensor:
        return activations.to(self.weight) @ self.weight.T + self.bias

    def predict(self, activations: Tensor) -> Tensor:
        """Labels (classification) or values (regression)."""
        scores = self.scores(activations)
        if self.task == "regression":
            return scores[:, 0]
        return torch.tensor(self.classes, device=scores.device)[scores.argmax(1)]

    def accuracy(self, activations: Tensor, labels: Tensor) -> float:
        """Share of correct labels; for regression, the coefficient of determination R^2."""
        predicted = self.predict(activations)
        labels = labels.to(predicted.device)
        if self.task == "regression":
            residual = ((predicted - labels) ** 2).sum()
            return float(1 - residual / ((labels - labels.float().mean()) ** 2).sum())
        return float((predicted == labels).float().mean())

    def class_accuracy(self, activations: Tensor, labels: Tensor) -> dict[int, float]:
        predicted = self.predict(activations).to(labels.device)
        return {c: float((predicted[labels == c] == c).float().mean()) for c in self.classes if (labels == c).any()}


def train_probe(activations: Tensor, labels: Tensor, *, task: str = "classification", lambda_l1: float = 0.0,
                lambda_l2: float = 0.0, epochs: int = 10, batch_size: int = 32, learning_rate: float = 1e-3,
                seed: int = 0) -> LinearProbe:
    """Train a linear probe (NeuroX's ``train_logistic_regression_probe`` /
    ``train_linear_regression_probe``): loss ``CE(Wx + b, y) + lambda_l1 |W|_1 + lambda_l2 |W|_2``
    (the L2 term is the norm, not its square), Adam, shuffled mini-batches under ``seed``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(200, 5, generator=g)
        >>> y = (x[:, 2] > 0).long()
        >>> probe = train_probe(x, y, epochs=30, learning_rate=0.05, lambda_l1=1e-3)
        >>> probe.accuracy(x, y) > 0.95, int(probe.weight.abs().sum(0).argmax())
        (True, 2)
    """
    check_choice("task", task, ("classification", "regression"))
    if activations.dim() != 2:
        fail("activations", "a 2-D tensor (examples, neurons)", activations)
    if labels.dim() != 1 or labels.shape[0] != activations.shape[0]:
        fail("labels", f"a 1-D tensor with one label per example ({activations.shape[0]})", labels)
    if task == "regression":
        weight, bias = fit_elastic_net(activations, labels.float(), n_classes=None, l1=lambda_l1, l2=lambda_l2,
                                       epochs=epochs, batch_size=batch_size, lr=learning_rate, seed=seed)
        return LinearProbe(weight, bias, task)
    classes = torch.unique(labels.cpu())
    if classes.numel() < 2:
        fail("labels", "at least two classes", f"labels {classes.tolist()} only")
    index = torch.searchsorted(classes, labels.cpu()).to(activations.device)
    weight, bias = fit_elastic_net(activations, index, n_classes=classes.numel(), l1=lambda_l1, l2=lambda_l2,
                                   epochs=epochs, batch_size=batch_size, lr=learning_rate, seed=seed)
    return LinearProbe(weight, bias, task, tuple(int(c) for c in classes))
