"""NoiseTunnel: SmoothGrad, SmoothGrad-squared and VarGrad around any attribution method."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.engine import Points, points_per_chunk, run_chunks
from veracity._core.inputs import prepare_baseline_distribution
from veracity._core.seeding import gaussian_like, per_input, point_generator, point_seeds
from veracity._core.targets import TargetIndex
from veracity._core.validate import check_choice, check_positive_int, fail
from veracity.attr._base import Attribution

TensorOrTuple = Tensor | tuple[Tensor, ...]
NT_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")


class NoiseTunnel(Attribution):
    """Average an attribution over noisy copies of the input.

    ``smoothgrad`` (Smilkov et al. 2017) returns the mean attribution over ``nt_samples``
    copies with Gaussian noise of standard deviation ``stdevs``, ``smoothgrad_sq`` the mean of
    squares, ``vargrad`` (Adebayo et al. 2018) the variance. Noisy copies are attributed in
    chunks of ``nt_samples_batch_size`` samples (or as many as fit the memory budget) by one
    call of the wrapped method each. ``generator`` makes the noise reproducible and
    independent of the chunk size. Other keyword arguments go to the wrapped method; its
    per-example arguments (target, baselines, additional_forward_args tensors) are expanded
    with the copies. With ``draw_baseline_from_distrib=True`` a baseline is drawn for every
    copy from ``baselines`` (as GradientShap does).

    Example:
        >>> import torch
        >>> from veracity.attr import NoiseTunnel, Saliency
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> nt = NoiseTunnel(Saliency(model))
        >>> g = torch.Generator().manual_seed(0)
        >>> nt.attribute(x, nt_type="smoothgrad", nt_samples=10, stdevs=0.1,
        ...              target=0, generator=g).shape
        torch.Size([3, 4])
    """

    def __init__(self, attribution_method: Attribution) -> None:
        if not isinstance(attribution_method, Attribution) and not hasattr(attribution_method, "attribute"):
            fail("attribution_method", "an attribution method instance", attribution_method, TypeError)
        super().__init__(attribution_method.forward_func)
        self.attribution_method = attribution_method

    @property
    def multiplies_by_inputs(self) -> bool:
        return self.attribution_method.multiplies_by_inputs

    def has_convergence_delta(self) -> bool:
        return self.attribution_method.has_convergence_delta()

    def attribute(self, inputs: TensorOrTuple, nt_type: str = "smoothgrad", nt_samples: int = 5,
                  nt_samples_batch_size: int | None = None, stdevs: float | tuple[float, ...] = 1.0,
                  draw_baseline_from_distrib: bool = False, *, generator: torch.Generator | None = None,
                  show_progress: bool = False, **kwargs: Any) -> TensorOrTuple | tuple[TensorOrTuple, Tensor]:
        call = Call.of(self.forward_func, inputs, kwargs.pop("target", None),
                       kwargs.pop("additional_forward_args", None))
        return self.attribute_call(call, nt_type, nt_samples, nt_samples_batch_size, stdevs,
                                   draw_baseline_from_distrib, generator=generator, show_progress=show_progress,
                                   **kwargs)

    def attribute_call(self, call: Call, nt_type: str = "smoothgrad", nt_samples: int = 5,
                       nt_samples_batch_size: int | None = None, stdevs: float | tuple[float, ...] = 1.0,
                       draw_baseline_from_distrib: bool = False, *, generator: torch.Generator | None = None,
                       show_progress: bool = False, **kwargs: Any) -> TensorOrTuple | tuple[TensorOrTuple, Tensor]:
        tup, batch = call.inputs, call.batch
        check_choice("nt_type", nt_type, NT_TYPES)
        check_positive_int("nt_samples", nt_samples)
        if nt_samples_batch_size is not None:
            check_positive_int("nt_samples_batch_size", nt_samples_batch_size)
        noise_std = per_input("stdevs", stdevs, len(tup))
        want_delta = bool(kwargs.get("return_convergence_delta", False))
        baselines = kwargs.pop("baselines", None)
        if draw_baseline_from_distrib:
            distribution = prepare_baseline_distribution(baselines, tup)
            baseline_index = torch.randint(0, distribution[0].shape[0], (nt_samples, batch), generator=generator)
        seeds = point_seeds(nt_samples, generator)
        device = tup[0].device

        # shaped like the wrapped method's results: the inputs', or a layer's for layer methods
        totals: list[Tensor] = []
        squares: list[Tensor] = []
        form: list[type] = []  # tensor, tuple or list, as the wrapped method returns them
        deltas: list[Tensor] = []

        def step(start: int, stop: int) -> None:
            k = stop - start
            noisy: list[list[Tensor]] = [[] for _ in tup]
            for point in range(start, stop):
                gen = point_generator(seeds[point], device)
                for i, (x, s) in enumerate(zip(tup, noise_std)):
                    noisy[i].append(x + gaussian_like(x, s, gen) if s > 0 else x)
            call_kwargs = dict(kwargs)
            if draw_baseline_from_distrib:
                index = baseline_index[start:stop].reshape(-1).to(device)
                call_kwargs["baselines"] = _one_or_tuple(tuple(d[index] for d in distribution))
            elif baselines is not None:
                call_kwargs["baselines"] = _expand_baselines(baselines, batch, k)
            output = _attribute(self.attribution_method, call.repeated(k, tuple(torch.cat(n) for n in noisy)),
                                call_kwargs)
            if want_delta:
                output, delta = output
                deltas.append(delta.reshape(k, batch))
            output_tuple = tuple(output) if isinstance(output, (tuple, list)) else (output,)
            if not form:
                form.append(type(output))
                for a in output_tuple:
                    totals.append(torch.zeros((batch, *a.shape[1:]), dtype=a.dtype, device=a.device))
                    squares.append(torch.zeros((batch, *a.shape[1:]), dtype=a.dtype, device=a.device))
            for i, a in enumerate(output_tuple):
                a = a.reshape(k, batch, *a.shape[1:]).to(totals[i].dtype)
                totals[i] += a.sum(0)
                squares[i] += (a * a).sum(0)

        points = Points.of(nt_samples, tup, lambda s, e: tup)
        size = points_per_chunk(points, None if nt_samples_batch_size is None else nt_samples_batch_size * batch,
                                "nt_samples_batch_size")
        run_chunks(points, size, show_progress, "NoiseTunnel", step)
        means = [t / nt_samples for t in totals]
        mean_squares = [q / nt_samples for q in squares]
        if nt_type == "smoothgrad":
            result = means
        elif nt_type == "smoothgrad_sq":
            result = mean_squares
        else:
            result = [q - m * m for q, m in zip(mean_squares, means)]
        formatted: Any = tuple(result) if form[0] is tuple else list(result) if form[0] is list else result[0]
        if want_delta:
            return formatted, torch.cat(deltas).t().reshape(-1)
        return formatted


def _one_or_tuple(values: tuple[Tensor, ...]) -> Tensor | tuple[Tensor, ...]:
    return values if len(values) > 1 else values[0]


def _expand_baselines(baselines: Any, batch: int, copies: int) -> Any:
    """Tile per-example baseline tensors (first dimension = batch) along with the copies;
    numbers, single rows, distributions and callables pass unchanged."""
    if isinstance(baselines, tuple):
        return tuple(_expand_baselines(b, batch, copies) for b in baselines)
    if isinstance(baselines, Tensor) and baselines.dim() > 0 and baselines.shape[0] == batch:
        return baselines.repeat(copies, *([1] * (baselines.dim() - 1)))
    return baselines


def _attribute(method: Any, call: Call, kwargs: dict[str, Any]) -> Any:
    """Run the wrapped method on the noisy copies: veracity's methods take the normalised call;
    a method from elsewhere gets the copies, the tiled target and arguments in Captum's form."""
    if isinstance(method, Attribution) and type(method).attribute_call is not Attribution.attribute_call:
        return method.attribute_call(call, **kwargs)
    user_kwargs = dict(kwargs)
    if call.target.index is not None or call.target.select is not None:
        user_kwargs["target"] = _target_argument(call.target)
    if call.args:
        user_kwargs["additional_forward_args"] = call.args
    return method.attribute(_one_or_tuple(call.inputs), **user_kwargs)


def _target_argument(target: TargetIndex) -> Any:
    if target.select is not None:
        return target.select
    assert target.index is not None
    index = target.index
    return index[:, 0] if index.shape[1] == 1 else [tuple(row) for row in index.tolist()]
