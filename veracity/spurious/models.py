"""The spurious and the normal digits CNN, and how much the spurious one relies on the artifact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from veracity._core.predict import predict
from veracity._core.validate import fail
from veracity.data.digits import DigitsCNN, train_digits_cnn
from veracity.spurious.dataset import SpuriousDigits

__all__ = ["train_spurious_pair", "Reliance", "artifact_reliance"]


def _check_data(data: Any) -> SpuriousDigits:
    if not isinstance(data, SpuriousDigits):
        fail("data", "a SpuriousDigits (from spurious_digits)", data, TypeError)
    return data


def train_spurious_pair(data: SpuriousDigits, seed: int = 0, epochs: int = 30,
                        smooth: bool = False) -> tuple[DigitsCNN, DigitsCNN]:
    """``(spurious_model, normal_model)``: :func:`~veracity.data.train_digits_cnn` on the
    contaminated and on the clean training digits, same ``seed`` and ``epochs`` (eval mode).

    Example:
        >>> from veracity.data.digits import Digits, load_digits
        >>> from veracity.spurious import spurious_digits
        >>> d = load_digits()
        >>> small = Digits(d.train_x[:128], d.train_y[:128], d.test_x[:8], d.test_y[:8])
        >>> spurious, normal = train_spurious_pair(spurious_digits("patch", data=small), epochs=1)
        >>> spurious.training, normal.training
        (False, False)
    """
    data = _check_data(data)
    spurious = train_digits_cnn(data.contaminated(), seed=seed, epochs=epochs, smooth=smooth)
    normal = train_digits_cnn(data.clean, seed=seed, epochs=epochs, smooth=smooth)
    return spurious, normal


@dataclass(frozen=True)
class Reliance:
    """How a model behaves with and without the artifact on the test digits.

    ``clean_accuracy`` / ``artifact_accuracy``: accuracy without / with the artifact;
    ``to_target_clean`` / ``to_target_artifact``: the share of test digits *not* of the
    target class that the model assigns to the target class without / with the artifact.
    A model relies on the artifact when the artifact lowers accuracy and pulls other digits to
    the target class (the accuracy-gap check of Adebayo et al. 2022).
    """

    clean_accuracy: float
    artifact_accuracy: float
    to_target_clean: float
    to_target_artifact: float

    @property
    def accuracy_gap(self) -> float:
        """``clean_accuracy - artifact_accuracy``."""
        return self.clean_accuracy - self.artifact_accuracy


def artifact_reliance(model: nn.Module, data: SpuriousDigits) -> Reliance:
    """The :class:`Reliance` of ``model`` on the artifact of ``data`` (its test digits).

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> from veracity.spurious import spurious_digits
        >>> model, _ = toy_cnn(classes=10)  # in practice: train_spurious_pair(data)[0]
        >>> reliance = artifact_reliance(model, spurious_digits("patch"))
        >>> 0.0 <= reliance.to_target_artifact <= 1.0
        True
    """
    data = _check_data(data)
    if not callable(model):
        fail("model", "a callable model", model, TypeError)
    test = data.test
    with_artifact = predict(model, test.images).argmax(1).cpu()
    without = predict(model, test.clean).argmax(1).cpu()
    labels = test.labels.cpu()
    others = labels != test.target_class
    count = max(int(others.sum()), 1)
    return Reliance(
        clean_accuracy=float((without == labels).float().mean()),
        artifact_accuracy=float((with_artifact == labels).float().mean()),
        to_target_clean=float(((without == test.target_class) & others).sum()) / count,
        to_target_artifact=float(((with_artifact == test.target_class) & others).sum()) / count,
    )
