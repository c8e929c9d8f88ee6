"""The concept atlas: measured receptive fields equal the analytic ones; the atlas picks the most
relevant concepts and their relevance-maximising references; the figure is written."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from veracity import lrp

D = torch.float64


def _two_convs() -> nn.Sequential:
    torch.manual_seed(2)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).double().eval()


def test_receptive_field_of_two_3x3_convolutions_is_5x5() -> None:
    model = _two_convs()
    flat = lrp.LayerMapComposite([(lrp.composites.CONVOLUTION, lrp.Flat()), (nn.Linear, lrp.Epsilon()),
                                  (nn.AdaptiveAvgPool2d, lrp.Norm()), (nn.ReLU, lrp.Pass())])
    x = torch.rand(1, 1, 12, 12, dtype=D)
    from veracity.attr import LayerLRP

    layer_relevance = LayerLRP(model, model[2], composite=flat).attribute(x, target=1)
    checked = 0
    for channel in range(4):
        if not layer_relevance[0, channel].any():  # a dead channel has no field: the whole input
            assert lrp.receptive_field(model, flat, x, 1, model[2], channel) == (0, 12, 0, 12)
            continue
        position = int(layer_relevance[0, channel].abs().flatten().argmax())
        h, w = divmod(position, 12)
        expected = (max(h - 2, 0), min(h + 3, 12), max(w - 2, 0), min(w + 3, 12))
        assert lrp.receptive_field(model, flat, x, 1, model[2], channel) == expected
        checked += 1
    assert checked >= 2


def test_atlas_picks_top_concepts_and_their_references(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    model = _two_convs()
    generator = torch.Generator().manual_seed(1)
    data = torch.utils.data.TensorDataset(torch.rand(9, 1, 12, 12, generator=generator, dtype=D),
                                          torch.randint(0, 2, (9,), generator=generator))
    composite = lrp.EpsilonPlusFlat()
    x = torch.rand(1, 1, 12, 12, generator=generator, dtype=D)
    atlas = lrp.concept_atlas(model, composite, x, 1, "2", data, n_concepts=2, k=3)
    shares = lrp.concept_relevance(model, composite, x, 1, "2", abs_norm=True)[0]
    assert atlas.concepts == torch.argsort(shares, descending=True, stable=True)[:2].tolist()
    found = lrp.relevance_maximization(model, composite, data, "2", atlas.concepts, 3, show_progress=False)
    assert atlas.references == found.relevance_indices.tolist()
    for crops, boxes in zip(atlas.crops, atlas.boxes):
        for crop, (top, bottom, left, right) in zip(crops, boxes):
            assert crop.shape[-2:] == (bottom - top, right - left)
            assert (bottom - top <= 5 and right - left <= 5) or (top, bottom, left, right) == (0, 12, 0, 12)
    path = tmp_path / "atlas.png"
    lrp.plot_concept_atlas(atlas, str(path))
    assert path.stat().st_size > 1000
