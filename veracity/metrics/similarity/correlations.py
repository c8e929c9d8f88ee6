"""Similarity of two batches of attribution maps, one score per example (higher = more alike).

Used by the randomisation sanity checks (Adebayo et al., "Sanity Checks for Saliency Maps",
NeurIPS 2018) and the robustness metrics. Every function takes two tensors of the same shape
``(batch, ...)`` and returns a ``(batch,)`` tensor on their device. A constant map has no
defined correlation: the correlations return NaN for it (documented, never a silent 0).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from veracity._core.validate import check_positive_int, fail
from veracity.metrics._engine.stats import average_ranks, correlation

__all__ = ["pearson", "spearman", "spearman_abs", "rank", "gradient_histogram_correlation",
           "top_k_overlap", "against_reference"]


def _pair(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        fail("a", "two tensors", f"{type(a).__name__} and {type(b).__name__}", TypeError)
    if a.shape != b.shape:
        fail("b", f"a tensor of the same shape as `a` {tuple(a.shape)}", b)
    if a.dim() < 2:
        fail("a", "a batch of maps, shape (batch, ...)", a)
    dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
    return a.reshape(a.shape[0], -1).to(dtype), b.reshape(b.shape[0], -1).to(dtype)


def pearson(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation of the flattened maps, per example (NaN for a constant map).

    Example:
        >>> import torch
        >>> a = torch.tensor([[1.0, 2.0, 3.0]])
        >>> pearson(a, 2 * a + 1)
        tensor([1.])
    """
    x, y = _pair(a, b)
    return correlation(x, y)


def rank(values: Tensor) -> Tensor:
    """Ranks (1-based) of each row of a ``(batch, n)`` tensor, ties given their average rank.

    The same convention as ``scipy.stats.rankdata(method="average")``, batched on the device.

    Example:
        >>> import torch
        >>> rank(torch.tensor([[0.5, 0.0, 0.0, 2.0]]))
        tensor([[3.0000, 1.5000, 1.5000, 4.0000]])
    """
    if not isinstance(values, Tensor):
        fail("values", "a tensor", values, TypeError)
    if values.dim() != 2:
        fail("values", "a (batch, n) tensor", values)
    out_dtype = values.dtype if values.is_floating_point() else torch.float64
    return average_ranks(values).to(out_dtype)


def spearman(a: Tensor, b: Tensor) -> Tensor:
    """Spearman rank correlation of the signed maps, per example (ties get average ranks).

    Invariant to any increasing rescaling, so normalising by ``max|A|`` first (as Adebayo et
    al.'s notebooks do) changes nothing.

    Example:
        >>> import torch
        >>> a = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
        >>> spearman(a, a ** 3)
        tensor([1.])
    """
    x, y = _pair(a, b)
    # ranks of the values as given (a float32 map ranks the same as its float64 copy)
    return correlation(average_ranks(x), average_ranks(y)).to(x.dtype)


def spearman_abs(a: Tensor, b: Tensor) -> Tensor:
    """Spearman rank correlation of the absolute maps ``|A|`` (Adebayo et al.'s main score).

    Example:
        >>> import torch
        >>> a = torch.tensor([[1.0, -2.0, 3.0]])
        >>> spearman_abs(a, -a)
        tensor([1.])
    """
    return spearman(a.abs(), b.abs())


def against_reference(fn: Callable[[Tensor, Tensor], Tensor], reference: Tensor, maps: Tensor) -> Tensor:
    """``fn(reference, maps[s])`` for every stage ``s`` in one batched call: ``(stages, batch)``.

    ``reference`` is ``(batch, ...)`` and ``maps`` ``(stages, batch, ...)``. For the rank
    correlations (:func:`spearman`, :func:`spearman_abs`) the reference is ranked once, not
    once per stage; any other ``fn(a, b) -> (batch,)`` is called on the stacked pairs.

    Example:
        >>> import torch
        >>> a = torch.tensor([[1.0, 2.0, 3.0]])
        >>> against_reference(spearman, a, torch.stack([a, -a]))
        tensor([[ 1.],
                [-1.]])
    """
    stages, batch = maps.shape[0], maps.shape[1]
    pairs = maps.reshape(stages * batch, *maps.shape[2:])
    if fn is spearman or fn is spearman_abs:
        if reference.shape != maps.shape[1:]:
            fail("reference", f"a tensor of the maps' shape after the stage dimension {tuple(maps.shape[1:])}",
                 reference)
        x, _ = _pair(reference, reference)
        _, y = _pair(pairs, pairs)
        if fn is spearman_abs:
            x, y = x.abs(), y.abs()
        ref_ranks = average_ranks(x).repeat(stages, 1)
        return correlation(ref_ranks, average_ranks(y)).to(x.dtype).reshape(stages, batch)
    expanded = reference.unsqueeze(0).expand_as(maps).reshape(pairs.shape)
    return fn(expanded, pairs).reshape(stages, batch)


def gradient_histogram_correlation(a: Tensor, b: Tensor, bins: int = 50) -> Tensor:
    """Pearson correlation of the histograms of the two maps' values, per example.

    The "histogram of gradients" comparison of the sanity-check notebooks: both maps are
    normalised by ``max|A|`` (the signed, diverging normalisation) and their values are
    binned on the shared range [-1, 1]; the score compares the value *distributions*, not
    where the values are. NaN when a histogram is flat.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> a = torch.randn(2, 100, generator=g)
        >>> shuffled = a[:, torch.randperm(100, generator=g)]
        >>> torch.allclose(gradient_histogram_correlation(a, shuffled), torch.ones(2))
        True
    """
    check_positive_int("bins", bins, 2)
    x, y = _pair(a, b)
    histograms = []
    for z in (x, y):
        scaled = z / z.abs().amax(1, keepdim=True).clamp_min(torch.finfo(z.dtype).tiny)
        index = ((scaled + 1) / 2 * bins).long().clamp(0, bins - 1)
        histograms.append(F.one_hot(index, bins).sum(1).to(z.dtype))
    return correlation(*histograms)


def top_k_overlap(a: Tensor, b: Tensor, k: int) -> Tensor:
    """Share of the ``k`` largest ``|a|`` features that are also among the ``k`` largest ``|b|``.

    Ghorbani et al., "Interpretation of Neural Networks is Fragile" (AAAI 2019). Ties are
    broken by position. Higher = more alike.

    Example:
        >>> import torch
        >>> top_k_overlap(torch.tensor([[3.0, 2.0, 1.0, 0.0]]), torch.tensor([[3.0, 0.0, 2.0, 1.0]]), 2)
        tensor([0.5000])
    """
    x, y = _pair(a, b)
    check_positive_int("k", k)
    if k > x.shape[1]:
        fail("k", f"at most the number of features ({x.shape[1]})", str(k))
    top_a = torch.zeros_like(x, dtype=torch.bool).scatter_(1, x.abs().topk(k, 1).indices, True)
    top_b = torch.zeros_like(y, dtype=torch.bool).scatter_(1, y.abs().topk(k, 1).indices, True)
    return (top_a & top_b).sum(1).to(x.dtype) / k
