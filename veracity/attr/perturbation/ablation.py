"""FeatureAblation and Occlusion: both remove masks of features and record the output change.

FeatureAblation's masks are the groups of ``feature_mask`` (a partition); Occlusion's are
sliding windows (overlapping boxes, each element's attribution the mean over the windows that
cover it). Both hand all masks at once to the perturbation engine.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from veracity._core.batch_scores import scores
from veracity._core.call import Call
from veracity._core.model_errors import NO_BATCH_HINT
from veracity._core.validate import fail
from veracity.attr._base import PerturbationAttribution
from veracity.attr.perturbation._engine import blend, presence_builder
from veracity.attr.perturbation._groups import prepare_feature_mask

TensorOrTuple = Tensor | tuple[Tensor, ...]
_IGNORED_KWARGS = {"enable_cross_tensor_attribution"}


def check_no_extra(kwargs: dict[str, Any]) -> None:
    unknown = sorted(set(kwargs) - _IGNORED_KWARGS)
    if unknown:
        fail("kwargs", "no further keyword arguments", ", ".join(unknown), TypeError)


class FeatureAblation(PerturbationAttribution):
    """Attribution of each feature group = F(x) - F(x with the group set to its baseline).

    Every group of ``feature_mask`` (integer ids, one mask per input, broadcast to the input;
    an id may span several inputs) is replaced by its baseline in one perturbed copy of the
    batch; with no mask, every scalar is its own group. All ``n_groups + 1`` copies are
    evaluated by the engine in chunks of ``perturbations_per_eval`` copies per model call
    (``None``, the default here, picks the chunk from the memory budget; Captum's default is
    1). Zeiler & Fergus 2014 ablation as in Captum. Non-contiguous ids are fine; an
    element's attribution is its group's.

    If ``forward_func`` returns one scalar for the whole batch (e.g. a loss), each group is
    ablated in every example at once and credited with the change of that scalar, as in
    Captum: ``perturbations_per_eval`` must be 1 (or None), masks have first dimension 1, and
    the attributions have first dimension 1.

    Example:
        >>> import torch
        >>> from veracity.attr import FeatureAblation
        >>> model = torch.nn.Linear(4, 1)
        >>> x = torch.randn(2, 4)
        >>> attr = FeatureAblation(model).attribute(x, feature_mask=torch.tensor([[0, 0, 1, 1]]))
        >>> bool(torch.allclose(attr[:, 0], attr[:, 1]))
        True
    """

    def attribute(self, inputs: TensorOrTuple, baselines: Any = None, target: Any = None,
                  additional_forward_args: Any = None, feature_mask: Any = None,
                  perturbations_per_eval: int | None = None, show_progress: bool = False,
                  **kwargs: Any) -> TensorOrTuple:
        check_no_extra(kwargs)
        call = Call.of(self.forward_func, inputs, target, additional_forward_args)
        return self.attribute_call(call, baselines, feature_mask, perturbations_per_eval, show_progress)

    def attribute_future(self, inputs: TensorOrTuple, baselines: Any = None, target: Any = None,
                         additional_forward_args: Any = None, feature_mask: Any = None,
                         perturbations_per_eval: int | None = None, show_progress: bool = False,
                         **kwargs: Any) -> Any:
        """``attribute`` for a ``forward_func`` that returns ``torch.futures.Future``; returns a
        ``Future`` of the attributions (each model call's future is waited on in turn)."""
        return self._future_of(inputs=inputs, baselines=baselines, target=target,
                               additional_forward_args=additional_forward_args, feature_mask=feature_mask,
                               perturbations_per_eval=perturbations_per_eval, show_progress=show_progress,
                               **kwargs)

    def attribute_call(self, call: Call, baselines: Any = None, feature_mask: Any = None,
                       perturbations_per_eval: int | None = None, show_progress: bool = False) -> TensorOrTuple:
        base = call.baselines(baselines)
        groups = prepare_feature_mask(feature_mask, call.inputs)
        features = torch.arange(groups.n_features, device=call.inputs[0].device)

        def presence(start: int, stop: int) -> Tensor:
            removed = torch.arange(start, stop, device=features.device) - 1  # point 0: nothing removed
            return features.unsqueeze(0) != removed.unsqueeze(1)

        values = scores(call, groups.n_features + 1,
                        presence_builder(call, base, groups, presence), perturbations_per_eval,
                        show_progress, f"{self.get_name()} attribution", groups.ids, every_output=True)
        per_feature = (values[:1] - values[1:]).t()  # rows: examples (x every output value with no target)
        return call.finish(groups.spread(per_feature, call.inputs))


def _per_input(name: str, value: Any, inputs: tuple[Tensor, ...], default: int | None) -> list[tuple[int, ...]]:
    """A tuple of ints per input, one per non-batch dimension."""
    if value is None and default is not None:
        return [(default,) * (x.dim() - 1) for x in inputs]
    if len(inputs) == 1 and not (isinstance(value, tuple) and value and isinstance(value[0], tuple)):
        value = (value,)
    if not isinstance(value, tuple) or len(value) != len(inputs):
        fail(name, f"one entry per input ({len(inputs)})", value, TypeError)
    result = []
    for i, (item, x) in enumerate(zip(value, inputs)):
        where = name if len(inputs) == 1 else f"{name}[{i}]"
        dims = x.dim() - 1
        if isinstance(item, int) and not isinstance(item, bool) and default is not None:
            item = (item,) * dims
        if (not isinstance(item, tuple) or len(item) != dims
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in item)):
            fail(where, f"a tuple of {dims} integers (one per non-batch dimension)", item, TypeError)
        if any(v < 1 for v in item):
            fail(where, "integers >= 1", item)
        result.append(item)
    return result


class _Windows:
    """The sliding windows of one input: boxes starting at multiples of the stride, clipped."""

    def __init__(self, shape: tuple[int, ...], window: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.shape, self.window, self.stride = shape, window, stride
        self.counts = tuple(math.ceil((s - w) / st) + 1 for s, w, st in zip(shape, window, stride))
        self.n = math.prod(self.counts)

    def masks(self, index: Tensor) -> Tensor:
        """Boolean ``(k, *shape)``: the elements each window covers."""
        result: Tensor | None = None
        remainder = index
        for dim in reversed(range(len(self.shape))):
            position = remainder % self.counts[dim]
            remainder = remainder // self.counts[dim]
            start = (position * self.stride[dim]).unsqueeze(1)
            axis = torch.arange(self.shape[dim], device=index.device).unsqueeze(0)
            covers = (axis >= start) & (axis < start + self.window[dim])
            covers = covers.view(index.shape[0], *([1] * dim), self.shape[dim], *([1] * (len(self.shape) - dim - 1)))
            result = covers if result is None else result & covers
        assert result is not None  # the shape has at least one dimension
        return result


class Occlusion(FeatureAblation):
    """Ablation with sliding windows (Zeiler & Fergus, "Visualizing and Understanding
    Convolutional Networks", ECCV 2014).

    A window of ``sliding_window_shapes`` is moved over each input with ``strides`` (windows
    start at multiples of the stride and the last one is clipped at the border, as in Captum,
    so every element is covered); for each position the window is set to the baseline and
    F(x) - F(occluded x) is credited to every element it covers. An element's attribution is
    the mean over the windows that cover it. Each input is occluded on its own. All windows
    go through the engine in chunks (``perturbations_per_eval=None``: from the memory budget).
    A model returning one scalar for the whole batch gets each window occluded in every
    example at once (one model call per window) and attributions with first dimension 1.

    Example:
        >>> import torch
        >>> from veracity.attr import Occlusion
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
        >>> x = torch.randn(2, 1, 4, 4)
        >>> attr = Occlusion(model).attribute(x, sliding_window_shapes=(1, 2, 2), strides=(1, 2, 2),
        ...                                   target=0)
        >>> attr.shape
        torch.Size([2, 1, 4, 4])
    """

    def attribute(  # type: ignore[override]
        self,
        inputs: TensorOrTuple,
        sliding_window_shapes: tuple[int, ...] | tuple[tuple[int, ...], ...],
        strides: Any = None,
        baselines: Any = None,
        target: Any = None,
        additional_forward_args: Any = None,
        perturbations_per_eval: int | None = None,
        show_progress: bool = False,
    ) -> TensorOrTuple:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args)
        return self.attribute_call(call, sliding_window_shapes, strides, baselines, perturbations_per_eval,
                                   show_progress)

    def attribute_future(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Occlusion does not support attribute_future (as in Captum)")

    def attribute_call(self, call: Call,  # type: ignore[override]
                       sliding_window_shapes: tuple[int, ...] | tuple[tuple[int, ...], ...],
                       strides: Any = None, baselines: Any = None, perturbations_per_eval: int | None = None,
                       show_progress: bool = False) -> TensorOrTuple:
        if any(x.dim() < 2 for x in call.inputs):
            fail("inputs", "tensors with a batch dimension and at least one feature dimension to slide over",
                 "inputs of shape " + ", ".join(str(tuple(x.shape)) for x in call.inputs) + ". " + NO_BATCH_HINT)
        base = call.baselines(baselines)
        shapes = _per_input("sliding_window_shapes", sliding_window_shapes, call.inputs, None)
        steps = _per_input("strides", strides, call.inputs, 1)
        windows = []
        for i, (x, shape, step) in enumerate(zip(call.inputs, shapes, steps)):
            if any(w > s for w, s in zip(shape, x.shape[1:])):
                fail("sliding_window_shapes", f"windows no larger than the input ({tuple(x.shape[1:])})",
                     f"{shape} for input {i}")
            windows.append(_Windows(tuple(x.shape[1:]), shape, step))
        offsets = [1]
        for w in windows:
            offsets.append(offsets[-1] + w.n)
        device = call.inputs[0].device

        def build(start: int, stop: int) -> tuple[Tensor, ...]:
            parts = []
            for x, b, w, first in zip(call.inputs, base, windows, offsets):
                point = torch.arange(start, stop, device=device) - first
                inside = (point >= 0) & (point < w.n)
                keep = ~(w.masks(point.clamp(0, w.n - 1)) & inside.view(-1, *([1] * (x.dim() - 1))))
                parts.append(blend(x, b, keep.unsqueeze(1)))
            return tuple(parts)

        values = scores(call, offsets[-1], build, perturbations_per_eval,
                        show_progress, f"{self.get_name()} attribution", every_output=True)
        differences = values[:1] - values[1:]
        attributions = [_window_means(w, differences[offsets[i] - 1:offsets[i + 1] - 1], x)
                        for i, (w, x) in enumerate(zip(windows, call.inputs))]
        return call.finish(attributions)


def _window_means(windows: _Windows, differences: Tensor, x: Tensor) -> Tensor:
    """Per element: the mean of the output differences of the windows that cover it."""
    batch, numel = differences.shape[1], math.prod(windows.shape)
    totals = torch.zeros(batch, numel, dtype=differences.dtype, device=differences.device)
    counts = torch.zeros(numel, dtype=differences.dtype, device=differences.device)
    step = max(1, (1 << 22) // max(numel, 1))
    for start in range(0, windows.n, step):
        index = torch.arange(start, min(windows.n, start + step), device=differences.device)
        covered = windows.masks(index).reshape(index.shape[0], numel).to(differences.dtype)
        totals += differences[start:start + index.shape[0]].t() @ covered
        counts += covered.sum(0)
    return (totals / counts).view(batch, *windows.shape)
