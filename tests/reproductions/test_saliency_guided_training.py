"""Check 11: saliency-guided training (Ismail et al. 2021)."""


def test_sgt_keeps_accuracy_and_its_saliency_finds_the_used_features(results) -> None:
    r = results("saliency_guided_training")
    for seed in r["per_seed"]:
        standard, sgt = seed["standard"], seed["saliency_guided"]
        assert standard["clean"] - sgt["clean"] <= 0.03, seed  # within 2-3 points
        for removed in ("0.1", "0.2"):
            assert sgt["masked"][removed] < standard["masked"][removed], (removed, seed)
