"""Check 3: independent (one layer at a time) randomisation (Adebayo et al. 2018)."""


def test_any_single_layer_changes_the_gradient_not_the_input_multiplier(results) -> None:
    m = results("independent_randomisation")["methods"]
    assert max(m["Gradient"]["abs_mean"]) <= 0.4, m["Gradient"]
    for method in ("IG", "InputXGradient"):
        assert min(m[method]["abs_mean"]) >= 0.9, m[method]
