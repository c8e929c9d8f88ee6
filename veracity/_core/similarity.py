"""Model calls for explanations of a similarity between two inputs (``veracity.similarity``).

An *embedding model* maps a batch of one view to one embedding row per example (any trailing
shape, flattened); the explained score of a pair is ``similarity(g(x1), g(x2))``, cosine by
default. Three engine pieces:

* :func:`embed` / :func:`embed_points`: embeddings of a batch, or of many stacked perturbed
  copies of it (through :func:`~veracity._core.engine.forward_points`, chunked);
* :func:`conditioned_score`: the model as a scorer of one view against the fixed embeddings of
  the other, so that the perturbation family (Occlusion) explains a similarity unchanged
  (:func:`context_agnostic_score`: the same for the paper's context-agnostic variant);
* :func:`pair_layer_gradients`: a layer's values for both views and the gradient of the
  pair's similarity with respect to them (Interaction-CAM), one chunk of pairs at a time.

Both views' embeddings must have the same width: a model whose output width depends on the
input's size fails here with the widths and the views' shapes as passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.call import Call
from veracity._core.capture import rows_of
from veracity._core.chunking import Points, points_per_chunk, run_chunks
from veracity._core.engine import forward_points
from veracity._core.inputs import call_forward
from veracity._core.layers import Site, layer_name, run_hooked
from veracity._core.validate import describe, fail

Similarity = Callable[[Tensor, Tensor], Tensor]
BuildFn = Callable[[int, int], tuple[Tensor, ...]]


def cosine(first: Tensor, second: Tensor) -> Tensor:
    """Row-wise cosine similarity of two ``(rows, width)`` embeddings (0 for a zero row).

    Example:
        >>> cosine(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]))
        tensor([1.])
    """
    return torch.nn.functional.cosine_similarity(first, second, dim=1, eps=1e-12)


def dot(first: Tensor, second: Tensor) -> Tensor:
    """Row-wise dot product of two ``(rows, width)`` embeddings.

    Example:
        >>> dot(torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]]))
        tensor([11.])
    """
    return (first * second).sum(1)


_NAMED: dict[str, Similarity] = {"cosine": cosine, "dot": dot}


def similarity_function(similarity: Any) -> Similarity:
    """``"cosine"``, ``"dot"`` or a callable ``(z1, z2) -> (rows,)`` of two ``(rows, width)``
    embeddings; checked here, its outputs checked at every use.

    Example:
        >>> similarity_function("dot") is dot
        True
    """
    if isinstance(similarity, str) and similarity in _NAMED:
        return _NAMED[similarity]
    if callable(similarity) and not isinstance(similarity, str):
        return similarity
    fail("similarity", "'cosine', 'dot' or a callable (z1, z2) -> one score per row", similarity, ValueError)


def flat_embedding(output: Tensor, rows: int) -> Tensor:
    """The model's output as ``(rows, width)``: one embedding row per input row."""
    if output.dim() == 0 or output.shape[0] != rows:
        fail("forward_func", f"an embedding model returning one row per example ({rows} rows)",
             f"an output of shape {tuple(output.shape)}")
    return output.reshape(rows, -1)


def check_widths(first: Tensor, second: Tensor, shapes: tuple[Any, Any]) -> None:
    """Both views' embeddings must have the same width; ``shapes`` are the views as passed."""
    if first.shape[1] != second.shape[1]:
        fail("forward_func", "an embedding model that returns embeddings of the same width for both views",
             f"width {first.shape[1]} for the first view (shape {shapes[0]}) and width {second.shape[1]} "
             f"for the second (shape {shapes[1]})")


def scored(similarity: Similarity, first: Tensor, second: Tensor) -> Tensor:
    """``similarity(first, second)``, checked to be one score per row."""
    values = similarity(first, second)
    if not isinstance(values, Tensor) or tuple(values.shape) != (first.shape[0],):
        fail("similarity", f"a callable returning one score per row (shape ({first.shape[0]},))",
             values if not isinstance(values, Tensor) else f"shape {tuple(values.shape)}")
    return values


def embed_points(call: Call, n_points: int, build: BuildFn, chunk_rows: int | None = None,
                 chunk_name: str = "perturbations_per_eval", show_progress: bool = False,
                 desc: str = "embeddings") -> Tensor:
    """Embeddings of ``n_points`` stacked versions of ``call``'s batch, ``(n_points, batch, width)``;
    ``build(start, stop)`` gives the model inputs of points ``start..stop-1`` (point-major rows).

    Example:
        >>> model = torch.nn.Flatten()
        >>> x = torch.ones(2, 1, 2, 2)
        >>> embed_points(Call.of(model, x), 3, lambda a, b: (x.repeat(b - a, 1, 1, 1),)).shape
        torch.Size([3, 2, 4])
    """
    parts: list[Tensor] = []

    def consume(start: int, stop: int, values: Tensor) -> None:
        parts.append(values.reshape(stop - start, call.batch, -1))

    points = Points.of(n_points, call.inputs, build)
    forward_points(call, points, consume, raw=True, chunk_rows=chunk_rows, chunk_name=chunk_name,
                   show_progress=show_progress, desc=desc)
    return torch.cat(parts)


def embed(call: Call) -> Tensor:
    """The embeddings of ``call``'s inputs, ``(batch, width)``, in one model call.

    Example:
        >>> embed(Call.of(torch.nn.Flatten(), torch.ones(2, 3, 2))).shape
        torch.Size([2, 6])
    """
    return embed_points(call, 1, lambda start, stop: call.inputs, chunk_rows=call.batch)[0]


def conditioned_score(forward_func: Callable[..., Any], condition: Tensor, similarity: Similarity,
                      shapes: tuple[Any, Any]) -> Callable[..., Tensor]:
    """A forward function scoring its inputs against fixed embeddings: ``x -> similarity(g(x), c)``.

    ``condition`` is ``(batch, width)``; the engine calls the scorer on point-major stacks of
    the batch, so the condition is tiled to match. ``shapes``: the explained view and the
    condition as passed (for the width error).

    Example:
        >>> score = conditioned_score(torch.nn.Flatten(), torch.ones(1, 2), dot, ((1, 2), (1, 2)))
        >>> score(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor([3., 7.])
    """
    batch = condition.shape[0]

    def score(*arguments: Any) -> Tensor:
        rows = arguments[0].shape[0]
        embedding = flat_embedding(call_forward(forward_func, arguments, ()), rows)
        check_widths(embedding, condition, shapes)
        tiled = condition.to(embedding.dtype).repeat(max(rows // batch, 1), 1)[:rows]
        return scored(similarity, embedding, tiled)

    return score


def context_agnostic_score(forward_func: Callable[..., Any], inputs: tuple[Tensor, ...], baselines: tuple[Tensor, ...],
                           condition: Tensor, similarity: Similarity, shapes: tuple[Any, Any]) -> Callable[..., Tensor]:
    """A forward function for Occlusion's occluded copies ``x_mask`` (the window at the baseline):
    ``similarity(g(x_keep) - g(x_mask), c)`` with ``x_keep = x + baseline - x_mask`` (only the
    window kept, the rest at the baseline); both embeddings from one model call.

    Example:
        >>> x, base = torch.tensor([[1.0, 2.0]]), torch.zeros(1, 2)
        >>> score = context_agnostic_score(torch.nn.Flatten(), (x,), (base,), torch.ones(1, 2), dot, ((1, 2), (1, 2)))
        >>> score(torch.tensor([[0.0, 2.0]]))  # window on the first element: g(keep) - g(mask) = (1, -2)
        tensor([-1.])
    """
    batch = condition.shape[0]

    def score(*arguments: Any) -> Tensor:
        masked = arguments[:len(inputs)]
        rows = masked[0].shape[0]
        copies = max(rows // batch, 1)
        kept = tuple(x.repeat(copies, *([1] * (x.dim() - 1))) + b.repeat(copies, *([1] * (b.dim() - 1))) - m
                     for x, b, m in zip(inputs, baselines, masked))
        both = tuple(torch.cat([k, m]) for k, m in zip(kept, masked))
        extra = tuple(torch.cat([a, a]) if isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == rows else a
                      for a in arguments[len(inputs):])
        embeddings = flat_embedding(call_forward(forward_func, both, extra), 2 * rows)
        check_widths(embeddings, condition, shapes)
        tiled = condition.to(embeddings.dtype).repeat(copies, 1)[:rows]
        return scored(similarity, embeddings[:rows] - embeddings[rows:], tiled)

    return score


@dataclass(frozen=True)
class PairGradients:
    """A layer's values for both views, the gradients of the pairs' similarity there, the
    embeddings of both views (``(batch, width)``) and the similarities (``(batch,)``)."""

    values: tuple[Tensor, Tensor]
    gradients: tuple[Tensor, Tensor]
    embeddings: tuple[Tensor, Tensor]
    scores: Tensor


def pair_layer_gradients(forward_func: Callable[..., Any], layer: nn.Module, views: tuple[Tensor, Tensor],
                         args: tuple[Any, ...], similarity: Similarity, chunk_rows: int | None = None,
                         show_progress: bool = False) -> PairGradients:
    """``layer``'s output for each view and the gradient of ``similarity(g(x1), g(x2))`` with
    respect to it; pairs are evaluated in chunks (``chunk_rows`` pairs per chunk, or from the
    memory budget), each view in its own model call. Gradients stop at the layer: the forward
    pass before it records no graph. Hooks are removed on exit, also on error.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Flatten())
        >>> x = torch.tensor([[1.0, 0.0]])
        >>> found = pair_layer_gradients(model, model[0], (x, 2 * x), (), dot)
        >>> found.gradients[0], found.scores
        (tensor([[2., 0.]]), tensor([2.]))
    """
    first, second = views
    batch = first.shape[0]
    shapes = (tuple(first.shape), tuple(second.shape))
    collected: list[list[Tensor]] = [[] for _ in range(7)]
    site = Site(forward_func, layer, False)

    def layer_values(x: Tensor, chunk_args: tuple[Any, ...]) -> tuple[Tensor, Tensor]:
        seen: list[Tensor] = []

        def change(values: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            if len(values) != 1:
                fail("layer", "a module whose output is one tensor",
                     f"{layer_name(forward_func, layer)} with an output of {len(values)} tensors", TypeError)
            leaf = values[0].detach().clone().requires_grad_()
            seen.append(leaf)
            return (leaf.clone(),)  # later in-place operations act on the copy, not on the leaf

        output = run_hooked(forward_func, [site], [change], (x, *chunk_args), grad_from_layer=True)
        if not isinstance(output, Tensor):
            fail("forward_func", "a model that returns a tensor", f"{describe(output)} from the model", TypeError)
        return seen[0], flat_embedding(output, x.shape[0])

    def step(start: int, stop: int) -> None:
        chunk_args = rows_of(args, batch, start, stop)
        with torch.enable_grad():
            values1, embedding1 = layer_values(first[start:stop], chunk_args)
            values2, embedding2 = layer_values(second[start:stop], chunk_args)
            check_widths(embedding1, embedding2, shapes)
            pair_scores = scored(similarity, embedding1, embedding2)
            if not pair_scores.requires_grad:
                fail("similarity", "a score that depends on the embeddings through autograd",
                     "a score with no gradient")
            grads = torch.autograd.grad(pair_scores.sum(), (values1, values2), allow_unused=True)
        grads = tuple(torch.zeros_like(v) if g is None else g for g, v in zip(grads, (values1, values2)))
        found = (values1, values2, *grads, embedding1, embedding2, pair_scores)
        for bucket, value in zip(collected, found):
            bucket.append(value.detach())

    pair_bytes = sum(v[:1].numel() * v.element_size() for v in views)
    points = Points(batch, 1, lambda start, stop: (), max(pair_bytes, 1), first.device)  # a point: one pair
    run_chunks(points, points_per_chunk(points, chunk_rows, "internal_batch_size"), show_progress,
               "Interaction-CAM", step, model=forward_func)
    joined = [torch.cat(bucket) for bucket in collected]
    return PairGradients((joined[0], joined[1]), (joined[2], joined[3]), (joined[4], joined[5]), joined[6])
