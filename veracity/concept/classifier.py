"""Linear classifiers that separate concepts in a layer's activation space; their weights are CAVs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable

import numpy as np
import torch
from torch import Tensor

from veracity._core.concept_linear import fit_logistic, small_problem_threads
from veracity._core.validate import fail


class Classifier(ABC):
    """Captum's interface: ``train_and_eval(dataloader, **kwargs)`` trains on ``(activations,
    labels)`` batches (labels are concept ids) and returns statistics or None; ``weights()``
    is ``classes x features``; ``classes()`` lists the concept ids in the order of the rows.

    Example:
        >>> class Fixed(Classifier):
        ...     def __init__(self): pass
        ...     def train_and_eval(self, dataloader, **kwargs): return None
        ...     def weights(self): return torch.tensor([[-1.0, 0.0], [1.0, 0.0]])
        ...     def classes(self): return [0, 1]
        >>> Fixed().weights().shape
        torch.Size([2, 2])
    """

    @abstractmethod
    def __init__(self) -> None: ...

    @abstractmethod
    def train_and_eval(self, dataloader: Iterable[tuple[Tensor, Tensor]], **kwargs: Any) -> dict | None: ...

    @abstractmethod
    def weights(self) -> Tensor: ...

    @abstractmethod
    def classes(self) -> list[int]: ...


def _gather(dataloader: Iterable[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    inputs, labels = [], []
    for x, y in dataloader:
        inputs.append(x.reshape(x.shape[0], -1))
        labels.append(y.reshape(-1))
    if not inputs:
        fail("dataloader", "at least one batch of activations", "an empty iterable")
    return torch.cat(inputs), torch.cat(labels)


def split(x: Tensor, y: Tensor, test_split_ratio: float, seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """A seeded shuffle into ``(x_train, x_test, y_train, y_test)``; the test part has
    ``int(ratio * n)`` rows (Captum's rule)."""
    if not 0.0 <= test_split_ratio < 1.0:
        fail("test_split_ratio", "a number in [0, 1)", repr(test_split_ratio))
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed)).to(x.device)
    n_test = int(test_split_ratio * x.shape[0])
    test, train = order[:n_test], order[n_test:]
    return x[train], x[test], y[train], y[test]


def _accuracy(scores: Tensor, y: Tensor, classes: Tensor) -> float:
    if y.numel() == 0:
        return float("nan")
    return float((classes[scores.argmax(1).cpu()] == y.cpu()).float().mean())


def _rows(coef: Tensor) -> Tensor:
    """Captum's convention: a binary classifier's single row ``w`` becomes ``[-w, w]``."""
    return torch.stack([-coef[0], coef[0]]) if coef.shape[0] == 1 else coef


class DefaultClassifier(Classifier):
    """L2-regularised logistic regression in torch (no scikit-learn): ``mean CE + alpha/2 |W|^2``,
    solved by L-BFGS in float64, on a seeded train/test split (``test_split_ratio`` 0.33 as
    Captum). Deterministic: the same data and seed give the same CAV.

    Example:
        >>> x = torch.cat([torch.randn(20, 3) + 2, torch.randn(20, 3) - 2])
        >>> y = torch.tensor([7] * 20 + [3] * 20)
        >>> clf = DefaultClassifier()
        >>> clf.train_and_eval([(x, y)])["accs"] > 0.9, clf.classes()
        (True, [3, 7])
    """

    def __init__(self, alpha: float = 0.01, seed: int = 0, max_iter: int = 200) -> None:
        self.alpha, self.seed, self.max_iter = alpha, seed, max_iter
        self._weights: Tensor | None = None
        self._classes: list[int] = []

    def train_and_eval(self, dataloader: Iterable[tuple[Tensor, Tensor]], test_split_ratio: float = 0.33,
                       **kwargs: Any) -> dict:
        x, y = _gather(dataloader)
        with small_problem_threads(x.numel()):
            return self._train(x, y, test_split_ratio)

    def _train(self, x: Tensor, y: Tensor, test_split_ratio: float) -> dict:
        x_train, x_test, y_train, y_test = split(x, y, test_split_ratio, self.seed)
        classes = torch.unique(y.cpu())
        if classes.numel() < 2:
            fail("dataloader", "activations of at least two concepts", f"labels {classes.tolist()} only")
        index = torch.searchsorted(classes, y_train.cpu()).to(x.device)
        coef, bias = fit_logistic(x_train, index, classes.numel(), self.alpha, self.max_iter)
        self._weights, self._classes = _rows(coef), [int(c) for c in classes]
        scores = x_test @ self._weights.T + _rows(bias[:, None])[:, 0]
        return {"accs": _accuracy(scores, y_test, classes)}

    def weights(self) -> Tensor:
        if self._weights is None:
            fail("classifier", "a trained classifier (call train_and_eval first)", "an untrained one", RuntimeError)
        return self._weights

    def classes(self) -> list[int]:
        return list(self._classes)


class SklearnClassifier(Classifier):
    """A scikit-learn linear estimator (``fit``, ``coef_``, ``classes_``) as a :class:`Classifier`,
    on the same seeded split as :class:`DefaultClassifier`. TCAV wraps estimators in it.

    Example:
        >>> from sklearn.linear_model import LogisticRegression
        >>> x = torch.cat([torch.randn(20, 3) + 2, torch.randn(20, 3) - 2])
        >>> clf = SklearnClassifier(LogisticRegression())
        >>> clf.train_and_eval([(x, torch.tensor([1] * 20 + [0] * 20))])["accs"] > 0.9
        True
    """

    def __init__(self, estimator: Any, seed: int = 0) -> None:
        if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
            fail("classifier", "a Classifier or a scikit-learn estimator with fit/predict", estimator, TypeError)
        self.estimator, self.seed = estimator, seed

    def train_and_eval(self, dataloader: Iterable[tuple[Tensor, Tensor]], test_split_ratio: float = 0.33,
                       **kwargs: Any) -> dict:
        x, y = _gather(dataloader)
        x_train, x_test, y_train, y_test = split(x, y, test_split_ratio, self.seed)
        self.estimator.fit(x_train.detach().cpu().numpy(), y_train.cpu().numpy())
        if y_test.numel() == 0:
            return {"accs": float("nan")}
        predicted = np.asarray(self.estimator.predict(x_test.detach().cpu().numpy()))
        return {"accs": float((predicted == y_test.cpu().numpy()).mean())}

    def weights(self) -> Tensor:
        coef = getattr(self.estimator, "coef_", None)
        if coef is None:
            fail("classifier", "a linear estimator with coef_ after fit", self.estimator, TypeError)
        return _rows(torch.as_tensor(np.asarray(coef), dtype=torch.float32))

    def classes(self) -> list[int]:
        return [int(c) for c in self.estimator.classes_]


def as_classifier(classifier: Any) -> Classifier:
    """``None`` -> :class:`DefaultClassifier`; a scikit-learn estimator -> :class:`SklearnClassifier`."""
    if classifier is None:
        return DefaultClassifier()
    if isinstance(classifier, Classifier) or hasattr(classifier, "train_and_eval"):
        return classifier
    return SklearnClassifier(classifier)
