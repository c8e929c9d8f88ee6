"""Check 13: a planted concept (a corner patch on class 3) is significant at fc1, the class whose
logit the patch does not move is not; random-vs-random scores sit around 0.5."""

from __future__ import annotations


def rows_at(results, cls, layer="fc1"):  # type: ignore[no-untyped-def]
    return next(r for r in results["injected"][f"class_{cls}"]["rows"] if r["layer"] == layer)


def test_planted_concept_significant_control_not(results) -> None:  # type: ignore[no-untyped-def]
    measured = results("tcav_significance")
    planted = rows_at(measured, 3)
    assert planted["mean"] > 0.9 and planted["p_bonferroni_all"] < 1e-3 and planted["significant_all"]
    control = rows_at(measured, measured["control_class"])
    assert abs(measured["logit_gain_from_patch"][measured["control_class"]]) < 0.5
    assert not control["significant_all"]
    assert 0.3 < planted["random_mean"] < 0.7 and planted["random_std"] > 0.2
    for model in ("injected", "not_injected"):
        for cls in measured["classes"]:
            for row in measured[model][f"class_{cls}"]["rows"]:
                assert all(0.0 <= s <= 1.0 for s in row["scores"] + row["random_scores"])
