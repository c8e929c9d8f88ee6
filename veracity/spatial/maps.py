"""Mean feature maps, their border asymmetry, mean-filter asymmetry and foveation maps
(Alsallakh et al., "Mind the Pad", ICLR 2021): spatial bias that does not come from the data."""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.capture import capture_layers
from veracity._core.chunking import Points
from veracity._core.engine import forward_points
from veracity._core.validate import fail
from veracity.neurons.activations import named_layers


def mean_feature_maps(model: nn.Module, data: Tensor | Iterable[Tensor], layers: Any, *, per_channel: bool = False,
                      chunk_rows: int | None = None) -> dict[str, Tensor]:
    """``M_l(i, j) = 1/(N C) sum_n sum_c A_l^{n,c}(i, j)`` for every layer (``(H, W)``), or per
    channel (``(C, H, W)``); ``data`` is a batch or an iterable of batches (streamed: one pass
    per batch for all layers). A constant input (``torch.zeros(1, ...)``) shows what the
    padding alone produces.

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> model, x = toy_cnn(batch=4)
        >>> maps = mean_feature_maps(model, x, ["1"])
        >>> tuple(maps["1"].shape), torch.allclose(maps["1"], model[:2](x).mean((0, 1)))
        ((8, 8), True)
    """
    modules = named_layers(model, layers)
    batches = [data] if isinstance(data, Tensor) else data
    sums: dict[str, Tensor] = {}
    count = 0
    for batch in batches:
        values = capture_layers(model, batch, modules, chunk_rows=chunk_rows)
        assert isinstance(values, dict)
        for name, value in values.items():
            if not isinstance(value, Tensor) or value.dim() < 3:
                fail("layers", "layers with (batch, channels, *spatial) outputs",
                     f"{name!r} with {'a tuple' if not isinstance(value, Tensor) else tuple(value.shape)}")
            total = value.double().sum(0)
            sums[name] = sums[name] + total if name in sums else total
        count += batch.shape[0]
    if count == 0:
        fail("data", "at least one example", "no examples")
    return {name: (total / count if per_channel else total.mean(0) / count).float() for name, total in sums.items()}


def _halves(value: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    size = value.shape[dim]
    return value.narrow(dim, 0, size // 2), value.narrow(dim, size - size // 2, size // 2)


def map_asymmetry(mean_map: Tensor) -> dict[str, float]:
    """Relative asymmetry of a 2-D map: ``(L - R) / (|L| + |R|)`` for the mean of the left and
    right halves (``left_right``) and of the top and bottom halves (``top_bottom``); the middle
    row/column of an odd size is left out. 0 for a symmetric map.

    Example:
        >>> map_asymmetry(torch.tensor([[1.0, 0.0, 3.0], [1.0, 0.0, 3.0]]))
        {'left_right': -0.5, 'top_bottom': 0.0}
    """
    if mean_map.dim() != 2:
        fail("mean_map", "a 2-D map (H, W)", mean_map)
    result = {}
    for key, dim in (("left_right", 1), ("top_bottom", 0)):
        first, second = (float(h.double().mean()) for h in _halves(mean_map, dim))
        scale = abs(first) + abs(second)
        result[key] = (first - second) / scale if scale > 0 else 0.0
    return result


def filter_asymmetry(layer: nn.Module) -> float:
    """Asymmetry of a conv layer's mean filter ``F`` (the weights averaged over output and
    input channels): ``(|F - flip_lr F| + |F - flip_ud F|) / (2 |F|)`` (Frobenius norms);
    0 for a filter symmetric both ways.

    Example:
        >>> conv = torch.nn.Conv2d(1, 1, 3)
        >>> with torch.no_grad():
        ...     _ = conv.weight.copy_(torch.tensor([[[[1.0, 1, 1], [1, 1, 1], [1, 1, 1]]]]))
        >>> filter_asymmetry(conv)
        0.0
    """
    weight = getattr(layer, "weight", None)
    if not isinstance(layer, nn.Conv2d) or weight is None:
        fail("layer", "a torch.nn.Conv2d", layer, TypeError)
    mean = weight.detach().double().mean((0, 1))
    norm = float(mean.norm())
    if norm == 0:
        return 0.0
    return float((mean - mean.flip(1)).norm() + (mean - mean.flip(0)).norm()) / (2 * norm)


def foveation_map(model: nn.Module, canvas: Tensor, stimulus: Tensor, target: Any = None, *, stride: int = 1,
                  chunk_rows: int | None = None, show_progress: bool = False) -> Tensor:
    """The explained output (``target``, Captum's forms for one example) when ``stimulus``
    ``(C, h, w)`` is pasted on ``canvas`` ``(C, H, W)`` with its top-left corner at every
    position ``(i, j)`` (every ``stride``-th): a ``(rows, cols)`` map. Dips show blind spots.
    The positions are the engine's points, evaluated in chunks.

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> model, _ = toy_cnn()
        >>> foveation_map(model, torch.zeros(1, 8, 8), torch.ones(1, 2, 2), target=0).shape
        torch.Size([7, 7])
    """
    if canvas.dim() != 3 or stimulus.dim() != 3 or stimulus.shape[0] != canvas.shape[0]:
        fail("stimulus", f"a (C, h, w) patch with the canvas's {canvas.shape[0] if canvas.dim() == 3 else '?'} "
             "channels, and a (C, H, W) canvas", f"stimulus {tuple(stimulus.shape)}, canvas {tuple(canvas.shape)}")
    h, w = stimulus.shape[1:]
    if h > canvas.shape[1] or w > canvas.shape[2]:
        fail("stimulus", f"a patch no larger than the canvas {tuple(canvas.shape)}", stimulus)
    rows = range(0, canvas.shape[1] - h + 1, stride)
    cols = range(0, canvas.shape[2] - w + 1, stride)
    positions = [(i, j) for i in rows for j in cols]
    base = canvas.unsqueeze(0)

    def build(start: int, stop: int) -> tuple[Tensor, ...]:
        chunk = base.repeat(stop - start, 1, 1, 1)
        for k, (i, j) in enumerate(positions[start:stop]):
            chunk[k, :, i:i + h, j:j + w] = stimulus
        return (chunk,)

    call = Call.of(model, base, target)
    scores: list[Tensor] = []
    forward_points(call, Points.of(len(positions), (base,), build), lambda s, e, v: scores.append(v[:, 0]),
                   chunk_rows=chunk_rows, chunk_name="chunk_rows", show_progress=show_progress, desc="foveation")
    return torch.cat(scores).reshape(len(rows), len(cols))
