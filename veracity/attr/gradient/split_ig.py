"""Split Integrated Gradients (Miglani et al. 2020): IG over the unsaturated part of the path."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.engine import outputs_at
from veracity._core.validate import check_choice, check_positive_int, fail
from veracity.attr._base import GradientAttribution
from veracity.attr.gradient.integrated_gradients import PATH_METHODS, integrate_path, path_rule

TensorOrTuple = Tensor | tuple[Tensor, ...]


class SplitResult(NamedTuple):
    """Left (unsaturated) and right (saturated) IG, and where the path was split.

    ``left + right`` equals plain IG with the same steps. ``split_alpha`` is the first path
    point whose output passed the threshold, per example (1.0 when none did).
    """

    left: TensorOrTuple
    right: TensorOrTuple
    split_alpha: Tensor


class SplitIntegratedGradients(GradientAttribution):
    """Integrated Gradients split where the output saturates; ``attribute`` returns the left part.

    Miglani, Kokhlikyan, Alsallakh, Martin, Reblitz-Richardson, "Investigating Saturation
    Effects in Integrated Gradients" (ICML WHI 2020). Along the path ``x' + a (x - x')`` the
    threshold is ``F(x') + ratio * (F(x) - F(x'))``; the path points before the first one whose
    output exceeds it form the unsaturated (left) part, the rest the saturated (right) part.
    Defaults follow the paper's notebook: ``riemann_right`` with 200 steps, ratio 0.9. One
    pass over the path computes both parts (the gradients and outputs come from the same
    model calls). Explain a probability (wrap the model with a softmax) to reproduce the
    paper; logits work too.

    Example:
        >>> import torch
        >>> from veracity.attr import SplitIntegratedGradients
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(1)).eval()
        >>> x = torch.randn(2, 4)
        >>> split = SplitIntegratedGradients(model).attribute_split(x, target=0, n_steps=50)
        >>> split.left.shape, split.split_alpha.shape
        (torch.Size([2, 4]), torch.Size([2]))
    """

    def __init__(self, forward_func: Callable[..., Any], multiply_by_inputs: bool = True) -> None:
        super().__init__(forward_func)
        self._multiply_by_inputs = multiply_by_inputs

    def attribute(self, inputs: TensorOrTuple, baselines: Any = None, target: Any = None,
                  additional_forward_args: Any = None, n_steps: int = 200, method: str = "riemann_right",
                  internal_batch_size: int | None = None, ratio: float = 0.9, *,
                  show_progress: bool = False) -> TensorOrTuple:
        """The left (unsaturated) IG; see :meth:`attribute_split` for both parts."""
        return self.attribute_split(inputs, baselines, target, additional_forward_args, n_steps, method,
                                    internal_batch_size, ratio, show_progress=show_progress).left

    def attribute_split(self, inputs: TensorOrTuple, baselines: Any = None, target: Any = None,
                        additional_forward_args: Any = None, n_steps: int = 200, method: str = "riemann_right",
                        internal_batch_size: int | None = None, ratio: float = 0.9, *,
                        show_progress: bool = False) -> SplitResult:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.split_call(call, baselines, n_steps, method, internal_batch_size, ratio,
                               show_progress=show_progress)

    def attribute_call(self, call: Call, baselines: Any = None, n_steps: int = 200, method: str = "riemann_right",
                       internal_batch_size: int | None = None, ratio: float = 0.9, *,
                       show_progress: bool = False) -> TensorOrTuple:
        return self.split_call(call, baselines, n_steps, method, internal_batch_size, ratio,
                               show_progress=show_progress).left

    def split_call(self, call: Call, baselines: Any = None, n_steps: int = 200, method: str = "riemann_right",
                   internal_batch_size: int | None = None, ratio: float = 0.9, *,
                   show_progress: bool = False) -> SplitResult:
        """:meth:`attribute_split` on a normalised call."""
        tup, batch = call.inputs, call.batch
        check_choice("method", method, PATH_METHODS)
        check_positive_int("n_steps", n_steps)
        if not isinstance(ratio, (int, float)) or not 0.0 < ratio <= 1.0:
            fail("ratio", "a number in (0, 1]", ratio)
        base = call.baselines(baselines)
        ends = outputs_at(call, [tup, base])
        threshold = ends[1] + ratio * (ends[0] - ends[1])
        increasing = ends[0] >= ends[1]
        alphas, weights = path_rule(method, n_steps)
        weight_t = torch.tensor(weights, dtype=tup[0].dtype, device=tup[0].device)
        saturated = torch.zeros(batch, dtype=torch.bool, device=tup[0].device)
        split_alpha = torch.ones(batch, dtype=tup[0].dtype, device=tup[0].device)
        left = [torch.zeros_like(x) for x in tup]

        def on_chunk(start: int, stop: int, grads: tuple[Tensor, ...], scalars: Tensor) -> None:
            for offset, step in enumerate(range(start, stop)):
                passed = torch.where(increasing, scalars[offset] > threshold, scalars[offset] < threshold)
                newly = passed & ~saturated
                split_alpha[newly] = alphas[step]
                saturated.logical_or_(passed)
                keep = (~saturated).to(tup[0].dtype) * weight_t[step]
                for total, grad in zip(left, grads):
                    g = grad[offset * batch:(offset + 1) * batch]
                    total += g * keep.view(-1, *([1] * (g.dim() - 1)))

        integrated = integrate_path(call, base, n_steps, method, internal_batch_size, show_progress,
                                    on_chunk=on_chunk)
        right = [full - part for full, part in zip(integrated, left)]
        if self._multiply_by_inputs:
            left = [g * (x - b) for g, x, b in zip(left, tup, base)]
            right = [g * (x - b) for g, x, b in zip(right, tup, base)]
        return SplitResult(call.finish(left), call.finish(right), split_alpha)
