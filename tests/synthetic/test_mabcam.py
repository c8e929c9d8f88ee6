"""LayerMabCam equals its defining formula: the band value of the most likely level (or the
softmax expectation) of the heatmap head's logits, read at the layer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from veracity.attr import LayerMabCam
from veracity.synthetic import MabCellsNet, make_cells


def _model_and_logits() -> tuple[MabCellsNet, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = MabCellsNet(classes=4, width=4).eval()
    x = make_cells(3, size=16, seed=0).images
    with torch.no_grad():
        early, late = model.features(x)
        logits = model.band_logits(early, late)
    return model, x, logits


def test_hard_map_is_the_value_of_the_most_likely_level() -> None:
    model, x, logits = _model_and_logits()
    cam = LayerMabCam(model, model.bands).attribute(x)
    k = logits.argmax(1, keepdim=True)
    # the reference code's reading of mabSPA's head: 0.4 where level 1 wins, 0.9 where level 2 wins
    expected = 0.4 * (k == 1).float() + 0.9 * (k == 2).float()
    assert cam.shape == (3, 1, 16, 16)
    assert torch.equal(cam, expected)
    values = (-1.0, 0.25, 2.0)
    custom = LayerMabCam(model, model.bands).attribute(x, band_values=values)
    assert torch.equal(custom, torch.tensor(values)[k])


def test_soft_map_is_the_expected_band_value() -> None:
    model, x, logits = _model_and_logits()
    soft = LayerMabCam(model, model.bands).attribute(x, soft=True)
    p = torch.softmax(logits, 1)
    torch.testing.assert_close(soft, 0.4 * p[:, 1:2] + 0.9 * p[:, 2:3])
    # two levels valued 0 and 1: the soft map is the logistic of the logit difference
    two = torch.nn.Conv2d(3, 2, 1)
    binary = LayerMabCam(two, two).attribute(x, band_values=(0.0, 1.0), soft=True)
    with torch.no_grad():
        z = two(x)
    torch.testing.assert_close(binary, torch.sigmoid(z[:, 1:2] - z[:, 0:1]))


def test_upsampling_resizes_the_logits_before_reading_the_levels() -> None:
    torch.manual_seed(1)
    head = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 2, stride=2))
    x = torch.rand(2, 3, 8, 8)
    cam = LayerMabCam(head, head[0]).attribute(x, upsample_to_input=True)
    with torch.no_grad():
        logits = F.interpolate(head(x), size=(8, 8), mode="bilinear", align_corners=False)
    assert torch.equal(cam, torch.tensor([0.0, 0.4, 0.9])[logits.argmax(1, keepdim=True)])
    assert LayerMabCam(head, head[0]).attribute(x).shape == (2, 1, 4, 4)


def test_needs_no_gradients_and_batch_equals_per_example() -> None:
    model, x, _ = _model_and_logits()
    method = LayerMabCam(model, model.bands)
    with torch.no_grad():
        batched = method.attribute(x, soft=True)
    for i in range(3):
        torch.testing.assert_close(batched[i:i + 1], method.attribute(x[i:i + 1], soft=True))


def test_bad_band_values_are_named() -> None:
    model, x, _ = _model_and_logits()
    method = LayerMabCam(model, model.bands)
    with pytest.raises(ValueError, match="`band_values`.*3"):
        method.attribute(x, band_values=(0.0, 1.0))
    with pytest.raises(ValueError, match="`band_values`"):
        method.attribute(x, band_values="abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`upsample_to_input`"):
        LayerMabCam(model.fc, model.fc).attribute(torch.rand(2, 8), band_values=(0, 1, 2, 3),
                                                  upsample_to_input=True)
