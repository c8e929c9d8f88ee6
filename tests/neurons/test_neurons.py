"""Neuron analysis: activations in one pass, probes, rankings by hand, ablation, model ablation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from veracity._core.capture import capture_layers
from veracity.neurons import (
    ablation_table,
    bottom_neurons,
    filter_neurons,
    keep_neurons,
    layer_activations,
    model_ablation,
    neuron_ordering,
    probeless_ordering,
    token_activations,
    top_neurons,
    top_neurons_hard_threshold,
    train_probe,
    zero_neurons,
)


def planted(n: int = 600, d: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels decided by neurons 3 and 7 only."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, (x[:, 3] - x[:, 7] > 0).long()


class Dict(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.fc = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.fc(self.conv(x).mean((2, 3))), "extra": x}


def test_activations_one_pass_equal_single_captures_and_reduce() -> None:
    model = Dict().eval()
    x = torch.randn(5, 1, 4, 4)
    acts = layer_activations(model, x, ["conv", model.fc], reduce="none", chunk_rows=2)
    conv = capture_layers(lambda t: model(t)["logits"], x, [model.conv])[0]
    torch.testing.assert_close(acts["conv"], conv)
    torch.testing.assert_close(acts["fc"], model(x)["logits"])
    channels = layer_activations(model, x, ["conv"], reduce="channels")["conv"]
    torch.testing.assert_close(channels, conv.mean((2, 3)))
    assert layer_activations(model, x, "conv")["conv"].shape == (5, 48)
    with pytest.raises(ValueError, match="`layers`.*'conv2'"):
        layer_activations(model, x, ["conv2"])
    with pytest.raises(ValueError, match="`reduce`"):
        layer_activations(model, x, ["conv"], reduce="max")


def test_token_activations_drop_padding() -> None:
    hidden = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    tokens = token_activations(hidden, mask)
    torch.testing.assert_close(tokens, torch.cat([hidden[0, :3], hidden[1, :2]]))
    with pytest.raises(ValueError, match="`attention_mask`"):
        token_activations(hidden, mask[:, :3])


def test_rankings_by_hand() -> None:
    w = torch.tensor([[0.1, -4.0, 3.0, 0.0, 2.0], [5.0, 0.0, 0.0, 1.0, -1.0]])
    union, per_class = top_neurons(w, 0.7)  # row 0 mass 9.1: 4 + 3 = 7 >= 6.37; row 1 mass 7: 5 >= 4.9
    assert per_class[0].tolist() == [1, 2] and per_class[1].tolist() == [0]
    assert union.tolist() == [0, 1, 2]
    assert top_neurons_hard_threshold(w, 2.0).tolist() == [0, 1, 2]  # |w| > 2 in row 0, > 2.5 in row 1
    bottom, per_class = bottom_neurons(w, 0.05)  # row 0: 0 + 0.1 <= 0.455; row 1: 0 + 0 <= 0.35
    assert sorted(per_class[0].tolist()) == [0, 3] and sorted(per_class[1].tolist()) == [1, 2]
    order, cutoffs = neuron_ordering(w, search_stride=10)
    assert sorted(order.tolist()) == [0, 1, 2, 3, 4] and order[:2].tolist() == [0, 1]
    assert cutoffs[0] == 0 and cutoffs == sorted(cutoffs) and cutoffs[-1] == 5


def test_probe_and_probeless_find_the_planted_neurons() -> None:
    x, y = planted()
    probe = train_probe(x, y, lambda_l1=1e-3, lambda_l2=1e-3, epochs=20, learning_rate=0.05)
    assert probe.accuracy(x, y) > 0.95
    again = train_probe(x, y, lambda_l1=1e-3, lambda_l2=1e-3, epochs=20, learning_rate=0.05)
    assert torch.equal(probe.weight, again.weight)  # seeded
    order, _ = neuron_ordering(probe)
    assert set(order[:2].tolist()) == {3, 7}
    assert set(top_neurons(probe, 0.5)[0].tolist()) <= {3, 7}
    probeless, scores = probeless_ordering(x, y)
    assert set(probeless[:2].tolist()) == {3, 7}
    manual = (x[y == 0].double().mean(0) - x[y == 1].double().mean(0)).abs()
    torch.testing.assert_close(scores, manual)


def test_regression_probe() -> None:
    x, _ = planted()
    target = 2 * x[:, 1] - x[:, 4]
    probe = train_probe(x, target, task="regression", epochs=30, learning_rate=0.05)
    assert probe.accuracy(x, target) > 0.99 and probe.weight.shape == (1, 12)


def test_ablation_table_direction() -> None:
    x, y = planted(800)
    kwargs = {"epochs": 15, "learning_rate": 0.05}
    order = torch.tensor([3, 7] + [i for i in range(12) if i not in (3, 7)])
    table = ablation_table(x[:600], y[:600], x[600:], y[600:], order, [2, 4], **kwargs)
    first = table.rows[0]
    assert table.full_accuracy > 0.95 and first["top"] > 0.95
    assert first["random"] < 0.85 and first["bottom"] < 0.7
    assert first["full, top zeroed"] < 0.65 and first["full, bottom zeroed"] > 0.95
    assert "| 2 |" in table.markdown()
    with pytest.raises(ValueError, match="`ordering`"):
        ablation_table(x, y, x, y, order[:5], [2])


def test_keep_zero_filter() -> None:
    x = torch.arange(6.0).reshape(2, 3)
    assert keep_neurons(x, torch.tensor([2])).tolist() == [[0.0, 0.0, 2.0], [0.0, 0.0, 5.0]]
    assert zero_neurons(x, torch.tensor([0, 2])).tolist() == [[0.0, 1.0, 0.0], [0.0, 4.0, 0.0]]
    assert filter_neurons(x, torch.tensor([2, 0])).tolist() == [[2.0, 0.0], [5.0, 3.0]]
    with pytest.raises(ValueError, match="`neurons`"):
        zero_neurons(x, torch.tensor([3]))


def test_model_ablation_closed_form() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).eval()
    x = torch.randn(50, 4)
    labels = model(x).argmax(1)
    result = model_ablation(model, x, labels, "1", {"all": torch.arange(6), "two": torch.tensor([0, 5])})
    assert result["none"] == 1.0
    # all hidden units zeroed: every output is the last bias
    assert result["all"] == pytest.approx(float((labels == model[2].bias.argmax()).float().mean()))
    with torch.no_grad():
        hidden = model[1](model[0](x))
        hidden[:, [0, 5]] = 0
        expected = float((model[2](hidden).argmax(1) == labels).float().mean())
    assert result["two"] == pytest.approx(expected)
    before = [p.clone() for p in model.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_text_encoder_token_activations() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=32)
    torch.manual_seed(0)
    model = transformers.BertModel(config).eval()
    ids = torch.randint(0, 50, (3, 7))
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[1, 5:] = 0
    acts = layer_activations(model, ids, ["encoder.layer.0", "encoder.layer.1"], (mask,), reduce="none")
    last = acts["encoder.layer.1"]
    last = last[0] if isinstance(last, tuple) else last
    torch.testing.assert_close(last, model(ids, mask).last_hidden_state)
    assert token_activations(last, mask).shape == (19, 16)
