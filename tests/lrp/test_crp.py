"""CRP: conditional heatmaps over all channels sum to the LRP heatmap, any chunking gives the same
numbers, concept relevance is the layer's relevance per channel, and relevance maximisation
equals a brute-force loop over the data set."""

from __future__ import annotations

import pytest
import torch

from tests.lrp._models import resnet_like, vgg_like
from veracity import attr, lrp

D = torch.float64


@pytest.mark.parametrize("make, composite, layer", [
    (vgg_like, lrp.EpsilonPlusFlat(canonizers=[lrp.SequentialMergeBatchNorm()]), "4"),
    # a block's output: every path goes through it (relevance on a skip connection around a layer
    # inside the block would bypass that layer's condition)
    (resnet_like, lrp.EpsilonGammaBox(0.0, 1.0, canonizers=[lrp.ResNetCanonizer()]), "block1"),
], ids=["vgg", "resnet"])
def test_conditional_heatmaps_over_all_channels_sum_to_the_lrp_heatmap(make, composite, layer) -> None:
    model = make().double()
    x = torch.rand(3, 3, 8, 8, dtype=D)
    target = [0, 2, 1]
    conditional = lrp.conditional_relevance(model, composite, x, target, layer)
    assert conditional.shape[:2] == (3, {"4": 8, "block1": 4}[layer])
    plain = attr.LRP(model, composite=composite).attribute(x, target=target)
    torch.testing.assert_close(conditional.sum(1), plain, atol=1e-5, rtol=1e-5)
    chunked = lrp.conditional_relevance(model, composite, x, target, layer, [3, 1], batch_size=3)
    torch.testing.assert_close(chunked, conditional[:, [3, 1]], atol=1e-12, rtol=1e-10)


def test_concept_relevance_is_the_layers_relevance_per_channel() -> None:
    model = vgg_like().double()
    x = torch.rand(2, 3, 8, 8, dtype=D)
    composite = lrp.EpsilonPlus(canonizers=[lrp.SequentialMergeBatchNorm()])
    layer_relevance = attr.LayerLRP(model, model[4], composite=composite).attribute(x, target=1)
    expected = layer_relevance.flatten(2).sum(2)
    torch.testing.assert_close(lrp.concept_relevance(model, composite, x, 1, model[4]), expected)
    shares = lrp.concept_relevance(model, composite, x, 1, "4", [0, 5], abs_norm=True)
    torch.testing.assert_close(shares, (expected / expected.abs().sum(1, keepdim=True))[:, [0, 5]])
    with pytest.raises(ValueError, match="`channels`"):
        lrp.concept_relevance(model, composite, x, 1, "4", [8])
    with pytest.raises(ValueError, match="`layer`"):
        lrp.concept_relevance(model, composite, x, 1, "features.4")


@pytest.mark.parametrize("as_loader, target, reduce", [(False, "label", "sum"), (True, "prediction", "max")])
def test_relevance_maximisation_equals_brute_force(as_loader: bool, target: str, reduce: str) -> None:
    model = vgg_like().double()
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(11, 3, 8, 8, generator=generator, dtype=D)
    labels = torch.randint(0, 4, (11,), generator=generator)
    data = torch.utils.data.TensorDataset(images, labels)
    if as_loader:
        data = torch.utils.data.DataLoader(data, batch_size=4)
    composite = lrp.EpsilonPlusFlat(canonizers=[lrp.SequentialMergeBatchNorm()])
    channels, k = [0, 3, 7], 4
    found = lrp.relevance_maximization(model, composite, data, "4", channels, k, target=target, reduce=reduce,
                                       batch_size=5, show_progress=False)
    relevance, activation = [], []
    for i in range(11):  # the brute force: one example at a time
        x = images[i:i + 1]
        y = int(labels[i]) if target == "label" else int(model(x).argmax(1))
        r = attr.LayerLRP(model, model[4], composite=composite).attribute(x, target=y)
        with composite.canonizers[0].context(model):  # activations of the explained (canonized) model
            a = attr.LayerActivation(model, model[4]).attribute(x)
        pick = (lambda t: t.flatten(2).sum(2)) if reduce == "sum" else (lambda t: t.flatten(2).amax(2))
        relevance.append(pick(r)[0, channels])
        activation.append(pick(a)[0, channels])
    for scores, indices, per_example in [(found.relevance_scores, found.relevance_indices, relevance),
                                         (found.activation_scores, found.activation_indices, activation)]:
        table = torch.stack(per_example, 1)  # (channels, examples)
        best = torch.sort(table, dim=1, descending=True, stable=True)
        torch.testing.assert_close(indices, best.indices[:, :k])
        torch.testing.assert_close(scores, best.values[:, :k])
    assert found.channels == channels


def test_relevance_maximisation_rejects_bad_input() -> None:
    model = vgg_like()
    data = torch.utils.data.TensorDataset(torch.rand(4, 3, 8, 8))
    with pytest.raises(ValueError, match="`target`"):
        lrp.relevance_maximization(model, lrp.EpsilonPlus(), data, "4", show_progress=False)
    shuffled = torch.utils.data.DataLoader(data, shuffle=True)
    with pytest.raises(ValueError, match="`data`"):
        lrp.relevance_maximization(model, lrp.EpsilonPlus(), shuffled, "4", target="prediction")
    with pytest.raises(TypeError, match="`composite`"):
        lrp.relevance_maximization(model, "EpsilonPlus", data, "4", target="prediction")


@pytest.mark.parametrize("batch", [1, 2])
def test_conditioning_inside_a_residual_block_falls_back_to_full_copies(batch: int) -> None:
    # above a layer inside a block, the skip connection still carries every copy: the part of
    # the model above the layer cannot run once for all copies (it does for a block's output)
    model = resnet_like().double()
    x = torch.rand(batch, 3, 8, 8, dtype=D)
    composite = lrp.EpsilonPlus(canonizers=[lrp.ResNetCanonizer()])
    together = lrp.conditional_relevance(model, composite, x, 1, "block1.conv2", [0, 2, 3])
    one_by_one = torch.cat([lrp.conditional_relevance(model, composite, x, 1, "block1.conv2", [c], batch_size=batch)
                            for c in (0, 2, 3)], 1)
    torch.testing.assert_close(together, one_by_one, atol=1e-12, rtol=1e-10)


def test_all_channels_in_one_forward_and_one_backward() -> None:
    model = vgg_like().double()
    x = torch.rand(2, 3, 8, 8, dtype=D)
    rows: dict[str, list[int]] = {"model": [], "head": []}
    hooks = [model.register_forward_pre_hook(lambda m, a: rows["model"].append(a[0].shape[0])),
             model[11].register_forward_pre_hook(lambda m, a: rows["head"].append(a[0].shape[0]))]
    try:
        heatmaps = lrp.conditional_relevance(model, lrp.EpsilonPlus(), x, 0, "4")
    finally:
        for handle in hooks:
            handle.remove()
    assert heatmaps.shape == (2, 8, 3, 8, 8)
    assert rows["model"] == [1, 16]  # the layer's shape (one example), then all 8 channels x 2 examples
    assert rows["head"] == [1, 2]  # above the layer the copies are the same: they run once
