"""Check 12: top-N neurons of a probe's ranking recover the full probe's accuracy, random and
bottom N do not; zeroing the top N hurts the full probe more than zeroing random or bottom N."""

from __future__ import annotations


def test_top_neurons_carry_the_property(results) -> None:  # type: ignore[no-untyped-def]
    measured = results("probe_ranking")
    for seed in measured["per_seed"]:
        full = seed["full_accuracy"]
        assert full > 0.95
        by_n = {int(r["n"]): r for r in seed["rows"]}
        small, large = by_n[6], by_n[13]
        assert small["top"] > full - 0.05 and large["top"] > full - 0.02
        assert small["top"] > small["random"] + 0.1 and small["top"] > small["bottom"] + 0.1
        assert large["full, top zeroed"] < large["full, bottom zeroed"] - 0.2
        assert large["full, top zeroed"] < large["full, random zeroed"]
        assert len(seed["probeless_ordering"]) == len(seed["ordering"]) == 64
