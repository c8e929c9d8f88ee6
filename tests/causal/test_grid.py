"""The treatment grid: full factorial settings, pairs that differ in one treatment, bad input."""

from __future__ import annotations

import itertools

import pytest

from veracity.causal import TREATMENTS, TreatmentGrid, pairs_differing_in


def test_configs_are_the_full_factorial_with_defaults_for_the_rest() -> None:
    grid = TreatmentGrid({"seed": [0, 1, 2], "learning_rate": [0.1, 0.01]}, fixed={"epochs": 3})
    configs = grid.configs()
    assert len(grid) == len(configs) == 6
    assert [(c["seed"], c["learning_rate"]) for c in configs] == list(itertools.product([0, 1, 2], [0.1, 0.01]))
    for config in configs:
        assert set(config) == set(TREATMENTS)
        assert config["epochs"] == 3 and config["width"] == TREATMENTS["width"][0]
    assert grid.varied == ("seed", "learning_rate")
    assert TreatmentGrid({"seed": [0], "width": [4, 8]}).varied == ("width",)


def test_pairs_differing_in_one_treatment_match_brute_force() -> None:
    configs = TreatmentGrid({"seed": [0, 1], "width": [4, 8, 16], "data_order": [0, 1]}).configs()
    for name in ("seed", "width", "data_order"):
        expected = [(i, j) for i, j in itertools.combinations(range(len(configs)), 2)
                    if [k for k in TREATMENTS if configs[i][k] != configs[j][k]] == [name]]
        assert pairs_differing_in(configs, name) == expected
    # 12 settings: seed pairs 6, width pairs 3 per (seed, order) group = 12, order pairs 6
    assert [len(pairs_differing_in(configs, n)) for n in ("seed", "width", "data_order")] == [6, 12, 6]
    assert pairs_differing_in(configs, "epochs") == []


@pytest.mark.parametrize(("treatments", "fixed", "needle"), [
    ({}, {}, "`treatments`: expected a non-empty dict"),
    ({"sead": [0, 1]}, {}, "'sead'"),
    ({"seed": []}, {}, "`treatments['seed']`: expected a non-empty list"),
    ({"seed": 3}, {}, "`treatments['seed']`: expected a non-empty list"),
    ({"seed": [1, 1]}, {}, "distinct values"),
    ({"width": [0, 8]}, {}, "`treatments['width']`: expected integers >= 1"),
    ({"learning_rate": [-0.1]}, {}, "`treatments['learning_rate']`: expected positive numbers"),
    ({"train_fraction": [0.5, 1.5]}, {}, "fractions in (0, 1]"),
    ({"seed": [0, 1]}, {"seed": 2}, "`fixed`: expected treatments that the grid does not vary"),
    ({"seed": [0, 1]}, {"dropout": 0.1}, "`fixed`: expected treatment names"),
])
def test_bad_grids_name_the_argument(treatments: dict, fixed: dict, needle: str) -> None:
    with pytest.raises((ValueError, TypeError)) as error:
        TreatmentGrid(treatments, fixed)
    assert needle in str(error.value)


def test_unknown_treatment_in_pairs() -> None:
    with pytest.raises(ValueError, match="`treatment`: .*'dropout'"):
        pairs_differing_in(TreatmentGrid({"seed": [0, 1]}).configs(), "dropout")
