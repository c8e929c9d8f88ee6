"""FGSM and PGD: parity with Captum 0.9 (no random start), the ball and the bounds, targeted
attacks reaching their target, bad input."""

from __future__ import annotations

import pytest
import torch
from captum.robust import FGSM as CaptumFGSM
from captum.robust import PGD as CaptumPGD

from veracity.robust import FGSM, PGD


def _model(features: int = 6, classes: int = 3, softmax: bool = True) -> torch.nn.Module:
    torch.manual_seed(0)
    layers = [torch.nn.Linear(features, 10), torch.nn.Tanh(), torch.nn.Linear(10, classes)]
    return torch.nn.Sequential(*layers, *([torch.nn.Softmax(1)] if softmax else [])).double().eval()


class TwoInputs(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = torch.nn.Linear(4, 3), torch.nn.Linear(2, 3)

    def forward(self, x: torch.Tensor, y: torch.Tensor, scale: float) -> torch.Tensor:
        return torch.softmax(scale * (self.a(x) + self.b(y).tanh()), 1)


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.rand(5, 6, dtype=torch.float64), torch.tensor([0, 1, 2, 1, 0])


@pytest.mark.parametrize("targeted", [False, True])
@pytest.mark.parametrize("with_loss", [False, True])
def test_fgsm_matches_captum(data, targeted, with_loss):
    x, y = data
    model = _model(softmax=not with_loss)
    loss = torch.nn.CrossEntropyLoss(reduction="none") if with_loss else None
    mask = (torch.arange(6) % 2).double().expand(5, 6)
    for kwargs in ({}, {"mask": mask}):
        ours = FGSM(model, loss, 0.0, 1.0).perturb(x, 0.07, y, targeted=targeted, **kwargs)
        theirs = CaptumFGSM(model, loss, 0.0, 1.0).perturb(x, 0.07, y, targeted=targeted, **kwargs)
        assert torch.allclose(ours, theirs, atol=1e-6, rtol=0)
        assert not torch.equal(ours, x)


def test_fgsm_tuple_inputs_and_args_match_captum():
    torch.manual_seed(2)
    model = TwoInputs().double()
    x, z = torch.rand(3, 4, dtype=torch.float64), torch.rand(3, 2, dtype=torch.float64)
    ours = FGSM(model).perturb((x, z), 0.1, 1, additional_forward_args=(2.0,))
    theirs = CaptumFGSM(model).perturb((x, z), 0.1, 1, additional_forward_args=(2.0,))
    assert isinstance(ours, tuple) and len(ours) == 2
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("targeted", [False, True])
def test_pgd_linf_matches_captum(data, targeted):
    x, y = data
    model = _model()
    ours = PGD(model, None, 0.0, 1.0).perturb(x, 0.2, 0.03, 12, y, targeted=targeted)
    theirs = CaptumPGD(model, None, 0.0, 1.0).perturb(x, 0.2, 0.03, 12, y, targeted=targeted)
    assert torch.allclose(ours, theirs, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(5, 6), (3, 2, 3, 3)])
def test_pgd_l2_matches_captum(shape):
    """Also at the sphere (12 steps of 0.05 against a radius of 0.3) and with bounds."""
    torch.manual_seed(5)
    x = torch.rand(*shape, dtype=torch.float64)
    features = int(torch.tensor(shape[1:]).prod())
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(features, 3), torch.nn.Softmax(1)).double()
    y = torch.arange(shape[0]) % 3
    ours = PGD(model, None, 0.0, 1.0).perturb(x, 0.3, 0.05, 12, y, norm="L2")
    theirs = CaptumPGD(model, None, 0.0, 1.0).perturb(x, 0.3, 0.05, 12, y, norm="L2")
    assert torch.allclose(ours, theirs, atol=1e-6, rtol=0)
    assert float((ours - x).flatten(1).norm(dim=1).max()) <= 0.3


@pytest.mark.parametrize("norm", ["Linf", "L2"])
def test_pgd_stays_in_ball_and_bounds(norm):
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4), torch.nn.Softmax(1)).eval()
    x = torch.rand(6, 3, 2, 2)
    radius = 0.4 if norm == "Linf" else 1.0
    for seed in range(3):
        out = PGD(model, None, 0.0, 1.0).perturb(x, radius, 0.15, 8, torch.arange(6) % 4, random_start=True,
                                                 norm=norm, seed=seed)
        diff = (out - x).flatten(1)
        size = diff.abs().max(1).values if norm == "Linf" else diff.norm(dim=1)
        assert bool((size <= radius + 1e-6).all()) and size.max() > 0.5 * radius
        assert out.min() >= 0.0 and out.max() <= 1.0


def test_pgd_random_start_is_seeded(data):
    x, y = data
    model = _model()
    runs = [PGD(model).perturb(x, 0.2, 0.01, 1, y, random_start=True, seed=s) for s in (7, 7, 8)]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_targeted_pgd_reaches_target():
    torch.manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Softmax(1)).eval()
    x = torch.rand(8, 5)
    target = (model(x).argmax(1) + 1) % 4
    out = PGD(model).perturb(x, 3.0, 0.1, 60, target, targeted=True)
    assert torch.equal(model(out).argmax(1), target)
    assert (out - x).abs().max() <= 3.0 + 1e-6


def test_fgsm_and_pgd_leave_inputs_and_model_alone(data):
    x, y = data
    model = _model()
    before = [p.clone() for p in model.parameters()]
    x_copy = x.clone()
    PGD(model).perturb(x, 0.1, 0.05, 3, y)
    assert torch.equal(x, x_copy) and not x.requires_grad
    assert all(torch.equal(a, b) and b.grad is None for a, b in zip(before, model.parameters()))


def test_bad_input(data):
    x, y = data
    model = _model()
    with pytest.raises(ValueError, match="`epsilon`"):
        FGSM(model).perturb(x, -0.1, y)
    with pytest.raises(ValueError, match="`radius`"):
        PGD(model).perturb(x, -1.0, 0.1, 2, y)
    with pytest.raises(ValueError, match=r"`inputs`: expected values inside the attack's bounds \[lower_bound=0.5"):
        PGD(model, None, 0.5, 1.0).perturb(x, 0.1, 0.1, 2, y)
    with pytest.raises(ValueError, match="`upper_bound`"):
        FGSM(model, None, 1.0, 0.0)
    with pytest.raises(ValueError, match="`norm`"):
        PGD(model).perturb(x, 0.1, 0.1, 2, y, norm="L1")
    with pytest.raises(ValueError, match="`mask`"):
        FGSM(model).perturb(x, 0.1, y, mask=torch.ones(5, 3))
