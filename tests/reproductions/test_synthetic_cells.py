"""Seeds O and P on synthetic cells: post-hoc maps against exact ground truth, mabCAM, and
completeness / soundness of the maps' masks (Tjoa & Guan; Gupta et al. 2022). Every claim is
checked on each seed."""

POST_HOC = ("Saliency", "IntegratedGradients", "InputXGradient", "GuidedBackprop", "GradCAM", "ScoreCAM",
            "Occlusion")


def test_mab_cam_agrees_with_the_ground_truth_far_better_than_post_hoc_maps(results) -> None:
    for run in results("synthetic_cells")["per_seed"]:
        s = run["scores"]
        assert run["accuracy"]["cnn"] >= 0.9 and run["accuracy"]["mab"] >= 0.9, run["accuracy"]
        truth, mab, random = s["ground truth"], s["mabCAM"], s["random map"]
        # the metric itself: the ground-truth map scores perfectly, a random map at chance
        assert (truth["five_band_precision"], truth["five_band_recall"], truth["five_band_fpr"]) == (1.0, 1.0, 0.0)
        assert abs(random["feature_auc"] - 0.5) < 0.1 and abs(random["soundness"]) < 0.1, random
        # the paper's direction: mabCAM (a heatmap head trained on the banded ground truth) has
        # much higher five-band precision and a lower false-positive rate than every post-hoc map;
        # its recall ties with Grad-CAM / Score-CAM, whose blurred maps cover the whole cell
        for name in POST_HOC:
            assert mab["five_band_precision"] > s[name]["five_band_precision"] + 0.2, (name, s[name])
            assert mab["five_band_recall"] >= s[name]["five_band_recall"] - 0.02, (name, s[name])
            assert mab["five_band_fpr"] < s[name]["five_band_fpr"], (name, s[name])
        # measured: no post-hoc map reaches five-band precision 0.8 (ours at most 0.66)
        assert max(s[name]["five_band_precision"] for name in POST_HOC) < 0.8


def test_masks_of_every_map_are_more_complete_and_sound_than_random(results) -> None:
    for run in results("synthetic_cells")["per_seed"]:
        s = run["scores"]
        for name in (*POST_HOC, "mabCAM", "ground truth"):
            assert s[name]["completeness"] > s["random map"]["completeness"], (name, s[name])
            assert s[name]["soundness"] > s["random map"]["soundness"], (name, s[name])


def test_coarse_upsampled_maps_are_more_sound_than_pixel_gradient_maps(results) -> None:
    # Gupta et al. justify upsampling (low-resolution masks) by soundness. Measured here across
    # methods rather than as an ablation of one method: Grad-CAM, Score-CAM (8x8 upsampled) and
    # Occlusion (4x4 windows) are more sound than every pixel-level gradient map.
    for run in results("synthetic_cells")["per_seed"]:
        s = run["scores"]
        coarse = min(s[n]["soundness"] for n in ("GradCAM", "ScoreCAM", "Occlusion"))
        fine = max(s[n]["soundness"] for n in ("Saliency", "IntegratedGradients", "InputXGradient",
                                                  "GuidedBackprop"))
        assert coarse > fine, (coarse, fine)
