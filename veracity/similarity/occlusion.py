"""Conditional occlusion: which parts of one input keep it similar to another.

Sammani, Joukovsky & Deligiannis, "Visualizing and Understanding Self-Supervised Vision
Learning" (arXiv 2206.09753). For an embedding model ``g`` and a similarity ``s`` (cosine by
default), a window of the explained view ``x1`` is set to the baseline and the drop
``s(g(x1), g(x2)) - s(g(x1 occluded), g(x2))`` is credited to it, ``x2`` (the *condition*)
held fixed. The windows are Captum's Occlusion windows (``sliding_window_shapes``,
``strides``, the last one clipped at the border) and each element gets the mean drop of the
windows that cover it: the scorer ``x -> s(g(x), g(x2))`` is handed to
:class:`veracity.attr.Occlusion`, so chunking, baselines and window bookkeeping are Occlusion's.
"""

from __future__ import annotations

from typing import Any, Callable

from torch import Tensor

from veracity._core.call import Call
from veracity._core.inputs import as_tuple, check_inputs
from veracity._core.similarity import conditioned_score, context_agnostic_score, embed, similarity_function
from veracity.attr import Occlusion
from veracity.similarity._views import check_same_batch

TensorOrTuple = Tensor | tuple[Tensor, ...]


class ConditionalOcclusion:
    """Occlusion of one view, scored by its similarity to a second view (the condition).

    ``forward_func`` is any embedding model: it maps a batch of one view (and
    ``additional_forward_args``) to one embedding per example, any trailing shape (flattened).
    ``similarity`` is ``"cosine"`` (the paper's), ``"dot"`` or a callable ``(z1, z2) -> (rows,)``.
    ``attribute(inputs, condition, sliding_window_shapes, strides, baselines)`` follows
    Captum's Occlusion for ``inputs`` (baselines: 0 by default, the paper's fill value);
    ``condition`` is the other view, one row per row of ``inputs``. The heat map of the other
    view is ``attribute(condition, inputs, ...)``; :meth:`attribute_pair` gives both.

    An all-zero window occluded with a zero baseline leaves the input, hence the similarity,
    unchanged: its drop is exactly 0. Both views' embeddings must have the same width.

    ``context_agnostic=True`` is the paper's context-agnostic variant: a window scores
    ``s(g(x1 with only the window kept) - g(x1 with the window occluded), g(x2))`` (the rest,
    resp. the window, at the baseline), averaged over the windows covering each element like
    the drops; the paper min-max normalises the map afterwards.

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> from veracity.similarity import ConditionalOcclusion
        >>> encoder, x = toy_cnn()  # its 3 outputs serve as the embedding
        >>> heat = ConditionalOcclusion(encoder).attribute(x, x.roll(1, dims=-1), sliding_window_shapes=(1, 3, 3))
        >>> heat.shape
        torch.Size([2, 1, 8, 8])
    """

    def __init__(self, forward_func: Callable[..., Any], similarity: Any = "cosine") -> None:
        self.forward_func = forward_func
        self.similarity = similarity_function(similarity)

    def attribute(self, inputs: TensorOrTuple, condition: TensorOrTuple,
                  sliding_window_shapes: tuple[int, ...] | tuple[tuple[int, ...], ...],
                  strides: Any = None, baselines: Any = None, additional_forward_args: Any = None,
                  perturbations_per_eval: int | None = None, show_progress: bool = False,
                  context_agnostic: bool = False) -> TensorOrTuple:
        """Mean similarity drop of the windows covering each element of ``inputs``, given
        ``condition`` (or, ``context_agnostic``, their mean window score); shaped like ``inputs``
        (a tuple for a tuple)."""
        call = Call.of(self.forward_func, inputs, None, additional_forward_args)
        condition_inputs, _ = as_tuple(condition, "condition")
        check_inputs(condition_inputs, "condition")
        check_same_batch("inputs", call.inputs, "condition", condition_inputs)
        reference = embed(Call.of(self.forward_func, condition, None, additional_forward_args))
        shapes = (_shown(call.inputs), _shown(condition_inputs))
        if not context_agnostic:
            score = conditioned_score(self.forward_func, reference, self.similarity, shapes)
            return Occlusion(score).attribute_call(call.with_forward(score), sliding_window_shapes, strides,
                                                   baselines, perturbations_per_eval, show_progress)
        score = context_agnostic_score(self.forward_func, call.inputs, call.baselines(baselines), reference,
                                       self.similarity, shapes)
        drops = Occlusion(score).attribute_call(call.with_forward(score), sliding_window_shapes, strides, baselines,
                                                perturbations_per_eval, show_progress)
        # Occlusion gives score(x) - mean window score; score(x) is the score with nothing kept
        nothing_kept = embed(call.with_forward(score))[:, 0]
        drops = drops if isinstance(drops, tuple) else (drops,)
        return call.finish([nothing_kept.view(-1, *([1] * (d.dim() - 1))).to(d.dtype) - d for d in drops])

    def attribute_pair(self, view1: TensorOrTuple, view2: TensorOrTuple,
                       sliding_window_shapes: tuple[int, ...] | tuple[tuple[int, ...], ...],
                       strides: Any = None, baselines: Any = None, additional_forward_args: Any = None,
                       perturbations_per_eval: int | None = None, show_progress: bool = False,
                       context_agnostic: bool = False) -> tuple[TensorOrTuple, TensorOrTuple]:
        """``(heat1, heat2)``: each view occluded with the other as condition (the paper's
        two maps). The views must have the same structure (window shapes apply to both).

        Example:
            >>> from veracity.data.toy import toy_cnn
            >>> encoder, x = toy_cnn()
            >>> heat1, heat2 = ConditionalOcclusion(encoder).attribute_pair(x, x, (1, 2, 2), strides=2)
            >>> bool((heat1 == heat2).all())
            True
        """
        options: dict[str, Any] = {"strides": strides, "baselines": baselines,
                                   "additional_forward_args": additional_forward_args,
                                   "perturbations_per_eval": perturbations_per_eval, "show_progress": show_progress,
                                   "context_agnostic": context_agnostic}
        return (self.attribute(view1, view2, sliding_window_shapes, **options),
                self.attribute(view2, view1, sliding_window_shapes, **options))


def _shown(inputs: tuple[Tensor, ...]) -> Any:
    shapes = [tuple(t.shape) for t in inputs]
    return shapes[0] if len(shapes) == 1 else tuple(shapes)
