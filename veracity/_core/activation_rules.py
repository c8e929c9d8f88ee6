"""Backward rules for activation calls: DeepLift's Rescale rule, Guided Backprop, Deconvolution.

Each rule receives an :class:`~veracity._core.hooks.ActivationCall` and returns the function
that maps the gradient at the call's output to the gradient at its input.

The Rescale rule needs every activation's input at the explained point and at its
reference: the model runs on ``[inputs; references]`` stacked along the batch, so the first
half of an activation's rows are the inputs' and the second half the references'.
"""

from __future__ import annotations

from typing import Callable, cast

import numpy as np
import torch
from torch import Tensor

from veracity._core.hooks import ActivationCall

Backward = Callable[[Tensor], Tensor]


def _local_derivative(call: ActivationCall, x: Tensor) -> Tensor:
    """The elementwise derivative at ``x`` (for steps too small to divide by)."""
    with torch.enable_grad():
        point = x.detach().clone().requires_grad_()
        (derivative,) = torch.autograd.grad(call.fn(point).sum(), point)
    return derivative


def _halves(tensor: Tensor) -> tuple[Tensor, Tensor]:
    if tensor.shape[0] % 2:
        raise RuntimeError("DeepLift: an activation saw an odd number of rows; the model must keep "
                           "the batch as the first dimension")
    return cast(tuple[Tensor, Tensor], tensor.chunk(2))  # an even, non-zero number of rows


def rescale_rule(eps: float) -> Callable[[ActivationCall], Backward]:
    """DeepLift's Rescale rule (Shrikumar et al. 2017): multiplier = dy / dx per element.

    Where ``|dx| < eps`` the local derivative is used instead. Softmax mixes its inputs, so no
    elementwise ratio exists; its multiplier is the Jacobian averaged along the straight line
    from reference to input (16-point Gauss-Legendre), which makes contributions add up to
    the output difference up to quadrature error. Max pooling sends each window's output
    difference to the positions that were the maximum for the input and for the reference,
    so that the window's contributions add up to the output difference.
    """

    def rule(call: ActivationCall) -> Backward:
        if call.family == "max_pool":
            return _max_pool_rescale(call, eps)
        if call.family == "softmax":
            return _softmax_path_average(call)
        x_in, x_ref = _halves(call.input.detach())
        y_in, y_ref = _halves(call.output)
        dx = x_in - x_ref
        small = dx.abs() < eps
        multiplier = (y_in - y_ref) / torch.where(small, torch.ones_like(dx), dx)
        if bool(small.any()):
            multiplier = torch.where(small, _local_derivative(call, x_in), multiplier)
        multiplier = torch.cat([multiplier, multiplier])
        return lambda grad: grad * multiplier

    return rule


_SOFTMAX_NODES = 16


def _softmax_path_average(call: ActivationCall) -> Backward:
    """Backward through (log-)softmax with its Jacobian averaged from the reference to the input."""
    x_in, x_ref = _halves(call.input.detach())
    weights: np.ndarray | list[float]
    nodes, weights = np.polynomial.legendre.leggauss(_SOFTMAX_NODES)
    dim = call.dim
    log = "log" in call.name
    path = [call.fn(x_ref + float((a + 1) / 2) * (x_in - x_ref)) for a in nodes]
    path = [p.exp() for p in path] if log else path
    weights = [float(w / 2) for w in weights]

    def transposed_jacobian(grad: Tensor, s: Tensor) -> Tensor:
        # softmax: J = diag(s) - s s^T, J^T g = s * (g - <g, s>); log-softmax: J = I - 1 s^T.
        if log:
            return grad - s * grad.sum(dim, keepdim=True)
        return s * (grad - (grad * s).sum(dim, keepdim=True))

    def backward(grad: Tensor) -> Tensor:
        grad_in = grad.chunk(2)[0]
        result = cast(Tensor, sum(w * transposed_jacobian(grad_in, s) for w, s in zip(weights, path)))
        return torch.cat([result, result])

    return backward


def _max_pool_rescale(call: ActivationCall, eps: float) -> Backward:
    x_in, x_ref = _halves(call.input.detach())
    y_in, y_ref = _halves(call.output)
    assert call.indices is not None  # max pooling records its indices
    idx_in, idx_ref = _halves(call.indices)
    top = torch.maximum(y_in, y_ref)
    dx = (x_in - x_ref).flatten(2)
    small = dx.abs() < eps

    def scatter(values: Tensor, index: Tensor) -> Tensor:
        flat = torch.zeros_like(dx)
        return flat.scatter_add_(2, index.flatten(2), values.flatten(2))

    def backward(grad: Tensor) -> Tensor:
        grad_in = grad.chunk(2)[0]
        contribution = scatter(grad_in * (top - y_ref), idx_in) + scatter(grad_in * (y_in - top), idx_ref)
        plain = scatter(grad_in, idx_in)
        result = torch.where(small, plain, contribution / torch.where(small, torch.ones_like(dx), dx))
        result = result.view_as(x_in)
        return torch.cat([result, result])

    return backward


def guided_backprop_rule(call: ActivationCall) -> Backward:
    """Only positive gradients pass a ReLU, and only where its input was positive."""
    positive = call.input.detach() > 0
    return lambda grad: grad.clamp(min=0) * positive


def deconvolution_rule(call: ActivationCall) -> Backward:
    """The deconvnet rule: a ReLU passes the positive part of the gradient, whatever its input."""
    return lambda grad: grad.clamp(min=0)
