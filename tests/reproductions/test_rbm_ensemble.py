"""Check 17: the RBM ensemble with flip detection (Borisov et al. 2021)."""


def test_flip_detection_resolves_the_inverted_rbm(results) -> None:
    r = results("rbm_ensemble")
    m = r["mean"]
    assert m["RBM flip detection"]["deletion"] <= m["mean"]["deletion"], m
    assert m["RBM flip detection"]["insertion"] >= m["mean"]["insertion"], m
    # the raw RBM map comes out inverted (the known failure mode): deletion AUC far above random
    assert m["RBM raw"]["deletion"] > m["random"]["deletion"] + 0.2, m
    assert r["flipped_share"] > 0.5, r["flipped_share"]  # measured: every digit's raw map was inverted
