"""Batched, torch-native weighted linear surrogates for Lime and KernelShap.

Each solver fits one weighted linear model with intercept per example, all examples at once:
``fit_batch(X, y, w)`` with ``X`` of shape ``(n_samples, n_features)`` (shared) or ``(batch,
n_samples, n_features)``, ``y`` and ``w`` of shape ``(batch, n_samples)``, returns the
coefficients ``(batch, n_features)`` and intercepts ``(batch,)``. They optimise the same
objectives as scikit-learn's LinearRegression, Ridge and Lasso with ``sample_weight`` (so
Captum's ``SkLearnLinearRegression`` / ``SkLearnLasso`` defaults are reproduced), in float64.
:func:`fit_surrogates` also accepts scikit-learn estimators and Captum-style models.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from veracity._core.validate import fail


def _centred(x: Tensor, y: Tensor, w: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Weighted centring; returns sqrt(w)-scaled design and targets, the means and the weights."""
    x, y, w = x.double(), y.double(), w.double()
    if x.dim() == 2:
        x = x.unsqueeze(0).expand(y.shape[0], -1, -1)
    total = w.sum(1, keepdim=True)
    x_mean = (w.unsqueeze(2) * x).sum(1) / total
    y_mean = (w * y).sum(1) / total.squeeze(1)
    root = w.sqrt()
    a = root.unsqueeze(2) * (x - x_mean.unsqueeze(1))
    b = root * (y - y_mean.unsqueeze(1))
    return a, b, x_mean, y_mean, total.squeeze(1)


class TorchLinearRegression:
    """Weighted least squares with intercept (minimum-norm solution when rank-deficient).

    Example:
        >>> import torch
        >>> x = torch.tensor([[0., 1.], [1., 0.], [1., 1.], [0., 0.]])
        >>> y = (x @ torch.tensor([2., -1.]) + 0.5).unsqueeze(0)
        >>> coef, intercept = TorchLinearRegression().fit_batch(x, y, torch.ones_like(y))
        >>> coef.round(decimals=4).tolist(), round(float(intercept), 4)
        ([[2.0, -1.0]], 0.5)
    """

    def fit_batch(self, x: Tensor, y: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
        a, b, x_mean, y_mean, _ = _centred(x, y, w)
        coef = (torch.linalg.pinv(a) @ b.unsqueeze(2)).squeeze(2)
        return coef, y_mean - (x_mean * coef).sum(1)


class TorchRidge:
    """Weighted ridge regression with intercept: min sum_i w_i r_i^2 + alpha ||coef||^2.

    Example:
        >>> import torch
        >>> x = torch.eye(3)
        >>> coef, _ = TorchRidge(alpha=0.0).fit_batch(x, torch.tensor([[1., 2., 3.]]), torch.ones(1, 3))
        >>> coef.shape
        torch.Size([1, 3])
    """

    def __init__(self, alpha: float = 1.0) -> None:
        if not isinstance(alpha, (int, float)) or alpha < 0:
            fail("alpha", "a non-negative number", alpha)
        self.alpha = float(alpha)

    def fit_batch(self, x: Tensor, y: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
        a, b, x_mean, y_mean, _ = _centred(x, y, w)
        gram = a.transpose(1, 2) @ a + self.alpha * torch.eye(a.shape[2], dtype=a.dtype, device=a.device)
        coef = torch.linalg.lstsq(gram, (a.transpose(1, 2) @ b.unsqueeze(2))).solution.squeeze(2)
        return coef, y_mean - (x_mean * coef).sum(1)


class TorchLasso:
    """Weighted Lasso with intercept by cyclic coordinate descent, all examples at once.

    Minimises ``1 / (2 sum_i w_i) * sum_i w_i r_i^2 + alpha * ||coef||_1``, scikit-learn's
    Lasso objective with ``sample_weight`` (Tibshirani 1996; Friedman et al. 2010). Sweeps
    stop when no coefficient of any example moved by more than ``tol`` times the largest.

    Example:
        >>> import torch
        >>> x = torch.tensor([[0., 1.], [1., 0.], [1., 1.], [0., 0.]])
        >>> y = (x @ torch.tensor([2., 0.])).unsqueeze(0)
        >>> coef, _ = TorchLasso(alpha=0.01).fit_batch(x, y, torch.ones_like(y))
        >>> [round(v, 2) for v in coef[0].tolist()]
        [1.96, 0.0]
    """

    def __init__(self, alpha: float = 1.0, max_iter: int = 1000, tol: float = 1e-6) -> None:
        if not isinstance(alpha, (int, float)) or alpha < 0:
            fail("alpha", "a non-negative number", alpha)
        self.alpha, self.max_iter, self.tol = float(alpha), max_iter, tol

    def fit_batch(self, x: Tensor, y: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
        a, b, x_mean, y_mean, total = _centred(x, y, w)
        scale = total.view(-1, 1)
        gram = a.transpose(1, 2) @ a / scale.unsqueeze(2)
        corr = (a.transpose(1, 2) @ b.unsqueeze(2)).squeeze(2) / scale
        diag = gram.diagonal(dim1=1, dim2=2).clamp_min(1e-300)
        coef = torch.zeros_like(corr)
        fitted = torch.zeros_like(corr)  # gram @ coef, kept up to date
        for _ in range(self.max_iter):
            largest_step = torch.zeros(corr.shape[0], dtype=corr.dtype, device=corr.device)
            for j in range(corr.shape[1]):
                old = coef[:, j]
                rho = corr[:, j] - fitted[:, j] + diag[:, j] * old
                new = torch.sign(rho) * (rho.abs() - self.alpha).clamp_min(0) / diag[:, j]
                step = new - old
                coef[:, j] = new
                fitted += gram[:, :, j] * step.unsqueeze(1)
                largest_step = torch.maximum(largest_step, step.abs())
            if bool((largest_step <= self.tol * coef.abs().amax(1).clamp_min(1e-12)).all()):
                break
        return coef, y_mean - (x_mean * coef).sum(1)


def fit_surrogates(model: Any, x: Tensor, y: Tensor, w: Tensor) -> Tensor:
    """Fit one surrogate per example and return its coefficients, ``(batch, n_features)``.

    ``model`` is a batched solver (``fit_batch``), a Captum-style model (``fit(dataloader)``
    and ``representation()``) or a scikit-learn estimator (``fit(X, y, sample_weight)``,
    ``coef_``); the last two are fitted once per example.
    """
    if hasattr(model, "fit_batch"):
        return model.fit_batch(x, y, w)[0]
    batch = y.shape[0]
    design = x if x.dim() == 3 else x.unsqueeze(0).expand(batch, -1, -1)
    rows = []
    for i in range(batch):
        if hasattr(model, "representation"):
            from torch.utils.data import DataLoader, TensorDataset

            data = TensorDataset(design[i].float(), y[i].float(), w[i].float())
            model.fit(DataLoader(data, batch_size=len(data)))
            rows.append(torch.as_tensor(model.representation()).detach().reshape(-1))
        elif hasattr(model, "fit"):
            model.fit(design[i].double().cpu().numpy(), y[i].double().cpu().numpy(),
                      sample_weight=w[i].double().cpu().numpy())
            rows.append(torch.as_tensor(model.coef_).reshape(-1))
        else:
            fail("interpretable_model", "a model with fit_batch, a Captum model with fit/representation, "
                 "or a scikit-learn estimator", model, TypeError)
    return torch.stack(rows).to(device=y.device, dtype=torch.float64)
