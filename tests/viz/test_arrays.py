"""Sign selection, outlier scaling and layout conversion, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from veracity.viz._arrays import image_in_unit_range, mass_threshold, normalise_attr, to_hwc


def test_mass_threshold_by_hand() -> None:
    # cumulative mass 1, 2, 3, 4, 100: 98% is first reached at the outlier, 3% at the third value
    values = np.array([96.0, 1.0, 1.0, 1.0, 1.0])
    assert mass_threshold(values, 98) == 96.0
    assert mass_threshold(values, 3) == 1.0
    assert mass_threshold(np.array([4.0, 1.0, 3.0, 2.0]), 50) == 3.0  # 1 + 2 + 3 >= 5
    assert mass_threshold(np.array([4.0, 1.0, 3.0, 2.0]), 100) == 4.0
    assert mass_threshold(np.zeros(5), 98) == 0.0


@pytest.mark.parametrize("sign, expected", [
    ("all", [[-0.5, 0.25], [0.0, 1.0]]),
    ("positive", [[0.0, 0.25], [0.0, 1.0]]),
    ("negative", [[1.0, 0.0], [0.0, 0.0]]),
    ("absolute_value", [[0.5, 0.25], [0.0, 1.0]]),
])
def test_normalise_each_sign_by_hand(sign: str, expected: list[list[float]]) -> None:
    # two channels that sum to [[-2, 1], [0, 4]]
    first, second = np.array([[-1.0, 0.5], [1.0, 3.0]]), np.array([[-1.0, 0.5], [-1.0, 1.0]])
    attr = np.stack([first, second], axis=2)
    np.testing.assert_allclose(normalise_attr(attr, sign, outlier_perc=0), expected)


def test_outliers_saturate() -> None:
    attr = np.array([[1.0, 2.0], [3.0, 4.0]])[:, :, None]
    np.testing.assert_allclose(normalise_attr(attr, "all", outlier_perc=0), attr[:, :, 0] / 4)
    # 60% of the mass (1 + 2 + 3 of 10) lies at or below 3: scale by 3, the 4 saturates
    expected = [[1 / 3, 2 / 3], [1, 1]]
    np.testing.assert_allclose(normalise_attr(attr, "all", outlier_perc=40), expected)


def test_zero_attribution_warns_and_draws_nothing() -> None:
    attr = np.array([[1.0, 2.0]])[:, :, None]
    with pytest.warns(UserWarning, match="zero"):
        assert not normalise_attr(attr, "negative", 2).any()


def test_tensor_chw_becomes_hwc() -> None:
    chw = torch.arange(24.0).reshape(2, 3, 4)
    hwc = to_hwc(chw, "attr")
    assert hwc.shape == (3, 4, 2)
    assert hwc[1, 2, 1] == chw[1, 1, 2]
    np.testing.assert_array_equal(to_hwc(chw[None], "attr"), hwc)
    assert to_hwc(torch.ones(3, 4), "attr").shape == (3, 4, 1)


def test_numpy_keeps_captum_layout() -> None:
    hwc = np.random.default_rng(0).random((3, 4, 2))
    np.testing.assert_array_equal(to_hwc(hwc, "attr"), hwc)
    assert to_hwc(hwc[:, :, 0], "attr").shape == (3, 4, 1)


@pytest.mark.parametrize("value, error", [
    (torch.ones(1, 1, 1, 2, 2), ValueError),
    (torch.ones(2, 1, 4, 4), ValueError),
    (np.ones(4), ValueError),
    ([[1.0, 2.0]], TypeError),
    (torch.tensor([[1.0, float("nan")]]), ValueError),
])
def test_bad_arrays_name_the_argument(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="`attr`"):
        to_hwc(value, "attr")


def test_images_above_one_are_taken_as_0_to_255() -> None:
    np.testing.assert_allclose(image_in_unit_range(np.array([[0.0, 255.0]])), [[0.0, 1.0]])
    np.testing.assert_allclose(image_in_unit_range(np.array([[0.0, 0.5]])), [[0.0, 0.5]])
