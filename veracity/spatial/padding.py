"""Uneven padding (Alsallakh et al., "Mind the Pad", ICLR 2021) from the output-size formula.

A convolution or pooling with input size ``s``, kernel ``k`` (dilated: ``d(k-1)+1``), stride
``σ`` and padding ``p`` per side outputs ``floor((s + 2p - k) / σ) + 1`` positions. When
``(s + 2p - k) mod σ = r > 0`` the last ``r`` rows/columns are never reached by a window: the
bottom/right padding goes unused (padding then acts on the top/left only) and, when ``r > p``,
input rows are ignored too. :func:`padding_report` runs the model once on an input of the
given size and reports every strided or padded layer in forward order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from veracity._core.capture import capture_layers
from veracity._core.validate import fail

_SPATIAL = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d,
            nn.AvgPool3d)


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """``floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1``.

    Example:
        >>> conv_output_size(224, 7, 2, 3), conv_output_size(225, 7, 2, 3)
        (112, 113)
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def leftover(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Rows/columns at the bottom/right that no window reaches: ``(s + 2p - k_eff) mod stride``.

    Example:
        >>> leftover(224, 3, 2, 1), leftover(225, 3, 2, 1)
        (1, 0)
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) % stride


@dataclass(frozen=True)
class PaddingRow:
    """One layer and spatial axis: the sizes, the leftover ``r``, the unused bottom/right padding
    ``min(r, p)`` and the ignored input rows ``max(0, r - p)``; ``uneven`` when padding goes unused."""

    layer: str
    axis: int
    input_size: int
    kernel: int
    stride: int
    padding: int
    output_size: int
    leftover: int

    @property
    def unused_padding(self) -> int:
        return min(self.leftover, self.padding)

    @property
    def ignored_input(self) -> int:
        return max(0, self.leftover - self.padding)

    @property
    def uneven(self) -> bool:
        return self.unused_padding > 0


def _per_axis(value: Any, dims: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),) * dims


def padding_report(model: nn.Module, input_shape: tuple[int, ...], additional_forward_args: Any = None
                   ) -> list[PaddingRow]:
    """Every conv / max-pool / avg-pool layer of ``model`` run on a zero input of
    ``input_shape`` (one example, e.g. ``(3, 224, 224)``), in forward order, per spatial axis.

    Example:
        >>> stem = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 7, 2, 3), torch.nn.MaxPool2d(3, 2, 1))
        >>> [(r.layer, r.input_size, r.uneven) for r in padding_report(stem, (3, 224, 224)) if r.axis == 0]
        [('0', 224, True), ('1', 112, True)]
        >>> [(r.layer, r.input_size, r.uneven) for r in padding_report(stem, (3, 225, 225)) if r.axis == 0]
        [('0', 225, False), ('1', 113, False)]
    """
    named = [(name, m) for name, m in model.named_modules() if isinstance(m, _SPATIAL)]
    if not named:
        fail("model", "a model with convolution or pooling layers", type(model).__name__, TypeError)
    if not isinstance(input_shape, (tuple, list)) or not all(isinstance(s, int) and s > 0 for s in input_shape):
        fail("input_shape", "the shape of one example, e.g. (3, 224, 224)", input_shape, TypeError)
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    x = torch.zeros(1, *input_shape, dtype=dtype, device=parameter.device if parameter is not None else None)
    called = []
    # forward order: the order in which the layers receive their inputs
    handles = [m.register_forward_pre_hook(lambda mod, args, n=n: called.append(n)) for n, m in named]
    try:
        inputs = capture_layers(model, x, {n: m for n, m in named}, additional_forward_args or (), to_input=True)
    finally:
        for handle in handles:
            handle.remove()
    assert isinstance(inputs, dict)
    modules = dict(named)
    rows = []
    for name in called:
        module, value = modules[name], inputs[name]
        value = value[0] if isinstance(value, tuple) else value
        dims = value.dim() - 2
        kernel, stride = _per_axis(module.kernel_size, dims), _per_axis(module.stride, dims)
        padding = module.padding
        if isinstance(padding, str):
            padding = (0,) * dims if padding == "valid" else tuple((k - 1) // 2 for k in kernel)
        padding = _per_axis(padding, dims)
        dilation = _per_axis(getattr(module, "dilation", 1), dims)
        for axis in range(dims):
            size = int(value.shape[2 + axis])
            args = (size, kernel[axis], stride[axis], padding[axis], dilation[axis])
            rows.append(PaddingRow(name, axis, size, kernel[axis], stride[axis], padding[axis],
                                   conv_output_size(*args), leftover(*args)))
    return rows


def padding_table(rows: list[PaddingRow]) -> str:
    """A markdown table of a :func:`padding_report`."""
    lines = ["| layer | axis | input | kernel | stride | padding | output | leftover | unused padding | uneven |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.layer} | {r.axis} | {r.input_size} | {r.kernel} | {r.stride} | {r.padding} | "
                     f"{r.output_size} | {r.leftover} | {r.unused_padding} | {'yes' if r.uneven else 'no'} |")
    return "\n".join(lines)
