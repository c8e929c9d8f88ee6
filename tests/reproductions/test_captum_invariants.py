"""Check 18: Captum API invariants on the digits CNN."""


def test_invariants_hold(results) -> None:
    r = results("captum_invariants")
    for name, gap in r["batch_vs_single_max_abs_diff"].items():  # float64
        assert gap <= 1e-6, (name, gap)
    for name, gap in r["float32_batch_vs_single_max_abs_diff"].items():  # convolution rounding only
        assert gap <= 1e-4, (name, gap)
    assert all(gap == 0.0 for gap in r["perturbations_per_eval_1_vs_8_max_abs_diff"].values()), r
    assert all(gap <= 1e-6 for gap in r["noise_tunnel_stdevs0_max_abs_diff"].values()), r
    assert r["linear_model_gradient_infidelity"] <= 1e-10
