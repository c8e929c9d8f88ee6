"""Influence functions: NaiveInfluenceFunction equals grad^T (H + reg I)^{-1} grad with the
Hessian formed by torch.autograd.functional.hessian (a convex model, so H is positive
definite), matches Captum 0.9; Arnoldi with a full Krylov space equals the naive one."""

from __future__ import annotations

import pytest
import torch
from captum.influence._core.influence_function import NaiveInfluenceFunction as CaptumNaive
from torch import nn
from torch.func import functional_call
from torch.utils.data import TensorDataset

from veracity.influence import ArnoldiInfluenceFunction, NaiveInfluenceFunction

NONE = nn.CrossEntropyLoss(reduction="none")


@pytest.fixture(scope="module")
def convex(tmp_path_factory: pytest.TempPathFactory) -> dict:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2)).double()
    path = tmp_path_factory.mktemp("naive") / "c.pt"
    torch.save(model.state_dict(), path)
    x, y = torch.randn(12, 3, dtype=torch.float64), torch.randint(0, 2, (12,))
    test = (torch.randn(3, 3, dtype=torch.float64), torch.tensor([0, 1, 1]))
    return {"model": model, "path": str(path), "data": TensorDataset(x, y), "x": x, "y": y, "test": test}


def _explicit(convex: dict, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
    model = convex["model"]
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss(vector: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        params, start = {}, 0
        for name, shape in zip(names, shapes):
            params[name] = vector[start:start + shape.numel()].reshape(shape)
            start += shape.numel()
        return NONE(functional_call(model, params, (x,)), y).sum()

    hessian = torch.autograd.functional.hessian(lambda v: loss(v, convex["x"], convex["y"]), flat)
    hessian = hessian + reg * torch.eye(len(flat), dtype=torch.float64)

    def grads(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.autograd.functional.jacobian(lambda v, i=i: loss(v, x[i:i + 1], y[i:i + 1]), flat)
                            for i in range(len(x))])

    train = grads(convex["x"], convex["y"])
    return grads(*convex["test"]) @ torch.linalg.solve(hessian, train.T), \
        (train * torch.linalg.solve(hessian, train.T).T).sum(1)


def test_naive_equals_explicit_hessian_inverse_and_captum(convex):
    expected, expected_self = _explicit(convex, 0.1)
    kwargs = dict(loss_fn=NONE, batch_size=5, projection_dim=8, hessian_reg=0.1, hessian_inverse_tol=0.0)
    naive = NaiveInfluenceFunction(convex["model"], convex["data"], convex["path"], **kwargs)
    assert torch.allclose(naive.influence(convex["test"]), expected, atol=1e-10)
    assert torch.allclose(naive.self_influence(), expected_self, atol=1e-10)
    theirs = CaptumNaive(convex["model"], convex["data"], convex["path"], **kwargs)
    assert torch.allclose(theirs.influence(convex["test"]), expected, atol=1e-8)
    top = naive.influence(convex["test"], k=3, proponents=False)
    assert torch.equal(top.indices, expected.topk(3, dim=1, largest=False).indices)


def test_arnoldi_with_full_krylov_space_equals_naive(convex):
    kwargs = dict(loss_fn=NONE, batch_size=5, projection_dim=8, hessian_reg=0.1, hessian_inverse_tol=0.0)
    naive = NaiveInfluenceFunction(convex["model"], convex["data"], convex["path"], **kwargs)
    arnoldi = ArnoldiInfluenceFunction(convex["model"], convex["data"], convex["path"], arnoldi_dim=8, **kwargs)
    assert torch.allclose(arnoldi.influence(convex["test"]), naive.influence(convex["test"]), atol=1e-8)
    low_rank = ArnoldiInfluenceFunction(convex["model"], convex["data"], convex["path"], arnoldi_dim=8,
                                        **{**kwargs, "projection_dim": 2})
    assert low_rank.compute_intermediate_quantities(convex["test"]).shape == (3, 2)


def test_bad_input(convex, tmp_path):
    wrong = tmp_path / "wrong.pt"
    torch.save(nn.Linear(5, 5).state_dict(), wrong)
    with pytest.raises(ValueError, match="`checkpoint`: expected checkpoints that load"):
        NaiveInfluenceFunction(convex["model"], convex["data"], str(wrong), loss_fn=NONE)
    with pytest.raises(ValueError, match="`loss_fn`: expected a loss with reduction 'none'"):
        NaiveInfluenceFunction(convex["model"], convex["data"], convex["path"], loss_fn=nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match="`hessian_reg`"):
        NaiveInfluenceFunction(convex["model"], convex["data"], convex["path"], loss_fn=NONE, hessian_reg=-1.0)
