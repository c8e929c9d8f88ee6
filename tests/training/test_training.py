"""Saliency-guided training and the smoothing conversion."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from tests.conftest import SmallCNN
from veracity.training import (
    LogSumExpPool2d,
    mask_lowest_saliency,
    saliency_guided_loss,
    saliency_guided_step,
    smooth_model,
)


def test_mask_replaces_exactly_the_lowest_saliency_features() -> None:
    x = torch.arange(1.0, 11.0).view(1, 10)
    saliency = torch.tensor([[5.0, 0.0, 9.0, 1.0, 8.0, 2.0, 7.0, 3.0, 6.0, 4.0]])
    out = mask_lowest_saliency(x, saliency, 0.3, "random", generator=torch.Generator().manual_seed(0))
    changed = (out != x)[0].nonzero().flatten().tolist()
    assert changed == [1, 3, 5]  # the three smallest saliencies
    assert bool(((out >= 1.0) & (out <= 10.0)).all())  # random values in the example's range
    assert torch.equal(mask_lowest_saliency(x, saliency, 0.3, "mean")[0, [1, 3, 5]], torch.full((3,), 5.5))


def test_loss_is_cross_entropy_plus_lambda_kl_and_restores_the_mode() -> None:
    torch.manual_seed(0)
    model = SmallCNN().train()
    x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 3, 0, 1])
    parts = saliency_guided_loss(model, x, y, 0.5, lam=2.0, masking="constant")
    assert model.training
    with torch.no_grad():
        logits, masked = model(x), model(parts.masked)
        ce = F.cross_entropy(logits, y)
        p, log_p, log_q = F.softmax(logits, 1), F.log_softmax(logits, 1), F.log_softmax(masked, 1)
        kl = (p * (log_p - log_q)).sum(1).mean()
    torch.testing.assert_close(parts.cross_entropy, ce)
    torch.testing.assert_close(parts.kl, kl)
    torch.testing.assert_close(parts.loss.detach(), ce + 2.0 * kl)
    assert int((parts.masked == 0).sum()) >= 6 * 32  # half of each digit's 64 pixels set to 0


def test_step_updates_the_parameters_and_no_input_gradient_leaks() -> None:
    torch.manual_seed(1)
    model = SmallCNN().train()
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.clone() for p in model.parameters()]
    saliency_guided_step(model, optimizer, x, y, generator=torch.Generator().manual_seed(0))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert x.grad is None


def test_smooth_model_leaves_the_original_untouched() -> None:
    torch.manual_seed(2)
    model = SmallCNN().eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    smooth = smooth_model(model, beta=10.0, r=10.0)
    assert isinstance(model.relu1, nn.ReLU) and isinstance(model.pool, nn.MaxPool2d)
    assert isinstance(smooth.relu1, nn.Softplus) and isinstance(smooth.pool, LogSumExpPool2d)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(a.data_ptr() != b.data_ptr() for a, b in zip(model.parameters(), smooth.parameters()))
    assert not smooth.training


def test_smooth_model_converges_to_the_original_as_beta_and_r_grow() -> None:
    torch.manual_seed(3)
    model = SmallCNN().double().eval()
    x = torch.randn(5, 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        reference = model(x)
        gaps = [float((smooth_model(model, beta=s, r=s)(x) - reference).abs().max()) for s in (1.0, 10.0, 100.0, 1e4)]
    assert all(a > b for a, b in zip(gaps, gaps[1:])), gaps
    assert gaps[-1] < 1e-3, gaps


def test_logsumexp_pool_matches_the_formula_and_max_pool_windows() -> None:
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    pool = LogSumExpPool2d(3, stride=2, padding=1, r=4.0)
    out = pool(x)
    assert out.shape == nn.MaxPool2d(3, stride=2, padding=1)(x).shape
    window = x[0, 1, 1:4, 1:4].flatten()  # output (1, 1) covers rows/cols 1..3
    torch.testing.assert_close(out[0, 1, 1, 1], (torch.logsumexp(4.0 * window, 0) - torch.log(torch.tensor(9.0))) / 4.0)
    corner = x[0, 0, :2, :2].flatten()  # output (0, 0): padded window, 4 real entries
    torch.testing.assert_close(out[0, 0, 0, 0], (torch.logsumexp(4.0 * corner, 0) - torch.log(torch.tensor(4.0))) / 4.0)
    with pytest.raises(ValueError, match="ceil_mode"):
        smooth_model(nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)))
