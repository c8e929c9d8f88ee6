"""Seed Q (DExT): every decision of a detector explained; the tiny digits detector."""

METHODS = ("Gradient", "InputXGradient", "IG", "SmoothGrad", "GBP", "SmoothGrad+GBP", "Occlusion",
           "FeatureAblation")
QUANTITIES = ("score", "x1", "y1", "x2", "y2")


def test_detector_explanations_localise_their_detection_and_its_edges(results) -> None:
    r = results("detector_explanations")
    assert r["detector"]["precision"] >= 0.8 and r["detector"]["recall"] >= 0.7, r["detector"]
    assert r["explained_detections"] >= 20
    chance, m = r["box_share_of_image"], r["methods"]
    random = m["random map"]
    assert all(abs(random["mass_in_box"][q] - chance) < 0.03 for q in QUANTITIES), (random, chance)
    for name in METHODS:
        # every decision's map (class score and each coordinate) lies mostly on its own detection
        assert all(m[name]["mass_in_box"][q] > 4 * chance for q in QUANTITIES), (name, m[name], chance)
        # bounded deletion (same slot): removing pixels by the map destroys the decision faster than random
        assert m[name]["class_deletion"] < 0.5 * random["class_deletion"], (name, m[name], random)
        assert m[name]["box_deletion"] < random["box_deletion"] - 0.1, (name, m[name], random)
        # coordinate maps lean to their own edge: x1 left of x2, y1 above y2
        cx, cy = m[name]["centroid_x_in_box"], m[name]["centroid_y_in_box"]
        assert cx["x1"] < cx["x2"] and cy["y1"] < cy["y2"], (name, cx, cy)
    # The paper: SmoothGrad + GBP is the most trustworthy method. Measured here, it is not: on the
    # class decision's bounded deletion it beats Gradient, SmoothGrad and plain GBP (0.019 vs 0.034,
    # 0.037, 0.022 in our run) but Occlusion, IG, Input x Gradient and FeatureAblation remove the
    # score faster (0.014-0.018); the README reports this.
    deletion = {name: m[name]["class_deletion"] for name in METHODS}
    assert deletion["SmoothGrad+GBP"] < min(deletion["Gradient"], deletion["SmoothGrad"], deletion["GBP"]), deletion
    assert min(deletion, key=deletion.get) != "SmoothGrad+GBP", deletion
