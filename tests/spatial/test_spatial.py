"""Spatial bias: the padding detector on a ResNet stem stack, the output-size formula against
torch, mean feature maps streamed, asymmetries by hand, foveation in closed form."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from veracity.spatial import (
    conv_output_size,
    filter_asymmetry,
    foveation_map,
    map_asymmetry,
    mean_feature_maps,
    padding_report,
    padding_table,
)


def resnet_stem_stack() -> nn.Sequential:
    """ResNet's down-sampling: conv 7x7 s2 p3, max-pool 3x3 s2 p1, three conv 3x3 s2 p1 stages."""
    return nn.Sequential(nn.Conv2d(3, 4, 7, 2, 3), nn.MaxPool2d(3, 2, 1), nn.Conv2d(4, 4, 3, 2, 1),
                         nn.Conv2d(4, 4, 3, 2, 1), nn.Conv2d(4, 4, 3, 2, 1)).eval()


def test_uneven_padding_flags_224_not_225() -> None:
    model = resnet_stem_stack()
    at_224 = [r for r in padding_report(model, (3, 224, 224)) if r.axis == 0]
    at_225 = [r for r in padding_report(model, (3, 225, 225)) if r.axis == 0]
    assert [r.input_size for r in at_224] == [224, 112, 56, 28, 14]
    assert all(r.uneven and r.unused_padding == 1 and r.ignored_input == 0 for r in at_224)
    assert [r.input_size for r in at_225] == [225, 113, 57, 29, 15]
    assert not any(r.uneven or r.leftover for r in at_225)
    assert "| 0 | 0 | 224 | 7 | 2 | 3 | 112 | 1 | 1 | yes |" in padding_table(at_224)
    # rectangular inputs: each axis on its own
    mixed = padding_report(model, (3, 225, 224))
    assert {r.axis for r in mixed if r.uneven} == {1}


@pytest.mark.parametrize("size,kernel,stride,padding,dilation",
                         [(17, 3, 2, 1, 1), (16, 3, 2, 1, 1), (31, 5, 3, 2, 1), (20, 3, 2, 0, 2), (9, 4, 4, 1, 1)])
def test_output_size_formula_matches_torch(size: int, kernel: int, stride: int, padding: int, dilation: int) -> None:
    conv = nn.Conv2d(1, 1, kernel, stride, padding, dilation)
    assert conv(torch.zeros(1, 1, size, size)).shape[-1] == conv_output_size(size, kernel, stride, padding, dilation)


def test_padding_report_bad_input() -> None:
    with pytest.raises(TypeError, match="`model`"):
        padding_report(nn.Linear(2, 2), (2,))
    with pytest.raises(TypeError, match="`input_shape`"):
        padding_report(resnet_stem_stack(), (3, 224.0, 224))  # type: ignore[arg-type]


def test_mean_feature_maps_streamed_equal_whole_and_constant_input() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, 2, 1), nn.ReLU(), nn.Conv2d(3, 2, 3, 2, 1)).eval()
    x = torch.rand(10, 1, 16, 16)
    whole = mean_feature_maps(model, x, ["1", "2"])
    streamed = mean_feature_maps(model, [x[:3], x[3:]], ["1", "2"])
    for name in whole:
        torch.testing.assert_close(whole[name], streamed[name])
    torch.testing.assert_close(whole["1"], model[:2](x).mean((0, 1)))
    per_channel = mean_feature_maps(model, x, ["2"], per_channel=True)["2"]
    torch.testing.assert_close(per_channel, model(x).mean(0))
    # on a constant input every non-border position is equal: only the padding shapes the map
    blank = mean_feature_maps(model, torch.zeros(1, 1, 16, 16), ["1"])["1"]
    assert torch.allclose(blank[1:, 1:], blank[1, 1].expand(7, 7))
    with pytest.raises(ValueError, match="`layers`"):
        mean_feature_maps(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), torch.zeros(2, 1, 2, 2), ["1"])


def test_asymmetries_by_hand() -> None:
    assert map_asymmetry(torch.ones(4, 5)) == {"left_right": 0.0, "top_bottom": 0.0}
    values = map_asymmetry(torch.tensor([[2.0, 2.0], [1.0, 1.0]]))
    assert values["top_bottom"] == pytest.approx(1 / 3) and values["left_right"] == 0.0
    conv = nn.Conv2d(2, 2, 3)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :, :, 0] = 1.0  # left column only: mean filter [[1,0,0]]*3
    # |F - flip_lr F| = sqrt(6), |F - flip_ud F| = 0, |F| = sqrt(3)
    assert filter_asymmetry(conv) == pytest.approx(6 ** 0.5 / (2 * 3 ** 0.5))


def test_foveation_closed_form_and_chunks() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 6 * 5, 3)).eval()
    canvas, stimulus = torch.rand(2, 6, 5), torch.rand(2, 2, 3)
    got = foveation_map(model, canvas, stimulus, target=1)
    assert got.shape == (5, 3)
    weight = model[1].weight[1].detach().reshape(2, 6, 5)
    for i in range(5):
        for j in range(3):
            pasted = canvas.clone()
            pasted[:, i:i + 2, j:j + 3] = stimulus
            expected = float((weight * pasted).sum() + model[1].bias[1].detach())
            assert float(got[i, j]) == pytest.approx(expected, abs=1e-5)
    torch.testing.assert_close(foveation_map(model, canvas, stimulus, target=1, chunk_rows=4), got)
    assert foveation_map(model, canvas, stimulus, target=1, stride=2).shape == (3, 2)
    with pytest.raises(ValueError, match="`stimulus`"):
        foveation_map(model, canvas, torch.rand(2, 7, 1), target=1)
