"""Check 6: a smoother network (Softplus + log-sum-exp pooling) gives lower infidelity and
max-sensitivity (Kokhlikyan et al. 2021; Yeh et al. 2019)."""


def test_smooth_network_lowers_infidelity_and_sensitivity(results) -> None:
    v = results("smoothness_infidelity")["variants"]
    relu, smooth = v["relu"], v["smooth_trained"]
    for method in ("Saliency", "IG", "InputXGradient", "SmoothGrad"):  # mean over 2 seeds, as methods.md
        assert smooth["infidelity"][method] < relu["infidelity"][method], method
    for method in ("Saliency", "IG"):
        assert smooth["sensitivity_max"][method] < relu["sensitivity_max"][method], method
    assert abs(smooth["accuracy"] - relu["accuracy"]) <= 0.02  # accuracy unchanged
