"""The perturbation engine shared by every faithfulness metric: one algorithm, one place.

A faithfulness metric replaces some input features by a fill value (a baseline, noise, an
imputation) and watches the explained output. Every such metric here describes its
perturbations as ``n_points`` boolean masks over the batch (True = replaced) and hands them
to :meth:`MetricCall.outputs`, which stacks ``(points x examples)`` perturbed inputs as engine
:class:`~veracity._core.engine.Points` and evaluates them with
:func:`~veracity._core.engine.forward_points` in memory-budgeted chunks on the inputs'
device: no numpy round trips and no Python loop per perturbation step.

Curves (pixel flipping, region perturbation, deletion/insertion, selectivity, IROF, ROAD,
ABPC, monotonicity...) are the special case "replace every feature whose rank in the
attribution order is below ``count[step]``", built by :meth:`MetricCall.curve`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.engine import Points, forward_points
from veracity._core.inputs import prepare_baselines, softmax_outputs
from veracity._core.seeding import random_uniform
from veracity._core.targets import TargetIndex
from veracity._core.validate import check_choice, fail

MaskFn = Callable[[int, int], Tensor]
FillFn = Callable[[int, int, Tensor, Tensor], Tensor]
ORDERS = ("morf", "lerf", "random")
BASELINE_NAMES = ("black", "white", "mean", "zeros", "uniform")


def check_attributions(inputs: Tensor, attributions: Any, name: str = "attributions") -> Tensor:
    """Attributions of the inputs' shape, or with size-1 dimensions (one map for all channels)."""
    if not isinstance(attributions, Tensor):
        fail(name, "a tensor", attributions, TypeError)
    shape = tuple(inputs.shape)
    ok = attributions.dim() == inputs.dim() and attributions.shape[0] == shape[0] and all(
        a in (1, s) for a, s in zip(attributions.shape[1:], shape[1:]))
    if not ok:
        fail(name, f"a tensor of the inputs' shape {shape} (or with size-1 dimensions after the "
             "batch, e.g. one map for all channels)", attributions)
    if attributions.is_floating_point() and not bool(torch.isfinite(attributions).all()):
        fail(name, "finite values only", "a tensor containing NaN or inf")
    return attributions.detach().to(device=inputs.device, dtype=inputs.dtype)


def replacement_values(inputs: Tensor, baseline: Any, generator: torch.Generator | None = None,
                       name: str = "baseline") -> Tensor:
    """The value each feature takes when it is removed, shaped like ``inputs``.

    ``"black"`` / ``"white"``: the example's minimum / maximum (as Quantus); ``"mean"``: the
    example's mean; ``"zeros"``; ``"uniform"``: U[0, 1) noise (drawn from ``generator``); a
    number; a tensor broadcastable to the inputs; or a callable ``inputs -> tensor``.
    """
    batch = inputs.shape[0]
    if isinstance(baseline, str):
        check_choice(name, baseline, BASELINE_NAMES)
        if baseline == "uniform":
            return random_uniform(tuple(inputs.shape), generator, inputs)
        if baseline == "zeros":
            return torch.zeros_like(inputs)
        flat = inputs.reshape(batch, -1)
        value = {"black": lambda: flat.min(1).values, "white": lambda: flat.max(1).values,
                 "mean": lambda: flat.mean(1)}[baseline]()
        return value.view(batch, *[1] * (inputs.dim() - 1)).expand_as(inputs)
    if callable(baseline) and not isinstance(baseline, Tensor):
        value = baseline(inputs)
        if not isinstance(value, Tensor) or tuple(value.shape) != tuple(inputs.shape):
            fail(name, f"a callable returning a tensor of shape {tuple(inputs.shape)}", value)
        return value.detach().to(inputs.device, inputs.dtype)
    return prepare_baselines(baseline, (inputs,), name)[0]


def feature_ids(attr_shape: tuple[int, ...], patch_size: int | None = None,
                feature_mask: Tensor | None = None) -> tuple[Tensor, int]:
    """Group labels ``0..n-1`` broadcastable to the attributions, and ``n``.

    Default: every attribution element is its own feature. ``patch_size``: square patches on a
    grid over the last two dimensions (shared by all channels). ``feature_mask``: the user's
    integer labels (as Captum's ``feature_mask``), broadcastable to the attributions.
    """
    rest = attr_shape[1:]
    if feature_mask is not None:
        if not isinstance(feature_mask, Tensor) or feature_mask.is_floating_point():
            fail("feature_mask", "an integer tensor of group labels", feature_mask, TypeError)
        if feature_mask.dim() != len(attr_shape) or not all(
                m in (1, s) for m, s in zip(feature_mask.shape, attr_shape)):
            fail("feature_mask", f"a tensor broadcastable to the attributions' shape {attr_shape}",
                 feature_mask)
        labels, ids = torch.unique(feature_mask, return_inverse=True)
        return ids, int(labels.numel())
    if patch_size is not None:
        if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
            fail("patch_size", "a positive integer", patch_size)
        if len(rest) < 2:
            fail("patch_size", "attributions with two spatial dimensions last", str(attr_shape))
        height, width = rest[-2:]
        cols = -(-width // patch_size)
        rows = torch.arange(height) // patch_size
        ids = rows[:, None] * cols + (torch.arange(width) // patch_size)[None, :]
        n = int(-(-height // patch_size) * cols)
        return ids.view(1, *[1] * (len(rest) - 2), height, width), n
    n = 1
    for size in rest:
        n *= size
    return torch.arange(n).view(1, *rest), n


def group_scores(attributions: Tensor, ids: Tensor, n_groups: int, reduce: str = "sum"
                 ) -> tuple[Tensor, Tensor]:
    """Per-example, per-group ``sum`` (or ``mean``) of the attributions, and group sizes."""
    batch = attributions.shape[0]
    ids = ids.to(attributions.device).expand(batch, *attributions.shape[1:]).reshape(batch, -1)
    flat = attributions.reshape(batch, -1)
    scores = flat.new_zeros(batch, n_groups).scatter_add_(1, ids, flat)
    sizes = flat.new_zeros(batch, n_groups).scatter_add_(1, ids, torch.ones_like(flat))
    if reduce == "mean":
        scores = scores / sizes.clamp(min=1)
    return scores, sizes


def group_order(scores: Tensor, sizes: Tensor, order: str,
                generator: torch.Generator | None = None) -> Tensor:
    """The rank of each group in the removal order, ``(batch, n_groups)``; ties keep index order.

    ``morf``: most relevant (largest score) first; ``lerf``: least relevant first; ``random``.
    Groups with no element in an example go last.
    """
    check_choice("order", order, ORDERS)
    if order == "random":
        key = random_uniform(tuple(scores.shape), generator, scores)
    else:
        key = -scores if order == "morf" else scores.clone()
    key = key.masked_fill(sizes == 0, float("inf"))
    perm = torch.sort(key, dim=1, stable=True).indices
    ranks = torch.empty_like(perm)
    ranks.scatter_(1, perm, torch.arange(perm.shape[1], device=perm.device).expand_as(perm))
    return ranks


def element_ranks(ranks: Tensor, ids: Tensor, attr_shape: tuple[int, ...]) -> Tensor:
    """Each attribution element's group rank, shaped like the attributions (broadcastable)."""
    batch = attr_shape[0]
    ids = ids.to(ranks.device).expand(batch, *attr_shape[1:]).reshape(batch, -1)
    return ranks.gather(1, ids).view(batch, *attr_shape[1:])


def step_counts(n_features: int, features_in_step: int | None = None, n_steps: int | None = None
                ) -> Tensor:
    """``0, s, 2s, ..., n_features``: how many features are removed at each curve point."""
    if features_in_step is not None and n_steps is not None:
        fail("n_steps", "None when `features_in_step` is given", n_steps)
    if n_steps is not None:
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
            fail("n_steps", "a positive integer", n_steps)
        return torch.unique(torch.linspace(0, n_features, n_steps + 1).round().long())
    step = 1 if features_in_step is None else features_in_step
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        fail("features_in_step", "a positive integer", step)
    counts = torch.arange(0, n_features + 1, step)
    if int(counts[-1]) != n_features:
        counts = torch.cat([counts, torch.tensor([n_features])])
    return counts


@dataclass(frozen=True)
class MetricCall:
    """One model-based metric call: the engine's :class:`~veracity._core.call.Call` (model,
    one checked input tensor, target, extra arguments), the attributions being judged and the
    evaluation settings."""

    call: Call
    attributions: Tensor
    chunk_rows: int | None
    show_progress: bool

    @property
    def model(self) -> Callable[..., Any]:
        return self.call.forward_func

    @property
    def inputs(self) -> Tensor:
        return self.call.inputs[0]

    @property
    def target(self) -> TargetIndex:
        return self.call.target

    @property
    def args(self) -> tuple[Any, ...]:
        return self.call.args

    @property
    def batch(self) -> int:
        return self.call.batch

    def outputs(self, n_points: int, mask_fn: MaskFn, fill: Tensor | FillFn,
                desc: str = "perturbations") -> Tensor:
        """Explained outputs at ``n_points`` perturbed copies of the batch: ``(batch, n_points)``.

        ``mask_fn(start, stop)`` gives the masks of points ``start..stop-1``, broadcastable to
        ``(stop - start, *inputs.shape)``; True elements take ``fill`` (a tensor like the inputs,
        or ``fill(start, stop, stacked_inputs, mask)`` for imputations).
        """
        x = self.inputs
        parts: list[Tensor] = []

        def build(start: int, stop: int) -> tuple[Tensor, ...]:
            k = stop - start
            stacked = x.unsqueeze(0).expand(k, *x.shape)
            mask = mask_fn(start, stop)
            if callable(fill):
                perturbed = fill(start, stop, stacked, mask)
            else:
                perturbed = torch.where(mask, fill.unsqueeze(0), stacked)
            return (perturbed.reshape(k * x.shape[0], *x.shape[1:]),)

        points = Points.of(n_points, (x,), build)
        forward_points(self.call, points, lambda s, e, v: parts.append(v.float()), chunk_rows=self.chunk_rows,
                       show_progress=self.show_progress, desc=desc)
        return torch.cat(parts).T.contiguous()

    def original(self) -> Tensor:
        """The explained output at the unperturbed inputs, ``(batch,)``."""
        return self.outputs(1, lambda s, e: torch.zeros((1,), dtype=torch.bool, device=self.inputs.device),
                            self.inputs, desc="original")[:, 0]

    def curve(self, ranks: Tensor, counts: Tensor, fill: Tensor | FillFn, insert: bool = False,
              desc: str = "curve") -> Tensor:
        """Outputs when the features ranked below ``counts[p]`` are removed: ``(batch, steps)``.

        ``insert=True`` starts from the fill and puts those features back instead.
        ``counts`` is ``(steps,)`` or ``(steps, batch)``.
        """
        counts = counts.to(ranks.device)
        view = counts.reshape(counts.shape[0], -1, *[1] * (ranks.dim() - 1))

        def mask_fn(start: int, stop: int) -> Tensor:
            removed = ranks.unsqueeze(0) < view[start:stop]
            return ~removed if insert else removed

        return self.outputs(counts.shape[0], mask_fn, fill, desc)


def metric_call(model: Callable[..., Tensor], inputs: Any, attributions: Any, target: Any,
                additional_forward_args: Any = None, softmax: bool = False,
                perturbations_per_eval: int | None = None, show_progress: bool = False
                ) -> MetricCall:
    """Check and normalise the arguments every model-based metric shares."""
    call = Call.of(model, inputs, target, additional_forward_args)
    if len(call.inputs) != 1:
        fail("inputs", "a single tensor (these metrics perturb one input tensor)", inputs, TypeError)
    x = call.inputs[0].detach()
    attributions = check_attributions(x, attributions)
    scored = softmax_outputs(model) if softmax else model
    return MetricCall(call.with_forward(scored, (x,)), attributions, perturbations_per_eval, show_progress)


def ordered_curve(call: MetricCall, *, order: str, baseline: Any, generator: Any,
                  features_in_step: int | None = None, n_steps: int | None = None,
                  patch_size: int | None = None, feature_mask: Tensor | None = None,
                  reduce: str = "sum", insert: bool = False, counts: Tensor | None = None,
                  fill: Any = None) -> tuple[Tensor, Tensor]:
    """The curve of outputs as features leave in ``order``: ``(batch, steps)`` and fractions."""
    shape = tuple(call.attributions.shape)
    ids, n_features = feature_ids(shape, patch_size, feature_mask)
    scores, sizes = group_scores(call.attributions, ids, n_features, reduce)
    ranks = element_ranks(group_order(scores, sizes, order, generator), ids, shape)
    if counts is None:
        counts = step_counts(n_features, features_in_step, n_steps)
    if fill is None:
        fill = replacement_values(call.inputs, baseline, generator)
    curve = call.curve(ranks, counts, fill, insert=insert, desc=f"{order} curve")
    return curve, counts.float() / n_features
