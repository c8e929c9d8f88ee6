"""Adaptive IG: the requested tolerance is met, the reported bound holds, the cap is kept, and
it spends fewer evaluations than Gauss-Legendre for the same completeness error."""

from __future__ import annotations

import torch
from torch import nn

from veracity.attr import IntegratedGradients


def _softmax_relu_net(dtype=torch.float32):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4)).to(dtype)
    return lambda x: torch.softmax(net(x), 1)


def _relative_completeness(f, x, attr, target):
    with torch.no_grad():
        rows = torch.arange(x.shape[0])
        span = (f(x)[rows, target] - f(torch.zeros_like(x))[rows, target]).double()
    return (attr.sum(1).double() - span).abs() / span.abs()


def test_tolerance_met_and_bound_holds():
    f = _softmax_relu_net(torch.float64)
    x = torch.randn(8, 6, dtype=torch.float64) * 3
    target = torch.arange(8) % 4
    attr, report = IntegratedGradients(f).attribute(x, target=target, method="adaptive", tolerance=1e-3,
                                                    return_report=True)
    err = _relative_completeness(f, x, attr, target)
    assert (report.error_bound <= 1e-3).all()
    assert (err <= report.error_bound + 1e-12).all()


def test_smooth_model_exact_bound():
    """tanh MLP in float64: the bound holds strictly and the result matches fine quadrature."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2)).double()
    x = torch.randn(5, 4, dtype=torch.float64) * 2
    ig = IntegratedGradients(net)
    attr, delta, report = ig.attribute(x, target=1, method="adaptive", tolerance=1e-6,
                                       return_convergence_delta=True, return_report=True)
    span = (net(x) - net(torch.zeros_like(x)))[:, 1].abs()
    assert (delta.abs() / span <= report.error_bound + 1e-12).all()
    reference = ig.attribute(x, target=1, n_steps=256)
    assert torch.allclose(attr, reference, atol=1e-5)


def test_cap_on_evaluations():
    f = _softmax_relu_net()
    x = torch.randn(3, 6) * 3
    _, report = IntegratedGradients(f).attribute(x, target=0, method="adaptive", tolerance=1e-7,
                                                 max_evaluations=40, return_report=True)
    assert (report.evaluations <= 40).all()


def test_fewer_evaluations_than_gauss_legendre():
    f = _softmax_relu_net()
    x = torch.randn(8, 6) * 3
    target = torch.arange(8) % 4
    ig = IntegratedGradients(f)
    attr, report = ig.attribute(x, target=target, method="adaptive", tolerance=1e-3, return_report=True)
    reached = _relative_completeness(f, x, attr, target).max()
    steps = int(report.evaluations.double().mean()) * 3
    gl = ig.attribute(x, target=target, n_steps=steps)
    assert _relative_completeness(f, x, gl, target).max() > reached


def test_batch_invariance():
    f = _softmax_relu_net(torch.float64)
    x = torch.randn(3, 6, dtype=torch.float64)
    ig = IntegratedGradients(f)
    whole = ig.attribute(x, target=1, method="adaptive", tolerance=1e-3)
    alone = torch.cat([ig.attribute(x[i:i + 1], target=1, method="adaptive", tolerance=1e-3) for i in range(3)])
    assert torch.allclose(whole, alone, atol=1e-7)
