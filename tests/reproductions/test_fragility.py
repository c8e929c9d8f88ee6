"""Check 10: the attacks keep the label and move the saliency map far more than random sign
noise of the same L-inf size; without the Softplus surrogate the attack does not move."""

from __future__ import annotations


def test_attacks_beat_random_noise_and_keep_labels(results) -> None:  # type: ignore[no-untyped-def]
    measured = results("fragility")
    for name in ("top_k", "mass_center", "random_best_top_k", "random_best_mass_center"):
        assert measured[name]["label_kept"] == 1.0 and measured[name]["linf"] <= 0.1 + 1e-6
    assert measured["top_k"]["top_k_intersection"] < measured["random_best_top_k"]["top_k_intersection"] - 0.05
    assert measured["top_k"]["top_k_intersection"] < measured["random_single"]["top_k_intersection"] - 0.2
    assert measured["mass_center"]["center_shift"] > 1.2 * measured["random_best_mass_center"]["center_shift"]
    assert measured["mass_center"]["center_shift"] > 2 * measured["random_single"]["center_shift"]


def test_without_surrogate_the_attack_stalls(results) -> None:  # type: ignore[no-untyped-def]
    measured = results("fragility")
    assert measured["unmoved_without_surrogate"]
    assert measured["top_k_without_surrogate"]["top_k_intersection"] == 1.0
