"""A spurious correlation planted at a chosen rate: the artifact on a chosen class's examples.

Following Adebayo et al. (ICLR 2022), a known artifact is planted on (part of) one class of a
training set; a model trained on it can learn the artifact as a shortcut (the *spurious
model*), one trained on the clean set cannot (the *normal model*). Every planted pixel is
known, so explanations can be scored against the truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from veracity._core.validate import fail
from veracity.data.digits import Digits, load_digits
from veracity.spurious.artifacts import Box, _check_images, plant_artifact

__all__ = ["SpuriousSet", "SpuriousDigits", "planted_count", "plant_spurious", "spurious_digits"]


@dataclass(frozen=True)
class SpuriousSet:
    """Images with the artifact planted on the examples where ``carries`` is True.

    ``images`` and ``clean`` ``(n, C, H, W)``, ``labels`` ``(n,)``, ``masks`` ``(n, 1, H, W)``
    boolean (all False where no artifact was planted), ``carries`` ``(n,)`` boolean.
    """

    images: Tensor
    labels: Tensor
    masks: Tensor
    clean: Tensor
    carries: Tensor
    kind: str
    target_class: int


def planted_count(n: int, rate: float) -> int:
    """How many of ``n`` examples carry the artifact at ``rate``: ``floor(rate * n + 1/2)``
    (the nearest integer, halves rounded up).

    Example:
        >>> planted_count(10, 0.25), planted_count(10, 0.35), planted_count(7, 1.0)
        (3, 4, 7)
    """
    return int(math.floor(rate * n + 0.5))


def _check_rate(name: str, rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        fail(name, "a number in [0, 1]", rate, TypeError)
    if not 0.0 <= rate <= 1.0:
        fail(name, "a number in [0, 1]", repr(rate))
    return float(rate)


def _check_labels(labels: Any, n: int) -> Tensor:
    if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.dtype.is_floating_point \
            or labels.dtype == torch.bool:
        fail("labels", "a 1-d tensor of integer class labels", labels, TypeError)
    if labels.shape[0] != n:
        fail("labels", f"one label per image ({n})", labels)
    return labels


def plant_spurious(images: Tensor, labels: Tensor, kind: str = "patch", target_class: int = 0,
                   rate: float = 1.0, *, other_rate: float = 0.0, seed: int = 0, box: Box | None = None,
                   value: float = 1.0, shift: float = 0.25) -> SpuriousSet:
    """Plant artifact ``kind`` on ``rate`` of the ``target_class`` examples and ``other_rate``
    of the rest.

    Exactly :func:`planted_count` ``(n_c, rate)`` of the ``n_c`` examples of ``target_class``
    carry it (and ``planted_count(n_o, other_rate)`` of the others), drawn by a permutation
    seeded with ``seed``. ``box``, ``value`` and ``shift``: see :func:`plant_artifact`.
    Rate 1 with other rate 0 makes the artifact a perfect predictor of the class.

    Example:
        >>> import torch
        >>> data = plant_spurious(torch.zeros(8, 1, 8, 8), torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]),
        ...                       "stripe", target_class=0, rate=0.5)
        >>> data.carries.tolist()
        [True, True, False, False, False, False, False, False]
        >>> int(data.masks[1].sum()), int(data.masks[2].sum())
        (8, 0)
    """
    images = _check_images(images)
    labels = _check_labels(labels, images.shape[0])
    if isinstance(target_class, bool) or not isinstance(target_class, int):
        fail("target_class", "an integer class label", target_class, TypeError)
    rate, other_rate = _check_rate("rate", rate), _check_rate("other_rate", other_rate)
    if isinstance(seed, bool) or not isinstance(seed, int):
        fail("seed", "an integer", seed, TypeError)
    planted_all, masks_all = plant_artifact(images, kind, box=box, value=value, shift=shift)
    generator = torch.Generator().manual_seed(seed)
    carries = torch.zeros(images.shape[0], dtype=torch.bool)
    in_class = (labels == target_class).cpu()
    for group, group_rate in ((in_class, rate), (~in_class, other_rate)):
        members = group.nonzero().flatten()
        order = members[torch.randperm(members.numel(), generator=generator)]
        carries[order[:planted_count(members.numel(), group_rate)]] = True
    carries = carries.to(images.device)
    where = carries.view(-1, 1, 1, 1)
    return SpuriousSet(torch.where(where, planted_all, images.detach()), labels, masks_all & where,
                       images.detach(), carries, kind, target_class)


@dataclass(frozen=True)
class SpuriousDigits:
    """Digits with a planted spurious correlation.

    ``train``: the contaminated training set; ``test``: every test digit with the artifact
    (for the detection and cause-for-concern metrics; ``test.clean`` are the same digits
    without it, for the false-alarm metric); ``clean``: the clean split.
    """

    train: SpuriousSet
    test: SpuriousSet
    clean: Digits

    def contaminated(self) -> Digits:
        """The training split with the artifact, the clean test split (what the spurious model
        is trained on)."""
        return Digits(self.train.images, self.train.labels, self.clean.test_x, self.clean.test_y)


def spurious_digits(kind: str = "patch", target_class: int = 0, rate: float = 1.0, *,
                    other_rate: float = 0.0, seed: int = 0, data: Digits | None = None,
                    box: Box | None = None, value: float = 1.0, shift: float = 0.25) -> SpuriousDigits:
    """scikit-learn's digits (:func:`veracity.data.load_digits`, or ``data``) with artifact
    ``kind`` on ``rate`` of the ``target_class`` training digits (see :func:`plant_spurious`)
    and on every test digit. Needs scikit-learn.

    Example:
        >>> data = spurious_digits("patch", target_class=3, rate=0.5)
        >>> int(data.train.carries.sum()) == planted_count(int((data.train.labels == 3).sum()), 0.5)
        True
        >>> bool(data.test.carries.all())
        True
    """
    data = data if data is not None else load_digits()
    if not isinstance(data, Digits):
        fail("data", "a veracity.data.Digits split", data, TypeError)
    artifact: dict[str, Any] = {"box": box, "value": value, "shift": shift}
    train = plant_spurious(data.train_x, data.train_y, kind, target_class, rate, other_rate=other_rate,
                           seed=seed, **artifact)
    test = plant_spurious(data.test_x, data.test_y, kind, target_class, 1.0, other_rate=1.0, seed=seed,
                          **artifact)
    return SpuriousDigits(train, test, data)
