"""Seed H (Adebayo et al., ICLR 2022): post hoc explanations and a known spurious artifact.

The paper (dog breeds, radiographs) reports: visible artifacts are partly detected (KSSD),
non-visible ones are not, and feature attributions raise false alarms (low FAM). On digits
(one run, seed 0, 100 test digits) the measured numbers are asserted; where they differ from
the paper's direction the comment says so.
"""

from __future__ import annotations

METHODS = ("Gradient", "IG", "InputXGradient", "SmoothGrad", "GuidedBackprop", "GradCAM")


def test_the_spurious_models_rely_on_the_artifact(results) -> None:
    r = results("spurious_signals")["artifacts"]
    for kind, entry in r.items():
        spurious, normal = entry["reliance"]["spurious"], entry["reliance"]["normal"]
        assert spurious["clean_accuracy"] >= 0.85 and normal["clean_accuracy"] >= 0.95, (kind, entry)
        assert normal["to_target_artifact"] <= 0.02, (kind, normal)
        assert spurious["to_target_artifact"] > normal["to_target_artifact"], (kind, entry)
    # the stripe is a strong shortcut (measured: 39% of other digits go to class 0 with it, 0% for
    # the normal model); the patch and the tint only a weak one (measured 3.7% each)
    assert r["stripe"]["reliance"]["spurious"]["to_target_artifact"] >= 0.25
    for kind in ("patch", "tint"):
        assert r[kind]["reliance"]["spurious"]["to_target_artifact"] <= 0.10, r[kind]["reliance"]


def test_a_visible_artifact_is_partly_detected(results) -> None:
    stripe = results("spurious_signals")["artifacts"]["stripe"]
    chance, m = stripe["chance_rank"], stripe["methods"]
    assert abs(chance - 8 / 64) < 1e-9 and abs(stripe["random_rank"] - chance) < 0.03
    # paper: KSSD partly detects visible artifacts. Digits: IG and Input x Gradient put the stripe
    # among the top pixels well above chance and above the normal model's maps (measured
    # 0.29 / 0.31 vs chance 0.125, normal 0.19 / 0.20) ...
    for method in ("IG", "InputXGradient"):
        assert m[method]["kssd_rank"] > chance + 0.1 and m[method]["kssd_rank"] > m[method]["kssd_rank_normal"] + 0.05
    # ... Gradient and SmoothGrad stay at chance, though above the normal model (0.11 / 0.13 vs 0.05 / 0.02):
    # not the paper's partial detection
    for method in ("Gradient", "SmoothGrad"):
        assert m[method]["kssd_rank"] < chance + 0.03
        assert m[method]["kssd_rank"] > m[method]["kssd_rank_normal"] + 0.04
    # SSIM against the 0/1 mask, the paper's KSSD, is ~0 on 8x8 maps for every method (<= 0.15)
    assert all(abs(m[method]["kssd_ssim"]) <= 0.15 for method in METHODS)


def test_the_diffuse_tint_is_not_localised(results) -> None:
    tint = results("spurious_signals")["artifacts"]["tint"]
    # paper: non-visible artifacts go undetected. Digits: the spurious model's maps find the tinted
    # half no better than the normal model's (measured differences 0.005 - 0.06)
    for method in METHODS:
        entry = tint["methods"][method]
        assert abs(entry["kssd_rank"] - entry["kssd_rank_normal"]) <= 0.08, (method, entry)


def test_false_alarms_and_little_cause_for_concern(results) -> None:
    r = results("spurious_signals")["artifacts"]
    for kind, entry in r.items():
        for method in METHODS:
            scores = entry["methods"][method]
            # paper: feature attributions raise false alarms. Digits: the two models' maps of clean
            # digits differ (SSIM 0.29 - 0.86), every cell below 0.9
            assert scores["fam"] < 0.9, (kind, method, scores)
            # maps differ more with the artifact than without it (CCM < FAM in every cell) ...
            assert scores["ccm"] < scores["fam"], (kind, method, scores)
    # ... but clearly so only where the model leans hard on the artifact: the stripe, with Gradient and
    # SmoothGrad (FAM - CCM measured 0.27 / 0.33); elsewhere the gap is <= 0.15 (mostly < 0.1)
    for method in ("Gradient", "SmoothGrad"):
        stripe = r["stripe"]["methods"][method]
        assert stripe["fam"] - stripe["ccm"] >= 0.2, (method, stripe)
    for kind in ("patch", "tint"):
        for method in METHODS:
            scores = r[kind]["methods"][method]
            assert scores["fam"] - scores["ccm"] <= 0.15, (kind, method, scores)
