"""Captum Insights' data types: ``Batch`` and the features that say how to show each input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from veracity._core.validate import fail

THUMBNAIL = 32


@dataclass
class Batch:
    """A batch of the dataset: ``inputs`` (a tensor, or a tuple with one tensor per feature),
    ``labels`` (true classes) and ``additional_args`` passed to the model after the inputs.

    Example:
        >>> Batch(torch.rand(2, 1, 8, 8), torch.tensor([0, 1])).labels.tolist()
        [0, 1]
    """

    inputs: Any
    labels: Any
    additional_args: Any = None


def _transformed(value: Tensor, transforms: Any) -> Tensor:
    if transforms is None:
        return value
    for transform in transforms if isinstance(transforms, (list, tuple)) else [transforms]:
        value = transform(value)
    return value


class BaseFeature:
    """One input of the model, named, with its transforms (applied to a batch of inputs)."""

    kind = "general"

    def __init__(self, name: str, baseline_transforms: Any = None, input_transforms: Any = None,
                 visualization_transform: Callable[..., Any] | None = None) -> None:
        if not isinstance(name, str) or not name:
            fail("name", "a non-empty string", name, TypeError)
        self.name = name
        self.baseline_transforms = baseline_transforms
        self.input_transforms = input_transforms
        self.visualization_transform = visualization_transform

    def transform_input(self, value: Tensor) -> Tensor:
        return _transformed(value, self.input_transforms)

    def baseline(self, value: Tensor) -> Tensor:
        """The first baseline transform of the (transformed) input, else zeros."""
        transforms = self.baseline_transforms
        if not transforms:
            return torch.zeros_like(value)
        first = transforms[0] if isinstance(transforms, (list, tuple)) else transforms
        return first(value)

    def thumbnail(self, value: Tensor) -> dict[str, Any]:
        return {"type": self.kind, "name": self.name}

    def visualize(self, attribution: Tensor, value: Tensor) -> dict[str, Any]:
        raise NotImplementedError


def _scale(values: Tensor) -> float:
    """The magnitude holding 98% of the attribution mass (so one outlier does not wash out the map)."""
    ordered = values.abs().flatten().double().sort().values
    total = float(ordered.sum())
    if total <= 0:
        return 0.0
    index = int(torch.searchsorted(ordered.cumsum(0), torch.tensor(total * 0.98, dtype=torch.float64)))
    return float(ordered[min(index, ordered.numel() - 1)])


def _rounded(values: Tensor, digits: int = 5) -> list[Any]:
    return torch.nan_to_num(values.detach().double().cpu(), 0.0).round(decimals=digits).tolist()


class ImageFeature(BaseFeature):
    """An image input ``(C, H, W)``: shown as a heat map of the channel-summed attribution.

    Example:
        >>> shown = ImageFeature("photo").visualize(torch.ones(1, 2, 2), torch.rand(1, 2, 2))
        >>> shown["type"], shown["height"], shown["attribution"]
        ('image', 2, [[1.0, 1.0], [1.0, 1.0]])
    """

    kind = "image"

    def __init__(self, name: str, baseline_transforms: Any = None, input_transforms: Any = None,
                 visualization_transform: Callable[..., Any] | None = None) -> None:
        super().__init__(name, baseline_transforms, input_transforms, visualization_transform)

    def _image(self, value: Tensor) -> Tensor:
        image = self.visualization_transform(value) if self.visualization_transform else value
        image = image.detach().double().cpu()
        if image.dim() == 2:
            image = image[None]
        if image.dim() != 3:
            fail(f"features[{self.name!r}]", "image inputs (C, H, W)", f"shape {tuple(image.shape)}")
        low, high = float(image.min()), float(image.max())
        return (image - low) / (high - low) if high > low else torch.zeros_like(image)

    def thumbnail(self, value: Tensor) -> dict[str, Any]:
        image = self._image(value)
        if max(image.shape[1:]) > THUMBNAIL:
            factor = THUMBNAIL / max(image.shape[1:])
            size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[2] * factor)))
            image = F.interpolate(image[None], size=size, mode="area")[0]
        return self._pixels(image)

    def _pixels(self, image: Tensor) -> dict[str, Any]:
        channels = image[:3] if image.shape[0] >= 3 else image[:1].expand(3, -1, -1)
        return {"type": "image", "name": self.name, "height": image.shape[1], "width": image.shape[2],
                "pixels": _rounded(channels.permute(1, 2, 0), 3)}

    def visualize(self, attribution: Tensor, value: Tensor) -> dict[str, Any]:
        summed = attribution.detach().double().cpu()
        summed = summed.sum(0) if summed.dim() == 3 else summed
        return {**self._pixels(self._image(value)), "attribution": _rounded(summed), "scale": _scale(summed),
                "signed": bool((summed < 0).any())}


class TextFeature(BaseFeature):
    """A sequence input ``(T, ...)`` (embeddings): one attribution per token, summed over the
    rest; ``visualization_transform(input)`` gives the tokens' text.

    Example:
        >>> feature = TextFeature("words", None, None, lambda x: ["a", "b"])
        >>> feature.visualize(torch.ones(2, 3), torch.rand(2, 3))["attribution"]
        [3.0, 3.0]
    """

    kind = "text"

    def __init__(self, name: str, baseline_transforms: Any = None, input_transforms: Any = None,
                 visualization_transform: Callable[..., Any] | None = None) -> None:
        super().__init__(name, baseline_transforms, input_transforms, visualization_transform)

    def _tokens(self, value: Tensor) -> list[str]:
        tokens = self.visualization_transform(value) if self.visualization_transform else None
        return [str(t) for t in tokens] if tokens is not None else [str(i) for i in range(value.shape[0])]

    def thumbnail(self, value: Tensor) -> dict[str, Any]:
        return {"type": "text", "name": self.name, "tokens": self._tokens(value)[:40]}

    def visualize(self, attribution: Tensor, value: Tensor) -> dict[str, Any]:
        per_token = attribution.detach().double().cpu().reshape(attribution.shape[0], -1).sum(1)
        return {"type": "text", "name": self.name, "tokens": self._tokens(value), "attribution": _rounded(per_token),
                "scale": _scale(per_token), "signed": bool((per_token < 0).any())}


class GeneralFeature(BaseFeature):
    """A vector input ``(K,)`` with one named category per entry: shown as bars.

    Example:
        >>> GeneralFeature("tabular", ["age", "income"]).visualize(torch.tensor([0.5, -1.0]),
        ...                                                       torch.zeros(2))["attribution"]
        [0.5, -1.0]
    """

    kind = "general"

    def __init__(self, name: str, categories: Sequence[str]) -> None:
        super().__init__(name)
        if isinstance(categories, str) or not all(isinstance(c, str) for c in categories):
            fail("categories", "a list of strings", categories, TypeError)
        self.categories = list(categories)

    def thumbnail(self, value: Tensor) -> dict[str, Any]:
        return {"type": "general", "name": self.name, "values": _rounded(value.reshape(-1)[:len(self.categories)], 4)}

    def visualize(self, attribution: Tensor, value: Tensor) -> dict[str, Any]:
        flat = attribution.detach().double().cpu().reshape(-1)
        if flat.numel() != len(self.categories):
            fail(f"features[{self.name!r}]", f"{len(self.categories)} values, one per category",
                 f"{flat.numel()} values")
        return {"type": "general", "name": self.name, "categories": self.categories, "attribution": _rounded(flat),
                "values": _rounded(value.reshape(-1), 4), "scale": _scale(flat), "signed": bool((flat < 0).any())}
