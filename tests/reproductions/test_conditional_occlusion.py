"""Check 16: conditional occlusion of a Siamese digits encoder (Sammani et al.)."""

from __future__ import annotations


def test_zero_windows_change_nothing_and_drops_concentrate_on_the_strokes(results) -> None:  # type: ignore[no-untyped-def]
    measured = results("conditional_occlusion")
    for run in measured["per_seed"]:
        for encoder, scores in run["scores"].items():
            where = (run["seed"], encoder, scores)
            # exact invariant: occluding zeros with zeros leaves the input, hence the similarity, unchanged
            assert scores["background_pixels"] > 0
            assert scores["background_max_abs_drop"] == 0.0, where
            # the drops sit on the strokes: more than their share of the area, and the largest drop of
            # nearly every image lies on a stroke (measured: 0.71-0.75 of the drop on 0.51 of the area,
            # peak on a stroke for 0.93-1.0 of the images)
            area = scores["stroke_share_of_area"]
            assert scores["stroke_share_of_drop"] > area + 0.1, where
            assert scores["peak_on_stroke"] >= 0.85, where
            assert scores["mean_drop_stroke"] > 2 * scores["mean_drop_off_stroke"], where
            # the paper's other maps lean on the strokes too (measured: pairwise 0.68-0.74, Interaction-CAM
            # 0.82-0.89 at conv1; at conv2, 4x4 upsampled, only 0.56-0.64)
            assert scores["pairwise_stroke_share"] > area + 0.1, where
            assert scores["interaction_cam_conv1_stroke_share"] > area + 0.1, where
            assert scores["interaction_cam_conv2_stroke_share"] > area, where
