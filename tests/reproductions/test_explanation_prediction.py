"""Seed V (Karimi et al., ICML 2023): explanation vs prediction as a causal question, on a
36-model digits grid (seed x learning rate x width x data order)."""

METHODS = ("Saliency", "InputXGradient", "IG")


def test_explanation_prediction_relationship_is_far_from_ideal(results) -> None:
    r = results("explanation_prediction")
    for method in METHODS:
        pooled = r["methods"][method]["pooled"]
        # the paper: far from the ideal correlation 1 (measured 0.28-0.38, R^2 0.11-0.20)
        assert 0.1 < pooled["correlation"] < 0.6, (method, pooled)
        assert pooled["r_squared"] < 0.35, (method, pooled)
        assert pooled["pairs"] == 108


def test_gap_grows_for_higher_performing_models(results) -> None:
    r = results("explanation_prediction")
    accuracies = r["accuracies"]
    assert min(accuracies) < 0.85 and max(accuracies) > 0.95, accuracies  # the bins span real differences
    for method in METHODS:
        bins = [b["correlation"] for b in r["methods"][method]["bins"]]
        # the paper's direction: lower correlation for the better models (measured 0.54-0.64 in the
        # lowest bin, -0.11 to -0.06 in the highest); on digits it falls monotonically, the
        # paper's secondary "high, low, high again" is not seen
        assert bins[-1] < bins[0] - 0.3, (method, bins)
        assert bins[0] > bins[1] > bins[2], (method, bins)


def test_seed_changes_the_explanation_much_more_than_the_prediction(results) -> None:
    # measured on digits, not a number of the paper: a new initialisation moves Saliency maps by
    # 1 - Spearman 0.39 while the predictions move by a total variation of 0.06; the learning rate
    # moves predictions most (0.33) and its ITEs are the most correlated (0.41-0.55)
    effects = {m: r for m, r in results("explanation_prediction")["methods"].items()}
    saliency = effects["Saliency"]["effects"]
    assert saliency["seed"]["explanation_effect"] > 0.3 and saliency["seed"]["prediction_effect"] < 0.1
    for method in METHODS:
        rows = effects[method]["effects"]
        assert max(rows, key=lambda t: rows[t]["prediction_effect"]) == "learning_rate"
        assert max(rows, key=lambda t: rows[t]["correlation"]) == "learning_rate"


def test_within_a_common_range_of_prediction_change_the_relationship_is_about_zero(results) -> None:
    # measured on digits (our control, not the paper's): restricted to units with ITE_Y <= 0.05,
    # a range every accuracy bin covers (1457 / 3881 / 5746 units), Spearman(ITE_E, ITE_Y) is
    # 0.03-0.09 in the lowest bin and -0.08 to -0.03 in the others: most of the decline across
    # bins comes from the larger and wider prediction changes among the weaker models
    r = results("explanation_prediction")
    assert r["control_bound"] == 0.05
    for method in METHODS:
        control = r["control_bins"][method]
        for restricted in control:
            assert restricted["units"] >= 1000, restricted
            assert abs(restricted["correlation"]) < 0.15, (method, restricted)
        # a small decline remains (0.03 -> -0.08 for Saliency)
        assert control[0]["correlation"] > control[-1]["correlation"], (method, control)
        assert r["methods"][method]["bins"][0]["correlation"] - control[0]["correlation"] > 0.4, method
