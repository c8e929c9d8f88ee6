"""Check 16: conditional occlusion of a Siamese digits encoder (Sammani et al.)."""

from __future__ import annotations


def test_zero_windows_change_nothing_and_drops_concentrate_on_the_strokes(results) -> None:  # type: ignore[no-untyped-def]
    measured = results("conditional_occlusion")
    for run in measured["per_seed"]:
        for encoder, scores in run["scores"].items():
            # exact invariant: occluding zeros with zeros leaves the input, hence the similarity, unchanged
            assert scores["background_pixels"] > 0
            assert scores["background_max_abs_drop"] == 0.0, (run["seed"], encoder)
            # the drops sit on the strokes: more than their share of the area, and the largest drop of
            # nearly every image lies on a stroke (measured: 0.71-0.73 of the drop on 0.51 of the area,
            # peak on a stroke for 0.93-1.0 of the images)
            assert scores["stroke_share_of_drop"] > scores["stroke_share_of_area"] + 0.1, (run["seed"], encoder, scores)
            assert scores["peak_on_stroke"] >= 0.85, (run["seed"], encoder, scores)
            assert scores["mean_drop_stroke"] > 2 * scores["mean_drop_off_stroke"], (run["seed"], encoder, scores)
