"""Check 7: SmoothGrad lowers max-sensitivity and infidelity (Yeh et al. 2019)."""


def test_smoothgrad_is_less_sensitive_and_more_faithful_than_saliency(results) -> None:
    for seed in results("smoothgrad_sensitivity")["per_seed"]:
        assert seed["sensitivity_max"]["SmoothGrad"] < seed["sensitivity_max"]["Saliency"], seed
        assert seed["infidelity"]["SmoothGrad"] < seed["infidelity"]["Saliency"], seed
