"""Randomisation sanity checks: the paper's direction on the digits CNN, copies, seeds, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import MLP, SmallCNN
from veracity.attr import InputXGradient, IntegratedGradients, Saliency
from veracity.metrics import (
    data_randomisation_test,
    efficient_mprt,
    model_parameter_randomisation,
    random_logit,
    randomisable_layers,
    randomised_models,
    smooth_mprt,
)


@pytest.fixture(scope="module")
def digits():
    from veracity.data import load_digits, train_digits_cnn
    data = load_digits()
    return train_digits_cnn(data, seed=0), data.test_x[:50], data.test_y[:50]


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_cascading_randomisation_reproduces_the_input_multiplier_effect(digits) -> None:
    model, x, y = digits
    before = _snapshot(model)
    results = {name: model_parameter_randomisation(model, x, y, method)
               for name, method in [("saliency", Saliency), ("ixg", InputXGradient),
                                    ("ig", IntegratedGradients)]}
    assert results["saliency"].stages == ["fc2", "fc1", "conv2", "conv1"]
    last = {name: r.mean() for name, r in results.items()}
    assert float(last["saliency"]["spearman_abs"][-1]) < 0.3
    for name in ("ixg", "ig"):
        assert float(last[name]["spearman_abs"][-1]) > 0.7
        assert float(last[name]["spearman"][-1]) < 0.3
    # the user's model is bit-identical afterwards
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_instances_follow_the_randomised_copy(digits) -> None:
    model, x, y = digits
    by_class = model_parameter_randomisation(model, x[:8], y[:8], IntegratedGradients)
    by_instance = model_parameter_randomisation(model, x[:8], y[:8], IntegratedGradients(model))
    by_function = model_parameter_randomisation(
        model, x[:8], y[:8], lambda m, inputs, t: IntegratedGradients(m).attribute(inputs, target=t))
    for key in by_class.similarity:
        assert torch.allclose(by_class.similarity[key], by_instance.similarity[key])
        assert torch.allclose(by_class.similarity[key], by_function.similarity[key])


def test_orders_and_independent_restores_other_layers() -> None:
    model = MLP().eval()
    assert randomisable_layers(model) == ["fc1", "fc2", "fc3"]
    assert [n for n, _ in randomised_models(model, "bottom_up")] == ["fc1", "fc2", "fc3"]
    trained = dict(model.named_parameters())
    for name, copy_ in randomised_models(model, "independent", seed=3):
        for pname, param in copy_.named_parameters():
            changed = not torch.equal(param, trained[pname])
            assert changed == pname.startswith(name + ".")
    # cascading: after the last stage every layer is re-initialised
    *_, (_, last) = randomised_models(model, "top_down")
    assert all(not torch.equal(p, trained[n]) for n, p in last.named_parameters())


def test_seed_reproducible_and_same_layer_weights_in_every_order() -> None:
    model = MLP().eval()
    first = {n: c.fc2.weight.clone() for n, c in randomised_models(model, "independent", seed=5)}
    again = {n: c.fc2.weight.clone() for n, c in randomised_models(model, "independent", seed=5)}
    assert torch.equal(first["fc2"], again["fc2"])
    *_, (_, cascade) = randomised_models(model, "top_down", seed=5)
    assert torch.equal(cascade.fc2.weight, first["fc2"])
    other = {n: c.fc2.weight.clone() for n, c in randomised_models(model, "independent", seed=6)}
    assert not torch.equal(first["fc2"], other["fc2"])
    state = torch.random.get_rng_state()
    list(randomised_models(model))
    assert torch.equal(state, torch.random.get_rng_state())


def test_linear_model_similarity_after_randomisation_is_the_weight_correlation() -> None:
    model = nn.Linear(6, 3).eval()
    x = torch.randn(4, 6)
    result = model_parameter_randomisation(model, x, 1, InputXGradient, keep_maps=True)
    (_, randomised), = list(randomised_models(model))
    expected = x * randomised.weight[1].detach()
    assert torch.allclose(result.maps[0], expected)
    from veracity.metrics import spearman
    assert torch.allclose(result.similarity["spearman"][0], spearman(x * model.weight[1].detach(), expected))


def test_batch_equals_per_example() -> None:
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    batched = model_parameter_randomisation(model, x, 2, Saliency).similarity["spearman_abs"]
    single = torch.cat([model_parameter_randomisation(model, x[i:i + 1], 2, Saliency)
                        .similarity["spearman_abs"] for i in range(3)], 1)
    assert torch.allclose(batched, single, atol=1e-6)


def test_model_untouched_when_the_explanation_raises() -> None:
    model = MLP().eval()
    before = _snapshot(model)

    def broken(m, inputs, target):
        if m is not model:
            raise RuntimeError("boom")
        return Saliency(m).attribute(inputs, target=target)

    with pytest.raises(RuntimeError, match="boom"):
        model_parameter_randomisation(model, torch.randn(2, 6), 0, broken)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())


def test_bad_input_names_the_argument() -> None:
    model = MLP().eval()
    x = torch.randn(2, 6)
    with pytest.raises(ValueError, match="`order`"):
        model_parameter_randomisation(model, x, 0, Saliency, order="sideways")
    with pytest.raises(ValueError, match="`layers`"):
        model_parameter_randomisation(model, x, 0, Saliency, layers=["nope"])
    with pytest.raises(ValueError, match="`attributions`"):
        model_parameter_randomisation(model, x, 0, Saliency, attributions=torch.randn(2, 5))
    with pytest.raises(TypeError, match="`explain_func`"):
        model_parameter_randomisation(model, x, 0, 42)
    with pytest.raises(ValueError, match="`explain_func`"):
        model_parameter_randomisation(model, x, 0, lambda m, i, t: i[:, :2])
    with pytest.raises(TypeError, match="`model`"):
        model_parameter_randomisation(lambda t: t, x, 0, Saliency)
    with pytest.raises(TypeError, match="`seed`"):
        model_parameter_randomisation(model, x, 0, Saliency, seed=0.5)


def test_random_logit_on_linear_model_compares_weight_rows() -> None:
    model = nn.Linear(5, 2).eval()
    x = torch.randn(4, 5)
    from veracity.metrics import pearson
    # with two classes the "other" class is always the remaining one
    score = random_logit(model, x, 0, InputXGradient, similarity_func=pearson)
    w = model.weight.detach()
    assert torch.allclose(score, pearson(x * w[0], x * w[1]), atol=1e-6)
    assert torch.equal(score, random_logit(model, x, 0, InputXGradient, similarity_func=pearson))
    with pytest.raises(ValueError, match="`target`"):
        random_logit(model, x, None, InputXGradient)


def test_data_randomisation_calls_training_with_permuted_labels() -> None:
    seen = []
    reference = nn.Linear(4, 2)

    def train(labels):
        seen.append(labels)
        return reference

    labels = torch.arange(10)
    result = data_randomisation_test(reference, train, labels, torch.randn(3, 4), 0, Saliency)
    assert sorted(seen[0].tolist()) == labels.tolist() and not torch.equal(seen[0], labels)
    # the same model explained twice: identical maps
    assert torch.allclose(result.similarity["spearman_abs"], torch.ones(1, 3))


def test_smooth_mprt_with_zero_noise_equals_mprt() -> None:
    model = MLP().eval()
    x = torch.randn(3, 6)
    plain = model_parameter_randomisation(model, x, 0, Saliency, order="bottom_up")
    smooth = smooth_mprt(model, x, 0, Saliency, n_samples=3, noise_magnitude=0.0)
    for key in plain.similarity:
        assert torch.allclose(plain.similarity[key], smooth.similarity[key], atol=1e-6)
    with pytest.raises(ValueError, match="`n_samples`"):
        smooth_mprt(model, x, 0, Saliency, n_samples=0)


def test_efficient_mprt_by_hand(digits) -> None:
    model, x, y = digits
    from veracity.metrics import discrete_entropy
    scores = efficient_mprt(model, x[:10], y[:10], Saliency)
    *_, (_, randomised) = randomised_models(model, "bottom_up")
    before = discrete_entropy(Saliency(model).attribute(x[:10], target=y[:10]))
    after = discrete_entropy(Saliency(randomised).attribute(x[:10], target=y[:10]))
    assert torch.allclose(scores, (after - before) / before)
    # entropy of a map with k equal non-zero values and the rest zero: two bins
    maps = torch.zeros(1, 10)
    maps[0, :4] = 1.0
    p = torch.tensor([0.6, 0.4])
    assert torch.allclose(discrete_entropy(maps), -(p * p.log()).sum()[None])
