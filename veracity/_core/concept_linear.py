"""Torch-native linear models on activations: the CAV classifier and the neuron probes.

Concept activation vectors and linear probes are linear models fitted to a layer's
activations. Fitting differentiates a loss, so it lives in the engine package (the only one
that calls autograd). Two fitters:

* :func:`fit_logistic` -- L2-regularised logistic regression (binary: one weight row, Newton;
  multi-class: softmax, L-BFGS), full batch in float64: deterministic, no data order;
* :func:`fit_elastic_net` -- the NeuroX probe: ``CE(Wx + b, y) + l1 * |W|_1 + l2 * |W|_2``
  (or the mean squared error for regression), Adam on shuffled mini-batches under a seed.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import Tensor

from veracity._core.validate import fail


def _check_rows(x: Tensor, y: Tensor) -> None:
    if x.dim() != 2:
        fail("activations", "a 2-D tensor (examples, features)", x)
    if y.dim() != 1 or y.shape[0] != x.shape[0]:
        fail("labels", f"a 1-D tensor with one label per example ({x.shape[0]})", y)
    if x.shape[0] == 0:
        fail("activations", "at least one example", x)


@contextmanager
def small_problem_threads(elements: int) -> Iterator[None]:
    """One intra-op thread for small linear algebra (restored after): on a busy CPU a
    two-thread 40x4 float64 product waited ~50 ms for the other thread, 0.6 ms alone."""
    before = torch.get_num_threads()
    if elements > 1_000_000 or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _newton_binary(design: Tensor, y: Tensor, penalty: Tensor, max_iter: int, tol: float) -> Tensor:
    """Newton's method for ``mean softplus loss + theta' P theta / 2`` (P = ``penalty``)."""
    n = design.shape[0]
    theta = torch.zeros(design.shape[1], dtype=design.dtype, device=design.device)

    def objective(t: Tensor) -> Tensor:
        z = design @ t
        return torch.nn.functional.softplus(z).mean() - (y * z).mean() + 0.5 * t @ (penalty @ t)

    value = objective(theta)
    for _ in range(max_iter):
        p = torch.sigmoid(design @ theta)
        grad = design.T @ (p - y) / n + penalty @ theta
        if float(grad.abs().max()) < tol:
            break
        hessian = design.T @ (design * (p * (1 - p))[:, None]) / n + penalty
        hessian.diagonal().add_(1e-12)
        step = torch.linalg.solve(hessian, grad)
        size = 1.0
        while size > 1e-6:  # damped: a full step on separable data can overshoot
            candidate = theta - size * step
            new_value = objective(candidate)
            if new_value <= value:
                break
            size *= 0.5
        theta, value = candidate, new_value
    return theta


def fit_logistic(x: Tensor, labels: Tensor, n_classes: int, alpha: float = 0.01, max_iter: int = 100,
                 tol: float = 1e-10) -> tuple[Tensor, Tensor]:
    """``(weight, bias)`` of logistic regression minimising ``mean CE + alpha / 2 * |W|^2``.

    ``labels`` hold class indices ``0..n_classes-1``. Two classes give one weight row pointing
    to class 1 (as scikit-learn's ``coef_``), more give one row per class. Binary problems are
    solved by Newton's method in float64 (in the span of the examples when there are more
    features than examples: the minimiser lies there); multi-class ones by L-BFGS. The result
    depends only on the data.

    Example:
        >>> x = torch.tensor([[0.0, 1.0], [0.0, 2.0], [0.0, -1.0], [0.0, -2.0]])
        >>> w, b = fit_logistic(x, torch.tensor([1, 1, 0, 0]), 2)
        >>> w.shape, bool(w[0, 1] > 0), abs(float(w[0, 0])) < 1e-6
        (torch.Size([1, 2]), True, True)
    """
    _check_rows(x, labels)
    data = x.detach().to(torch.float64)
    target = labels.detach().to(device=data.device, dtype=torch.long)
    n, d = data.shape
    with small_problem_threads(n * d):
        return _fit_logistic(data, target, n_classes, alpha, max_iter, tol, x.dtype)


def _fit_logistic(data: Tensor, target: Tensor, n_classes: int, alpha: float, max_iter: int, tol: float,
                  dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    n, d = data.shape
    if n_classes == 2:
        ones = torch.ones(n, 1, dtype=torch.float64, device=data.device)
        y = target.to(torch.float64)
        if d + 1 <= n:
            penalty = torch.diag(torch.cat([torch.full((d,), alpha), torch.zeros(1)]).to(data))
            theta = _newton_binary(torch.cat([data, ones], 1), y, penalty, max_iter, tol)
            weight, bias = theta[:d], theta[d:]
        else:  # w = X' a: the gradient condition puts the minimiser in the rows' span
            kernel = data @ data.T
            penalty = torch.zeros(n + 1, n + 1, dtype=torch.float64, device=data.device)
            penalty[:n, :n] = alpha * kernel
            theta = _newton_binary(torch.cat([kernel, ones], 1), y, penalty, max_iter, tol)
            weight, bias = data.T @ theta[:n], theta[n:]
        return weight[None].to(dtype), bias.to(dtype)
    weight = torch.zeros(n_classes, d, dtype=torch.float64, device=data.device, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, device=data.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter * 5, tolerance_grad=tol,
                                  tolerance_change=tol * 1e-3, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        with torch.enable_grad():
            loss = torch.nn.functional.cross_entropy(data @ weight.T + bias, target)
            loss = loss + 0.5 * alpha * (weight * weight).sum()
            loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach().to(dtype), bias.detach().to(dtype)


def fit_elastic_net(x: Tensor, y: Tensor, *, n_classes: int | None, l1: float = 0.0, l2: float = 0.0,
                    epochs: int = 10, batch_size: int = 32, lr: float = 1e-3, seed: int = 0
                    ) -> tuple[Tensor, Tensor]:
    """``(weight, bias)`` of a linear probe trained with Adam, NeuroX's recipe.

    ``n_classes`` set: classification with ``CE + l1 * |W|_1 + l2 * |W|_2`` (the L2 term is the
    norm, not its square), weight ``(n_classes, features)``; ``None``: linear regression with
    the mean squared error, weight ``(1, features)``. Mini-batches are shuffled by a generator
    seeded with ``seed``; initial weights are zero, so the result is reproducible.

    Example:
        >>> x = torch.tensor([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0], [-2.0, 0.0]])
        >>> w, b = fit_elastic_net(x, torch.tensor([1, 1, 0, 0]), n_classes=2, epochs=50, lr=0.1)
        >>> bool(w[1, 0] > w[0, 0]), abs(float(w[0, 1])) < 1e-6
        (True, True)
    """
    _check_rows(x, y)
    rows = n_classes if n_classes is not None else 1
    data = x.detach()
    target = y.detach().to(data.device)
    weight = torch.zeros(rows, data.shape[1], dtype=data.dtype, device=data.device, requires_grad=True)
    bias = torch.zeros(rows, dtype=data.dtype, device=data.device, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    n = data.shape[0]
    with torch.enable_grad(), small_problem_threads(batch_size * data.shape[1] * rows):
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator).to(data.device)
            for start in range(0, n, batch_size):
                index = order[start:start + batch_size]
                logits = data[index] @ weight.T + bias
                if n_classes is None:
                    loss = torch.nn.functional.mse_loss(logits[:, 0], target[index].to(data.dtype))
                else:
                    loss = torch.nn.functional.cross_entropy(logits, target[index].long())
                if l1:
                    loss = loss + l1 * weight.abs().sum()
                if l2:
                    loss = loss + l2 * weight.norm()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return weight.detach(), bias.detach()
