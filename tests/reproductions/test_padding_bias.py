"""Check 14: uneven padding (S=16) leaves a larger layer-1 border asymmetry and more asymmetric
mean filters than even padding (S=17); the detector flags every layer at 16 and none at 17."""

from __future__ import annotations


def test_uneven_padding_leaves_spatial_bias(results) -> None:  # type: ignore[no-untyped-def]
    measured = results("padding_bias")
    for run in measured["runs"]:
        assert run["uneven_layers"] == (["0", "2", "4"] if run["size"] == 16 else [])
    uneven, even = measured["mean_abs"]["16"], measured["mean_abs"]["17"]
    assert uneven["layer1_left_right"] > even["layer1_left_right"]
    assert uneven["layer1_top_bottom"] > even["layer1_top_bottom"]
    assert uneven["filter_asymmetry_layers_2_3"] > even["filter_asymmetry_layers_2_3"]
    for seed in measured["seeds"]:
        pair = {r["size"]: r for r in measured["runs"] if r["seed"] == seed}
        # per seed, the border asymmetry (the sum of both axes) is larger with uneven padding
        assert abs(pair[16]["layer1_left_right"]) + abs(pair[16]["layer1_top_bottom"]) > \
            abs(pair[17]["layer1_left_right"]) + abs(pair[17]["layer1_top_bottom"])
