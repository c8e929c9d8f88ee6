"""LimeBase, Lime and KernelShap: weighted linear surrogates fitted to perturbed outputs.

Lime and KernelShap draw the interpretable samples (which feature groups are present) for
the whole batch at once, evaluate them as one stack of points through the perturbation
engine, weigh them in one vectorised pass and fit all examples' surrogates in one batched
torch solve. LimeBase keeps Captum's fully general per-sample callbacks.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable, Iterator

import torch
from torch import Tensor

from veracity._core.batch_scores import OutputMode, scores
from veracity._core.call import Call
from veracity._core.inputs import as_tuple, format_like
from veracity._core.validate import check_positive_int, fail
from veracity.attr._base import PerturbationAttribution
from veracity.attr.perturbation._engine import presence_builder
from veracity.attr.perturbation._groups import prepare_feature_mask
from veracity.attr.perturbation.kernels import (
    BernoulliSampler,
    ExpKernelSimilarity,
    KernelShapSampler,
    ShapleyKernelWeight,
)
from veracity.attr.perturbation.solvers import TorchLasso, TorchLinearRegression, fit_surrogates
from veracity.attr.perturbation.variance import paired_attribute

TensorOrTuple = Tensor | tuple[Tensor, ...]


def _sample_stream(perturb_func: Callable[..., Any], inputs: Any, kwargs: dict[str, Any]) -> Iterator[Any]:
    """Captum's perturbation protocol: a generator function, or a function called per sample."""
    if inspect.isgeneratorfunction(perturb_func):
        yield from perturb_func(inputs, **kwargs)
    else:
        while True:
            yield perturb_func(inputs, **kwargs)


def _take(stream: Iterator[Any], n_samples: int) -> list[Any]:
    samples = []
    for _ in range(n_samples):
        try:
            samples.append(next(stream))
        except StopIteration:
            warnings.warn("`perturb_func`: the generator stopped before n_samples samples", UserWarning,
                          stacklevel=3)
            break
    return samples


def _as_weights(value: Any, batch: int) -> Tensor:
    weights = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
    if weights.numel() not in (1, batch):
        fail("similarity_func", f"a number or {batch} numbers per sample", f"{weights.numel()} numbers")
    return weights.expand(batch)


def _design(samples: list[Tensor], batch: int) -> Tensor:
    """Interpretable samples as ``(n, F)`` (shared) or ``(batch, n, F)`` (one per example)."""
    rows = [torch.as_tensor(s) for s in samples]
    if all(r.dim() <= 1 or r.shape[0] == 1 for r in rows):
        return torch.stack([r.reshape(-1) for r in rows]).double()
    if any(r.shape[0] != batch for r in rows):
        shapes = [tuple(r.shape) for r in rows[:3]]
        fail("perturb_func", f"interpretable samples with 1 or {batch} rows", f"shapes {shapes}")
    return torch.stack([r.reshape(batch, -1) for r in rows], dim=1).double()


class LimeBase(PerturbationAttribution):
    """Generic LIME (Ribeiro, Singh & Guestrin, "Why Should I Trust You?", KDD 2016).

    ``n_samples`` perturbations come from ``perturb_func`` (a function called once per sample
    or a generator function), in the interpretable space or the input space, and are mapped
    by ``from_interp_rep_transform`` / ``to_interp_rep_transform``; ``similarity_func``
    weighs each sample; ``interpretable_model`` (a batched torch solver from
    :mod:`~veracity.attr.perturbation.solvers`, a Captum-style model, or a scikit-learn
    estimator) is fitted and its coefficients returned, ``(batch, n_interpretable)``. The
    user callbacks run once per sample as in Captum; the model evaluations go through the
    engine in chunks, and when the model input has several examples one surrogate per example
    is fitted. If ``forward_func`` returns one scalar for the whole batch (Captum's only batch
    mode here), one surrogate is fitted for the batch: the samples and their weights must then
    be one per batch, and the coefficients are ``(1, n_interpretable)``.

    Example:
        >>> import torch
        >>> from veracity.attr import LimeBase
        >>> from veracity.attr.perturbation import TorchLinearRegression
        >>> model = lambda x: x.sum(1)
        >>> lime = LimeBase(model, TorchLinearRegression(), lambda *a, **k: 1.0,
        ...                 lambda x, **k: torch.randint(0, 2, (1, 3)), True,
        ...                 lambda z, x, **k: x * z, None)
        >>> torch.manual_seed(0) and None
        >>> lime.attribute(torch.tensor([[1.0, 2.0, 3.0]]), n_samples=30).round().tolist()
        [[1.0, 2.0, 3.0]]
    """

    _multiply_by_inputs = False  # as Captum: surrogate coefficients, not input-scaled effects

    def __init__(self, forward_func: Callable[..., Any], interpretable_model: Any, similarity_func: Callable[..., Any],
                 perturb_func: Callable[..., Any], perturb_interpretable_space: bool,
                 from_interp_rep_transform: Callable[..., Any] | None,
                 to_interp_rep_transform: Callable[..., Any] | None) -> None:
        super().__init__(forward_func)
        for name, value in (("similarity_func", similarity_func), ("perturb_func", perturb_func)):
            if not callable(value):
                fail(name, "a callable", value, TypeError)
        transform = from_interp_rep_transform if perturb_interpretable_space else to_interp_rep_transform
        if not callable(transform):
            fail("from_interp_rep_transform" if perturb_interpretable_space else "to_interp_rep_transform",
                 "a callable (needed for the chosen perturbation space)", transform, TypeError)
        self.interpretable_model = interpretable_model
        self.similarity_func = similarity_func
        self.perturb_func = perturb_func
        self.perturb_interpretable_space = perturb_interpretable_space
        self.from_interp_rep_transform = from_interp_rep_transform
        self.to_interp_rep_transform = to_interp_rep_transform

    def attribute(self, inputs: TensorOrTuple, target: Any = None, additional_forward_args: Any = None,
                  n_samples: int = 50, perturbations_per_eval: int | None = None, show_progress: bool = False,
                  **kwargs: Any) -> Tensor:
        check_positive_int("n_samples", n_samples)
        as_tuple(inputs)
        samples = _take(_sample_stream(self.perturb_func, inputs, kwargs), n_samples)
        interpretable, model_inputs = [], []
        for sample in samples:
            if self.perturb_interpretable_space:
                assert self.from_interp_rep_transform is not None  # checked in __init__
                interpretable.append(sample)
                model_inputs.append(as_tuple(self.from_interp_rep_transform(sample, inputs, **kwargs),
                                             "from_interp_rep_transform")[0])
            else:
                model_inputs.append(as_tuple(sample, "perturb_func")[0])
                assert self.to_interp_rep_transform is not None  # checked in __init__
                interpretable.append(self.to_interp_rep_transform(sample, inputs, **kwargs))
        batch = model_inputs[0][0].shape[0]
        weights = torch.stack([
            _as_weights(self.similarity_func(inputs, format_like(isinstance(inputs, tuple), m), z, **kwargs), batch)
            for m, z in zip(model_inputs, interpretable)])
        call = Call.of(self.forward_func, model_inputs[0], target, additional_forward_args)
        mode = OutputMode()

        def build(start: int, stop: int) -> tuple[Tensor, ...]:
            return tuple(torch.cat(parts) for parts in zip(*model_inputs[start:stop]))

        values = scores(call, len(samples), build, perturbations_per_eval, show_progress,
                        f"{self.get_name()} attribution", mode=mode)
        design = _design(interpretable, batch)
        if mode.per_batch:
            if design.dim() == 3:
                fail("perturb_func", "one interpretable sample for the whole batch when forward_func returns "
                     "one scalar for the whole batch", f"samples of shape {tuple(design.shape[::2])} per example")
            if not bool((weights == weights[:, :1]).all()):
                fail("similarity_func", "one weight per sample when forward_func returns one scalar for the "
                     "whole batch", "a different weight per example")
            weights = weights[:, :1]
        coefs = fit_surrogates(self.interpretable_model, design, values.t(), weights.t())
        return coefs.to(values)


class Lime(LimeBase):
    """LIME over feature groups: a sample switches each group of ``feature_mask`` on (input
    value) or off (baseline value), and a weighted linear surrogate of the samples' outputs
    gives each group its coefficient.

    Defaults as in Captum: Bernoulli(0.5) samples, an exponential kernel (width 1) of the
    cosine distance between original and perturbed input as sample weight, and a Lasso with
    ``alpha=0.01`` (here :class:`~veracity.attr.perturbation.TorchLasso`, the same objective
    as scikit-learn's, solved by batched coordinate descent). Unlike Captum, a batch is
    attributed in one call: the samples are drawn once and shared by the batch, all
    ``n_samples x batch`` perturbed inputs go through the engine in chunks, and the surrogates
    are fitted together. ``return_input_shape=False`` returns the coefficients
    ``(batch, n_groups)`` (groups in increasing id order). A custom ``perturb_func`` is called
    once per sample with the whole batch and may return one sample ``(1, n_groups)`` or one per
    example ``(batch, n_groups)``; ``generator`` seeds the default samplers.

    If ``forward_func`` returns one scalar for the whole batch (e.g. a loss), the batch is one
    instance, as in Captum: each sample switches the groups in every example at once, the
    default similarity compares the whole flattened batches, one surrogate is fitted, and the
    attributions have first dimension 1 (coefficients ``(1, n_groups)``);
    ``perturbations_per_eval`` must be 1 or None and ``feature_mask`` shared by the batch.

    Example:
        >>> import torch
        >>> from veracity.attr import Lime
        >>> model = torch.nn.Linear(4, 2)
        >>> x = torch.randn(3, 4)
        >>> g = torch.Generator().manual_seed(0)
        >>> Lime(model).attribute(x, target=1, n_samples=40, return_input_shape=False, generator=g).shape
        torch.Size([3, 4])
    """

    def __init__(self, forward_func: Callable[..., Any], interpretable_model: Any = None,
                 similarity_func: Callable[..., Any] | None = None,
                 perturb_func: Callable[..., Any] | None = None) -> None:
        super().__init__(forward_func, TorchLasso(alpha=0.01) if interpretable_model is None else interpretable_model,
                         similarity_func or ExpKernelSimilarity("cosine", 1.0), perturb_func or BernoulliSampler(),
                         True, lambda *a, **k: None, None)

    def attribute(  # type: ignore[override]
        self,
        inputs: TensorOrTuple,
        baselines: Any = None,
        target: Any = None,
        additional_forward_args: Any = None,
        feature_mask: Any = None,
        n_samples: int = 25,
        perturbations_per_eval: int | None = None,
        return_input_shape: bool = True,
        show_progress: bool = False,
        *,
        generator: torch.Generator | None = None,
    ) -> TensorOrTuple:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args)
        return self.attribute_call(call, baselines, feature_mask, n_samples, perturbations_per_eval,
                                   return_input_shape, show_progress, generator=generator)

    def attribute_call(self, call: Call, baselines: Any = None, feature_mask: Any = None, n_samples: int = 25,
                       perturbations_per_eval: int | None = None, return_input_shape: bool = True,
                       show_progress: bool = False, *, generator: torch.Generator | None = None) -> TensorOrTuple:
        check_positive_int("n_samples", n_samples)
        base = call.baselines(baselines)
        groups = prepare_feature_mask(feature_mask, call.inputs)
        device = call.inputs[0].device
        presence = self._draw(call, base, groups, n_samples, generator).to(device)
        weights: dict[int, Tensor] = {}
        presence_build = presence_builder(call, base, groups, lambda start, stop: presence[start:stop])
        mode = OutputMode()

        def build(start: int, stop: int) -> tuple[Tensor, ...]:
            if mode.per_batch and presence.dim() == 3:
                fail("perturb_func", "samples shared by the batch, (1, n_groups), when forward_func returns "
                     "one scalar for the whole batch", f"samples of shape {tuple(presence.shape[1:])}")
            return presence_build(start, stop)

        def weigh(start: int, stop: int, chunk: tuple[Tensor, ...]) -> None:
            weights[start] = self._weigh(call, base, groups, chunk, presence[start:stop], mode)

        values = scores(call, presence.shape[0], build, perturbations_per_eval,
                        show_progress, f"{self.get_name()} attribution", groups.ids, weigh, mode)
        w = torch.cat([weights[s] for s in sorted(weights)]).t()
        design = presence.double() if presence.dim() == 2 else presence.transpose(0, 1).double()
        coefs = fit_surrogates(self.interpretable_model, design, values.t(), w).to(values)
        if not return_input_shape:
            return coefs
        return call.finish(groups.spread(coefs, call.inputs))

    def _callback_kwargs(self, call: Call, base: tuple[Tensor, ...], groups: Any) -> dict[str, Any]:
        return {"baselines": call.finish(base),
                "feature_mask": call.finish(groups.ids), "num_interp_features": groups.n_features}

    def _draw(self, call: Call, base: tuple[Tensor, ...], groups: Any, n_samples: int,
              generator: torch.Generator | None) -> Tensor:
        """Interpretable samples, boolean ``(n, n_groups)`` or ``(n, batch, n_groups)``."""
        if hasattr(self.perturb_func, "draw"):
            return self.perturb_func.draw(n_samples, groups.n_features, generator, call.inputs[0].device)
        original = call.finish(call.inputs)
        kwargs = self._callback_kwargs(call, base, groups)
        samples = _take(_sample_stream(self.perturb_func, original, kwargs), n_samples)
        design = _design(samples, call.batch)
        if design.shape[-1] != groups.n_features:
            fail("perturb_func", f"samples with {groups.n_features} interpretable features", tuple(design.shape))
        return (design != 0) if design.dim() == 2 else (design != 0).transpose(0, 1)

    def _weigh(self, call: Call, base: tuple[Tensor, ...], groups: Any, chunk: tuple[Tensor, ...],
               presence: Tensor, mode: OutputMode) -> Tensor:
        """Sample weights of one chunk of points, ``(k, rows)``: per example, or per whole batch
        (one instance of ``span = batch`` rows) when the model scores the whole batch."""
        k, batch, rows = presence.shape[0], call.batch, 1 if mode.per_batch else call.batch
        span = batch // rows
        if hasattr(self.similarity_func, "batch"):
            original = torch.cat([x.reshape(rows, -1) for x in call.inputs], 1)
            perturbed = torch.cat([c.reshape(k, rows, -1) for c in chunk], 2)
            weights = self.similarity_func.batch(original, perturbed, presence)
            return (weights.unsqueeze(1) if weights.dim() == 1 else weights).expand(k, rows)
        kwargs = self._callback_kwargs(call, base, groups)
        result = []
        for p in range(k):
            z = presence[p] if presence.dim() == 3 else presence[p].expand(rows, -1)
            result.append(torch.stack([_as_weights(self.similarity_func(
                call.finish(tuple(x[b * span:(b + 1) * span] for x in call.inputs)),
                call.finish(tuple(c[p * batch + b * span:p * batch + (b + 1) * span] for c in chunk)),
                z[b:b + 1].long(), **kwargs), 1)[0] for b in range(rows)]))
        return torch.stack(result)


class KernelShap(Lime):
    """Kernel SHAP (Lundberg & Lee, "A Unified Approach to Interpreting Model Predictions",
    NeurIPS 2017): Lime with the Shapley kernel, so the surrogate's coefficients estimate the
    groups' Shapley values.

    As in Captum, the full and the empty coalition come first with weight 10^6 (pinning the
    fit to F(x) and F(baseline)), the other coalitions are drawn with sizes proportional to
    (M - 1) / (k (M - k)) and weight 1, and the surrogate is a linear regression with
    intercept (here :class:`~veracity.attr.perturbation.TorchLinearRegression`, batched).
    On a model additive in the groups the result is exact once the samples span all groups.

    Example:
        >>> import torch
        >>> from veracity.attr import KernelShap
        >>> model = lambda x: (x * torch.tensor([1.0, 2.0, 3.0])).sum(1)
        >>> g = torch.Generator().manual_seed(0)
        >>> KernelShap(model).attribute(torch.ones(1, 3), n_samples=20, generator=g).round().tolist()
        [[1.0, 2.0, 3.0]]
    """

    def __init__(self, forward_func: Callable[..., Any]) -> None:
        super().__init__(forward_func, TorchLinearRegression(), ShapleyKernelWeight(), KernelShapSampler())

    def attribute(  # type: ignore[override]
        self, inputs: TensorOrTuple, baselines: Any = None, target: Any = None, additional_forward_args: Any = None,
        feature_mask: Any = None, n_samples: int = 25, perturbations_per_eval: int | None = None,
        return_input_shape: bool = True, show_progress: bool = False, *, generator: torch.Generator | None = None,
        paired_sampling: bool = False, return_std_error: bool = False, target_std_error: float | None = None,
    ) -> Any:
        """Captum's KernelShap; ``paired_sampling=True`` draws coalitions with their complements
        and fits the constrained regression of Covert & Lee (2021) (lower variance, see
        ``docs/accuracy.md``); ``return_std_error`` / ``target_std_error`` as in
        :class:`ShapleyValueSampling` (they imply ``paired_sampling``: the standard errors are
        those of the paired estimator)."""
        call = Call.of(self.forward_func, inputs, target, additional_forward_args)
        return self.attribute_call(call, baselines, feature_mask, n_samples, perturbations_per_eval,
                                   return_input_shape, show_progress, generator=generator,
                                   paired_sampling=paired_sampling, return_std_error=return_std_error,
                                   target_std_error=target_std_error)

    def attribute_call(self, call: Call, baselines: Any = None, feature_mask: Any = None,
                       n_samples: int = 25, perturbations_per_eval: int | None = None,
                       return_input_shape: bool = True, show_progress: bool = False, *,
                       generator: torch.Generator | None = None, paired_sampling: bool = False,
                       return_std_error: bool = False, target_std_error: float | None = None) -> Any:
        if not (paired_sampling or return_std_error or target_std_error is not None):
            return super().attribute_call(call, baselines, feature_mask, n_samples, perturbations_per_eval,
                                          return_input_shape, show_progress, generator=generator)
        return paired_attribute(self, call, baselines, feature_mask, n_samples, perturbations_per_eval,
                                return_input_shape, show_progress, generator, return_std_error, target_std_error)
