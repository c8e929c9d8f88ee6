"""Blur Integrated Gradients (Xu, Venugopalan, Sundararajan, CVPR 2020): integrate along a path of
increasingly blurred inputs instead of a straight line to a baseline."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.chunking import Points
from veracity._core.engine import gradient_points, outputs_at
from veracity._core.validate import check_positive_int, fail
from veracity.attr._base import GradientAttribution, convergence_delta

TensorOrTuple = Tensor | tuple[Tensor, ...]
TRUNCATE = 4.0  # scipy.ndimage.gaussian_filter's default: the kernel reaches 4 sigma


@lru_cache(maxsize=256)
def _blur_matrix_cached(n: int, sigma: float) -> Tensor:
    if sigma == 0.0:
        return torch.eye(n, dtype=torch.float64)
    radius = int(TRUNCATE * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    rows = torch.arange(n).unsqueeze(1)
    source = (rows + offsets.long().unsqueeze(0)) % (2 * n)  # half-sample symmetric ('reflect') padding
    source = torch.where(source >= n, 2 * n - 1 - source, source)
    matrix = torch.zeros(n, n, dtype=torch.float64)
    matrix.index_put_((rows.expand_as(source), source), kernel.expand_as(source).clone(), accumulate=True)
    return matrix


def blur_matrix(n: int, sigma: float) -> Tensor:
    """The ``n x n`` matrix of a 1-D Gaussian blur with ``sigma`` (scipy's ``gaussian_filter``
    with ``mode='reflect'``, truncated at 4 sigma); the identity for ``sigma = 0``.

    Example:
        >>> m = blur_matrix(5, 1.0)
        >>> m.shape, [round(float(s), 6) for s in m.sum(1)]
        (torch.Size([5, 5]), [1.0, 1.0, 1.0, 1.0, 1.0])
    """
    return _blur_matrix_cached(int(n), float(sigma))


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """``x`` (batch first) blurred over its last two dimensions (images ``(N, C, H, W)``; the
    channels are blurred separately) or, for ``(N, F)`` / ``(N, C, L)``, over the last one.

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 1, 5, 5); x[0, 0, 2, 2] = 1.0
        >>> round(float(gaussian_blur(x, 1.0).sum()), 6), float(gaussian_blur(x, 0.0)[0, 0, 2, 2])
        (1.0, 1.0)
    """
    if x.dim() < 2:
        fail("inputs", "batch-first tensors with at least 2 dimensions", f"shape {tuple(x.shape)}")
    if sigma == 0.0:
        return x
    last = blur_matrix(x.shape[-1], sigma).to(dtype=x.dtype, device=x.device)
    blurred = x @ last.t()
    if x.dim() >= 4:
        rows = blur_matrix(x.shape[-2], sigma).to(dtype=x.dtype, device=x.device)
        blurred = rows @ blurred
    return blurred


def blur_levels(x: Tensor, sigmas: list[float]) -> Tensor:
    """:func:`gaussian_blur` of ``x`` at each of ``sigmas`` in one batched product:
    ``(len(sigmas), *x.shape)``.

    Example:
        >>> import torch
        >>> x = torch.rand(2, 1, 4, 4)
        >>> levels = blur_levels(x, [0.0, 1.5])
        >>> levels.shape, torch.allclose(levels[1], gaussian_blur(x, 1.5), atol=1e-6)
        (torch.Size([2, 2, 1, 4, 4]), True)
    """
    def stack(n: int) -> Tensor:
        return torch.stack([blur_matrix(n, s) for s in sigmas]).to(dtype=x.dtype, device=x.device)

    if x.dim() >= 4:
        return torch.einsum("khi,...ij,kwj->k...hw", stack(x.shape[-2]), x, stack(x.shape[-1]))
    return torch.einsum("kfj,...j->k...f", stack(x.shape[-1]), x)


def blur_sigmas(max_sigma: float, n_steps: int, sqrt: bool = False) -> list[float]:
    """The ``n_steps + 1`` blur levels of the reference implementation: ``i * max_sigma / n``,
    or their square roots with ``sqrt``.

    Example:
        >>> blur_sigmas(4.0, 4)
        [0.0, 1.0, 2.0, 3.0, 4.0]
    """
    levels = [i * max_sigma / n_steps for i in range(n_steps + 1)]
    return [math.sqrt(s) for s in levels] if sqrt else levels


class BlurIntegratedGradients(GradientAttribution):
    """Blur IG: the path runs from the input (no blur) to a heavily blurred copy of it.

    Xu, Venugopalan, Sundararajan, "Attribution in Scale and Space" (CVPR 2020). The points
    are ``p_i = blur(x, sigma_i)``, ``sigma_i = i * max_sigma / n_steps`` (or the square roots
    with ``sqrt=True``), ``i = 0..n_steps``; the attribution is ``sum_i grad F(p_i) * (p_i -
    p_{i+1})``, the reference implementation's left Riemann sum with the exact step of the
    path instead of a finite-difference derivative of the blur. Its sum approximates ``F(x) -
    F(blur(x, max_sigma))`` (completeness with the blurred image as the implicit baseline;
    the error shrinks with ``n_steps``, see ``return_convergence_delta``). Images ``(N, C, H,
    W)`` are blurred over H and W (each channel alone), ``(N, F)`` and ``(N, C, L)`` inputs
    over their last dimension, with scipy's ``gaussian_filter`` conventions (reflecting
    borders, kernel truncated at 4 sigma). Defaults are the reference's (PAIR saliency):
    ``max_sigma=50``, 100 steps. Gradients come from the engine in chunks
    (``internal_batch_size`` rows per model call, or the memory budget).

    Example:
        >>> import torch
        >>> from veracity.attr import BlurIntegratedGradients
        >>> from veracity.data import toy_cnn
        >>> model, x = toy_cnn()
        >>> attr, delta = BlurIntegratedGradients(model).attribute(
        ...     x, target=0, max_sigma=4.0, n_steps=64, return_convergence_delta=True)
        >>> attr.shape, bool(delta.abs().max() < 1e-2)
        (torch.Size([2, 1, 8, 8]), True)
    """

    def attribute(self, inputs: TensorOrTuple, target: Any = None, additional_forward_args: Any = None,
                  n_steps: int = 100, max_sigma: float = 50.0, sqrt: bool = False,
                  internal_batch_size: int | None = None, return_convergence_delta: bool = False, *,
                  show_progress: bool = False) -> TensorOrTuple | tuple[TensorOrTuple, Tensor]:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.attribute_call(call, n_steps, max_sigma, sqrt, internal_batch_size, return_convergence_delta,
                                   show_progress=show_progress)

    def attribute_call(self, call: Call, n_steps: int = 100, max_sigma: float = 50.0, sqrt: bool = False,
                       internal_batch_size: int | None = None, return_convergence_delta: bool = False, *,
                       show_progress: bool = False) -> TensorOrTuple | tuple[TensorOrTuple, Tensor]:
        check_positive_int("n_steps", n_steps)
        if not isinstance(max_sigma, (int, float)) or not max_sigma > 0 or not math.isfinite(max_sigma):
            fail("max_sigma", "a positive finite number", max_sigma)
        for x in call.inputs:
            if x.dim() < 2:
                fail("inputs", "batch-first tensors with at least 2 dimensions", f"shape {tuple(x.shape)}")
        sigmas = blur_sigmas(float(max_sigma), n_steps, sqrt)
        inputs = call.inputs
        totals = [torch.zeros_like(x) for x in inputs]
        built: dict[int, list[Tensor]] = {}  # the last chunk's levels start..stop (one more than its points)

        def build(start: int, stop: int) -> tuple[Tensor, ...]:
            levels = [blur_levels(x, sigmas[start:stop + 1]) for x in inputs]
            built.clear()
            built[start] = levels
            return tuple(level[:-1].reshape(-1, *x.shape[1:]) for level, x in zip(levels, inputs))

        def consume(start: int, stop: int, grads: tuple[Tensor, ...], scalars: Tensor) -> None:
            for total, grad, level in zip(totals, grads, built[start]):
                steps = level[:-1] - level[1:]  # p_i - p_{i+1}
                total += (grad.reshape(steps.shape) * steps).sum(0)

        gradient_points(call, Points.of(n_steps, inputs, build), consume, chunk_rows=internal_batch_size,
                        show_progress=show_progress, desc="BlurIntegratedGradients")
        result = call.finish(totals)
        if not return_convergence_delta:
            return result
        values = outputs_at(call, [inputs, tuple(gaussian_blur(x, sigmas[-1]) for x in inputs)])
        return result, convergence_delta(tuple(totals), values[0] - values[1])

    def has_convergence_delta(self) -> bool:
        return True
