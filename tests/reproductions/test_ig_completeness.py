"""Check 1: IG completeness on the digits CNN (softmax output, zero baseline)."""


def test_ig_is_complete_and_chunk_invariant(results) -> None:
    r = results("ig_completeness")
    for rule in ("riemann_right", "gausslegendre"):
        for seed in r["rules"][rule]["per_seed"]:
            # the typical digit is complete to < 1e-2 (methods.md check 1); digits whose
            # F(x) - F(0) is near 0 have large *relative* errors, hence the median
            assert seed["median_relative_error"] < 1e-2, (rule, seed)
            assert seed["relative_error_of_means"] < 1e-2, (rule, seed)
            assert seed["chunk_max_abs_diff"] <= 1e-5, (rule, seed)
