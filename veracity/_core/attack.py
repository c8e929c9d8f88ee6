"""Model calls for attacks: input gradients of a loss, plain outputs, and gradients of
differentiable explanation maps (second order) for attacks on explanations.

``veracity.robust`` describes what it needs (a loss of the outputs, an objective of an
explanation map) and this module runs the model and autograd: one forward and one
``torch.autograd.grad`` call per step for the whole batch, the caller's tensors never touched.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.inputs import call_forward
from veracity._core.validate import fail

LossOfOutputs = Callable[[Tensor], Tensor]
MapObjective = Callable[[Tensor, Tensor], Tensor]  # (maps, inputs) -> one value per example


def _checked(output: Any, rows: int, name: str) -> Tensor:
    if not isinstance(output, Tensor) or output.dim() == 0 or output.shape[0] != rows:
        fail(name, f"a tensor output with one row per input row ({rows})", output)
    return output


def loss_input_gradients(forward_func: Callable[..., Any], inputs: tuple[Tensor, ...], args: tuple[Any, ...],
                         loss_of: LossOfOutputs) -> tuple[tuple[Tensor, ...], Tensor]:
    """Gradient of ``loss_of(outputs).sum()`` with respect to every input, and the outputs.

    One forward and one backward for the batch; summing per-example losses gives each row its
    own gradient. The outputs come back detached.
    """
    with torch.enable_grad():
        leaves = tuple(t.detach().requires_grad_() for t in inputs)
        output = _checked(call_forward(forward_func, leaves, args), leaves[0].shape[0], "forward_func")
        loss = loss_of(output)
        if not isinstance(loss, Tensor) or not loss.requires_grad:
            fail("loss_func", "a loss that depends on the model outputs through autograd", loss)
        grads = torch.autograd.grad(loss.sum(), leaves, allow_unused=True)
    return tuple(torch.zeros_like(t) if g is None else g for g, t in zip(grads, leaves)), output.detach()


def model_outputs(forward_func: Callable[..., Any], inputs: tuple[Tensor, ...], args: tuple[Any, ...]) -> Tensor:
    """The model's outputs without gradients (one call)."""
    with torch.no_grad():
        return _checked(call_forward(forward_func, inputs, args), inputs[0].shape[0], "forward_func")


def raw_outputs(forward_func: Callable[..., Any], inputs: tuple[Any, ...], args: tuple[Any, ...]) -> Any:
    """Whatever the model returns for ``(*inputs, *args)``, without gradients (e.g. for a metric)."""
    with torch.no_grad():
        return forward_func(*inputs, *args)


def explanation_maps(forward_func: Callable[..., Any], inputs: Tensor, labels: Tensor, method: str, *,
                     baselines: Tensor | None = None, n_steps: int = 16, noise: Tensor | None = None,
                     create_graph: bool = False) -> Tensor:
    """A gradient explanation of ``output[i, labels[i]]`` per example, differentiable in ``inputs``
    when ``create_graph`` (for attacks on the explanation).

    ``method``: ``"saliency"`` (the gradient), ``"input_x_gradient"``, ``"integrated_gradients"``
    (midpoint Riemann sum over ``n_steps`` points from ``baselines``, zeros by default) or
    ``"smoothgrad"`` (mean gradient over ``inputs + noise[j]``, ``noise`` shaped
    ``(samples, *inputs.shape)``). All points of a call go through the model in one batch.
    """
    batch = inputs.shape[0]
    with torch.enable_grad():
        x = inputs if inputs.requires_grad else inputs.detach().requires_grad_()
        if method in ("saliency", "input_x_gradient"):
            points, copies = x, 1
        elif method == "integrated_gradients":
            base = torch.zeros_like(x) if baselines is None else baselines
            alphas = (torch.arange(n_steps, dtype=x.dtype, device=x.device) + 0.5) / n_steps
            shape = (n_steps,) + (1,) * x.dim()
            points = (base.unsqueeze(0) + alphas.reshape(shape) * (x - base).unsqueeze(0)).reshape(-1, *x.shape[1:])
            copies = n_steps
        elif method == "smoothgrad":
            if noise is None:
                fail("noise", "a tensor of noise samples for smoothgrad", noise)
            copies = noise.shape[0]
            points = (x.unsqueeze(0) + noise).reshape(-1, *x.shape[1:])
        else:
            fail("method", "'saliency', 'input_x_gradient', 'integrated_gradients' or 'smoothgrad'", repr(method))
        if not points.requires_grad:
            points = points.requires_grad_()
        output = _checked(forward_func(points), batch * copies, "forward_func")
        picked = output.gather(1, labels.repeat(copies).reshape(-1, 1))
        (grads,) = torch.autograd.grad(picked.sum(), points, create_graph=create_graph)
        grads = grads.reshape(copies, *x.shape).mean(0)
        if method == "input_x_gradient":
            return x * grads
        if method == "integrated_gradients":
            return (x - (torch.zeros_like(x) if baselines is None else baselines)) * grads
        return grads


def objective_input_gradient(forward_func: Callable[..., Any], inputs: Tensor, labels: Tensor, method: str,
                             objective: MapObjective, **map_kwargs: Any) -> Tensor:
    """Gradient with respect to ``inputs`` of ``objective(map(inputs), inputs).sum()``: the
    second-order step of an explanation attack (the map is built with ``create_graph``)."""
    with torch.enable_grad():
        x = inputs.detach().requires_grad_()
        maps = explanation_maps(forward_func, x, labels, method, create_graph=True, **map_kwargs)
        value = objective(maps, x).sum()
        if not value.requires_grad:
            return torch.zeros_like(x)
        (grad,) = torch.autograd.grad(value, x, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad
