"""TracInCP, TracInCPFast, TracInCPFastRandProj and SimilarityInfluence: parity with Captum 0.9
on the same calls (scores and top-k indices), the hand formula of the fast variant, batch
invariance, the user's model untouched, bad input."""

from __future__ import annotations

import copy

import pytest
import torch
from captum.influence import SimilarityInfluence as CaptumSimilarity
from captum.influence import TracInCP as CaptumTracInCP
from captum.influence import TracInCPFast as CaptumTracInCPFast
from torch import nn
from torch.utils.data import Dataset

from tests.influence.conftest import load_with_lr
from veracity.influence import SimilarityInfluence, TracInCP, TracInCPFast, TracInCPFastRandProj, euclidean_distance

NONE = nn.CrossEntropyLoss(reduction="none")


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert torch.allclose(a, b, atol=1e-5, rtol=1e-5), (a - b).abs().max()


@pytest.mark.parametrize("layers", [None, ["2"]])
def test_tracincp_matches_captum(setup, layers):
    args = (setup["model"], setup["data"], setup["paths"], load_with_lr)
    ours = TracInCP(*args, layers=layers, loss_fn=NONE, batch_size=5)
    theirs = CaptumTracInCP(*args, layers=layers, loss_fn=NONE, batch_size=5)
    _close(ours.influence(setup["test"]), theirs.influence(setup["test"]))
    _close(ours.self_influence(), theirs.self_influence())
    for proponents in (True, False):
        a = ours.influence(setup["test"], k=4, proponents=proponents)
        b = theirs.influence(setup["test"], k=4, proponents=proponents)
        assert torch.equal(a.indices, b.indices)
        _close(a.influence_scores, b.influence_scores)


def test_tracincp_sample_wise_and_aggregate_match_captum(setup):
    args = (setup["model"], setup["data"], setup["paths"], load_with_lr)
    loss = nn.CrossEntropyLoss(reduction="mean")
    ours = TracInCP(*args, loss_fn=loss, batch_size=6, sample_wise_grads_per_batch=True)
    theirs = CaptumTracInCP(*args, loss_fn=loss, batch_size=6, sample_wise_grads_per_batch=True)
    _close(ours.influence(setup["test"]), theirs.influence(setup["test"]))
    _close(ours.influence(setup["test"], aggregate=True), theirs.influence(setup["test"], aggregate=True))
    plain = TracInCP(*args, loss_fn=NONE, batch_size=6)
    _close(ours.influence(setup["test"]), plain.influence(setup["test"]))


def test_tracincp_is_the_sum_over_checkpoints_of_lr_times_gradient_products(setup):
    """Independent replica: per-example gradients by one backward per example."""
    model, (tx, ty) = setup["model"], setup["test"]
    expected = torch.zeros(4, 13, dtype=torch.float64)
    for path in setup["paths"]:
        replica = copy.deepcopy(model)
        lr = load_with_lr(replica, path)

        def grads(x: torch.Tensor, y: torch.Tensor, replica: nn.Module = replica) -> torch.Tensor:
            rows = []
            for i in range(len(x)):
                g = torch.autograd.grad(NONE(replica(x[i:i + 1]), y[i:i + 1]).sum(), list(replica.parameters()))
                rows.append(torch.cat([t.reshape(-1) for t in g]))
            return torch.stack(rows)

        expected += lr * grads(tx, ty) @ grads(setup["x"], setup["y"]).T
    tracin = TracInCP(model, setup["data"], setup["paths"], load_with_lr, loss_fn=NONE, batch_size=13)
    _close(tracin.influence(setup["test"]), expected)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_tracincp_fast_matches_captum(setup, reduction):
    model = setup["model"]
    loss = nn.CrossEntropyLoss(reduction=reduction)
    args = (model, model[2], setup["data"], setup["paths"], load_with_lr)
    ours = TracInCPFast(*args, loss_fn=loss, batch_size=5)
    theirs = CaptumTracInCPFast(*args, loss_fn=loss, batch_size=5)
    _close(ours.influence(setup["test"]), theirs.influence(setup["test"]))
    _close(ours.self_influence(), theirs.self_influence())
    for proponents in (True, False):
        a = ours.influence(setup["test"], k=5, proponents=proponents)
        b = theirs.influence(setup["test"], k=5, proponents=proponents)
        assert torch.equal(a.indices, b.indices)
        _close(a.influence_scores, b.influence_scores)


def test_tracincp_fast_hand_formula(setup):
    """Cross-entropy on a linear last layer: grad at the logits is softmax - onehot, the
    layer's input is tanh(first layer); the weight gradient is their outer product."""
    model, (tx, ty) = setup["model"], setup["test"]
    expected = torch.zeros(4, 13, dtype=torch.float64)
    for path in setup["paths"]:
        replica = copy.deepcopy(model)
        lr = load_with_lr(replica, path)
        with torch.no_grad():
            def parts(x: torch.Tensor, y: torch.Tensor,
                      replica: nn.Module = replica) -> tuple[torch.Tensor, torch.Tensor]:
                hidden = torch.tanh(replica[0](x))
                return torch.softmax(replica[2](hidden), 1) - nn.functional.one_hot(y, 3), hidden
            g_t, a_t = parts(tx, ty)
            g, a = parts(setup["x"], setup["y"])
        expected += lr * (g_t @ g.T) * (a_t @ a.T)
    fast = TracInCPFast(model, "2", setup["data"], setup["paths"], load_with_lr,
                        loss_fn=nn.CrossEntropyLoss(reduction="sum"), batch_size=7)
    _close(fast.influence(setup["test"]), expected)


def test_randproj_equals_fast_without_projection_and_approximates_with(setup):
    model = setup["model"]
    loss = nn.CrossEntropyLoss(reduction="sum")
    args = (model, model[2], setup["data"], setup["paths"], load_with_lr)
    fast = TracInCPFast(*args, loss_fn=loss, batch_size=5)
    exact = TracInCPFastRandProj(*args, loss_fn=loss, batch_size=5)
    for proponents in (True, False):
        a = fast.influence(setup["test"], k=3, proponents=proponents)
        b = exact.influence(setup["test"], k=3, proponents=proponents)
        assert torch.equal(a.indices, b.indices)
        _close(a.influence_scores, b.influence_scores)
    _close(exact.influence(setup["test"], k=None), fast.influence(setup["test"]))
    projected = TracInCPFastRandProj(*args, loss_fn=loss, batch_size=5, projection_dim=12, seed=3)
    assert projected.compute_intermediate_quantities(setup["test"]).shape == (4, 3 * 12)
    approx = projected.influence(setup["test"], k=None)
    truth = fast.influence(setup["test"])
    correlation = torch.corrcoef(torch.stack([approx.flatten(), truth.flatten()]))[0, 1]
    assert correlation > 0.5


def test_randproj_with_a_faiss_index_equals_the_torch_index(setup):
    pytest.importorskip("faiss")
    from veracity.influence import FaissNearestNeighbors

    model = setup["model"]
    loss = nn.CrossEntropyLoss(reduction="sum")
    args = (model, model[2], setup["data"], setup["paths"], load_with_lr)
    torch_index = TracInCPFastRandProj(*args, loss_fn=loss, batch_size=5)
    faiss_index = TracInCPFastRandProj(*args, loss_fn=loss, batch_size=5, nearest_neighbors=FaissNearestNeighbors())
    for proponents in (True, False):
        a = torch_index.influence(setup["test"], k=3, proponents=proponents)
        b = faiss_index.influence(setup["test"], k=3, proponents=proponents)
        assert torch.equal(a.indices, b.indices)
        assert torch.allclose(a.influence_scores, b.influence_scores, atol=1e-4, rtol=1e-4)


class Inputs(Dataset):
    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_similarity_matches_captum(setup, tmp_path, metric):
    model, data = setup["model"], Inputs(setup["x"])
    kwargs = {} if metric == "cosine" else {"similarity_direction": "min"}
    from captum.influence._core.similarity_influence import euclidean_distance as captum_euclidean

    ours = SimilarityInfluence(model, ["0", "2"], data, str(tmp_path), batch_size=5,
                               **({} if metric == "cosine" else {"similarity_metric": euclidean_distance}), **kwargs)
    theirs = CaptumSimilarity(model, ["0", "2"], data, str(tmp_path), batch_size=5,
                              **({} if metric == "cosine" else {"similarity_metric": captum_euclidean}), **kwargs)
    a, b = ours.influence(setup["test"][0], top_k=3), theirs.influence(setup["test"][0], top_k=3)
    for layer in ("0", "2"):
        assert torch.equal(a[layer][0], b[layer][0])
        _close(a[layer][1], b[layer][1])


def test_batch_size_does_not_change_scores(setup):
    model = setup["model"]
    results = [TracInCP(model, setup["data"], setup["paths"], load_with_lr, loss_fn=NONE, batch_size=b)
               .influence(setup["test"]) for b in (1, 6, 13)]
    _close(results[0], results[1])
    _close(results[0], results[2])
    from torch.utils.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(*setup["test"]), batch_size=3)
    tracin = TracInCP(model, DataLoader(setup["data"], batch_size=4), setup["paths"], load_with_lr, loss_fn=NONE)
    _close(tracin.influence(loader), results[0])


def test_user_model_untouched(setup):
    model = copy.deepcopy(setup["model"])
    model.zero_grad(set_to_none=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    TracInCP(model, setup["data"], setup["paths"], load_with_lr, loss_fn=NONE, batch_size=8).self_influence()
    TracInCPFast(model, model[2], setup["data"], setup["paths"], load_with_lr,
                 loss_fn=nn.CrossEntropyLoss(reduction="sum"), batch_size=8).self_influence()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_bad_input(setup, tmp_path):
    model, data, paths = setup["model"], setup["data"], setup["paths"]
    wrong = tmp_path / "wrong.pt"
    torch.save({"model": nn.Linear(2, 2).state_dict(), "lr": 1.0}, wrong)
    with pytest.raises(ValueError, match=r"`checkpoints`: expected checkpoints that load into the model"):
        TracInCP(model, data, [str(wrong)], load_with_lr, loss_fn=NONE)
    with pytest.raises(ValueError, match=r"`loss_fn`: expected a loss with reduction 'none'"):
        TracInCP(model, data, paths, load_with_lr, loss_fn=nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match=r"`loss_fn`: expected a loss with reduction 'sum' or 'mean'"):
        TracInCP(model, data, paths, load_with_lr, loss_fn=NONE, sample_wise_grads_per_batch=True)
    with pytest.raises(ValueError, match=r"`loss_fn`: expected a loss with reduction 'sum' or 'mean'"):
        TracInCPFast(model, model[2], data, paths, load_with_lr, loss_fn=NONE)
    with pytest.raises(ValueError, match="`test_loss_fn`"):
        TracInCP(model, data, paths, load_with_lr, loss_fn=NONE, test_loss_fn=nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match="`layers`"):
        TracInCP(model, data, paths, load_with_lr, layers=["nope"], loss_fn=NONE)
    with pytest.raises(ValueError, match="`final_fc_layer`"):
        TracInCPFast(model, nn.Linear(7, 3), data, paths, load_with_lr, loss_fn=nn.CrossEntropyLoss(reduction="sum"))
    with pytest.raises(TypeError, match="`train_dataset`"):
        TracInCP(model, [1, 2, 3], paths, load_with_lr, loss_fn=NONE).self_influence()
