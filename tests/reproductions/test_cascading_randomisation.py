"""Check 2: cascading randomisation (Adebayo et al. 2018; Kokhlikyan et al. 2021)."""


def test_gradient_maps_lose_similarity_input_multiplier_maps_keep_it(results) -> None:
    r = results("cascading_randomisation")
    m, stages = r["methods"], r["stages"]
    assert stages == ["fc2", "fc1", "conv2", "conv1"]
    for method in ("Gradient", "SmoothGrad"):
        assert m[method]["abs_mean"][0] <= 0.35, m[method]
        assert max(m[method]["abs_mean"][2:]) <= 0.2, m[method]  # once the conv layers are random
    assert max(abs(v) for v in m["GradCAM"]["abs_mean"][1:]) <= 0.2, m["GradCAM"]
    for method in ("IG", "InputXGradient"):
        assert min(m[method]["abs_mean"]) >= 0.85, m[method]  # the input multiplier keeps |maps|
        assert max(m[method]["signed_mean"]) <= 0.2, m[method]  # signed maps change
