"""The planted artifact: exactly known pixels, exact rates, reproducible under a seed."""

from __future__ import annotations

import pytest
import torch

from veracity.data.digits import load_digits
from veracity.spurious import (
    ARTIFACTS,
    default_box,
    plant_artifact,
    plant_spurious,
    planted_count,
    spurious_digits,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def box_mask(kind: str, n: int = 1) -> torch.Tensor:
    top, left, h, w = default_box(kind, 8, 8)
    mask = torch.zeros(n, 1, 8, 8, dtype=torch.bool)
    mask[..., top:top + h, left:left + w] = True
    return mask


@pytest.mark.parametrize("kind", ARTIFACTS)
def test_planted_image_differs_from_the_clean_digit_exactly_on_the_mask(digits, kind: str) -> None:
    clean = digits.train_x
    before = clean.clone()
    planted, masks = plant_artifact(clean, kind)
    assert torch.equal(clean, before)  # the caller's tensor is untouched
    assert masks.shape == (clean.shape[0], 1, 8, 8) and masks.dtype == torch.bool
    assert torch.equal(planted != clean, masks)
    region = box_mask(kind, clean.shape[0])
    assert not bool((masks & ~region).any())  # nothing outside the box changes
    if kind == "tint":
        assert torch.equal(masks, region)  # an unclamped shift changes every pixel of its box
        assert torch.allclose(planted[region], clean[region] + 0.25)
    else:
        # the whole box except pixels that already held the value
        assert torch.equal(masks, region & (clean != 1.0))
        assert bool((planted[region] == 1.0).all())


def test_artifact_boxes_and_values_are_honoured() -> None:
    images = torch.full((2, 3, 6, 6), 0.5)
    planted, masks = plant_artifact(images, "patch", box=(1, 2, 3, 2), value=0.0)
    expected = torch.zeros(2, 1, 6, 6, dtype=torch.bool)
    expected[..., 1:4, 2:4] = True
    assert torch.equal(masks, expected)
    assert bool((planted[:, :, 1:4, 2:4] == 0).all()) and int((planted == 0).sum()) == 2 * 3 * 6
    planted, masks = plant_artifact(images, "tint", box=(0, 0, 6, 6), shift=-0.1)
    assert bool(masks.all()) and torch.allclose(planted, images - 0.1)


@pytest.mark.parametrize("rate,other_rate", [(1.0, 0.0), (0.3, 0.0), (0.5, 0.1), (0.0, 0.25), (0.77, 1.0)])
def test_rates_are_met_exactly(digits, rate: float, other_rate: float) -> None:
    data = plant_spurious(digits.train_x, digits.train_y, "patch", target_class=7, rate=rate,
                          other_rate=other_rate, seed=3)
    in_class = digits.train_y == 7
    assert int(data.carries[in_class].sum()) == planted_count(int(in_class.sum()), rate)
    assert int(data.carries[~in_class].sum()) == planted_count(int((~in_class).sum()), other_rate)
    # masks only where the artifact was planted, and the images differ from clean exactly there
    assert torch.equal(data.masks.flatten(1).any(1), data.carries)
    assert torch.equal(data.images != data.clean, data.masks)
    assert torch.equal(data.clean, digits.train_x) and torch.equal(data.labels, digits.train_y)


def test_planted_count_rounds_half_up() -> None:
    assert [planted_count(10, r) for r in (0.0, 0.04, 0.05, 0.15, 0.25, 1.0)] == [0, 0, 1, 2, 3, 10]
    assert planted_count(178, 0.5) == 89 and planted_count(3, 0.5) == 2


def test_reproducible_under_a_seed(digits) -> None:
    a = plant_spurious(digits.train_x, digits.train_y, "stripe", 2, 0.5, other_rate=0.2, seed=5)
    b = plant_spurious(digits.train_x, digits.train_y, "stripe", 2, 0.5, other_rate=0.2, seed=5)
    c = plant_spurious(digits.train_x, digits.train_y, "stripe", 2, 0.5, other_rate=0.2, seed=6)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks) and torch.equal(a.carries, b.carries)
    assert not torch.equal(a.carries, c.carries)
    assert int(a.carries.sum()) == int(c.carries.sum())


def test_spurious_digits_contaminates_train_and_plants_every_test_digit(digits) -> None:
    data = spurious_digits("tint", target_class=4, rate=0.8, seed=1)
    train_four = data.train.labels == 4
    assert int(data.train.carries.sum()) == planted_count(int(train_four.sum()), 0.8)
    assert not bool(data.train.carries[~train_four].any())
    assert bool(data.test.carries.all())
    assert torch.equal(data.test.clean, digits.test_x)
    assert torch.equal(data.test.masks, box_mask("tint", digits.test_x.shape[0]))
    contaminated = data.contaminated()
    assert torch.equal(contaminated.train_x, data.train.images) and torch.equal(contaminated.test_x, digits.test_x)


@pytest.mark.parametrize("call,name", [
    (lambda x, y: plant_spurious(x, y, rate=1.5), "`rate`"),
    (lambda x, y: plant_spurious(x, y, rate=-0.1), "`rate`"),
    (lambda x, y: plant_spurious(x, y, other_rate=2), "`other_rate`"),
    (lambda x, y: plant_spurious(x, y, kind="blur"), "`kind`"),
    (lambda x, y: plant_spurious(x, y[:5]), "`labels`"),
    (lambda x, y: plant_spurious(x, y.float()), "`labels`"),
    (lambda x, y: plant_spurious(x, y, target_class=1.0), "`target_class`"),
    (lambda x, y: plant_spurious(x[:, 0], y), "`images`"),
    (lambda x, y: plant_spurious(x, y, box=(7, 7, 2, 2)), "`box`"),
    (lambda x, y: plant_spurious(x, y, box=(0, 0, 2)), "`box`"),
    (lambda x, y: plant_spurious(x, y, kind="tint", shift=0), "`shift`"),
    (lambda x, y: plant_spurious(x, y, value=float("nan")), "`value`"),
    (lambda x, y: spurious_digits(data=(x, y)), "`data`"),
])
def test_bad_inputs_name_the_argument(call, name: str) -> None:
    x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 0, 1, 0, 1])
    with pytest.raises((ValueError, TypeError), match=name):
        call(x, y)


def test_errors_show_what_was_passed() -> None:
    with pytest.raises(ValueError, match=r"1\.5"):
        plant_spurious(torch.rand(2, 1, 8, 8), torch.tensor([0, 1]), rate=1.5)
    with pytest.raises(ValueError, match=r"\(7, 7, 2, 2\).*|8x8"):
        plant_artifact(torch.rand(2, 1, 8, 8), box=(7, 7, 2, 2))
    with pytest.raises(TypeError, match=r"shape \(6, 8, 8\)"):
        plant_artifact(torch.rand(6, 8, 8))
