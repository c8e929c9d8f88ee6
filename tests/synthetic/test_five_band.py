"""five_band_score against a pixel-by-pixel transcription of Tjoa & Guan's rules."""

from __future__ import annotations

import math

import pytest
import torch

from veracity.metrics import five_band_score


def _band(v: float, t: list[float]) -> int:
    if v <= t[0]:
        return -2
    if v <= t[1]:
        return -1
    if v <= t[2]:
        return 0
    if v <= t[3]:
        return 1
    return 2


def _naive(a: list[float], truth: list[float], steps: int, delta: float) -> list[tuple[float, ...]]:
    peak = max(abs(v) for v in a)
    a = [v / peak for v in a] if peak > 0 else a
    t0 = [-0.7, -0.3, 0.3, 0.7]
    h0 = [_band(v, t0) for v in truth]
    g, out = list(t0), []
    for step in range(steps):
        if step > 0:
            g = [x + (-1.0 if x > 0 else 1.0) * delta for x in g]
        h = [_band(v, g) for v in a]
        tp = sum(1 for p, q in zip(h, h0) if p != 0 and q != 0 and p == q)
        fp = sum(1 for p, q in zip(h, h0) if p != 0 and (q == 0 or p != q))
        tn = sum(1 for p, q in zip(h, h0) if p == 0 and q == 0)
        fn = sum(1 for p, q in zip(h, h0) if p == 0 and q != 0)
        acc = sum(1 for p, q in zip(h, h0) if p == q) / len(h)
        ratio = lambda n, d: n / d if d else math.nan  # noqa: E731
        out.append((acc, ratio(tp, tp + fn), ratio(tp, tp + fp), ratio(fp, fp + tn)))
    return out


def test_equals_the_rules_pixel_by_pixel_with_soft_thresholds() -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(5, 3, 6, 6, generator=generator, dtype=torch.float64)
    truth = torch.tensor([0.0, 0.4, 0.9])[torch.randint(3, (5, 6, 6), generator=generator)]
    score = five_band_score(a, truth, soft_steps=11, soft_delta=0.02)
    assert score.recall.shape == (5, 11) and score.thresholds.shape == (11, 4)
    for i in range(5):
        expected = _naive(a[i].sum(0).flatten().tolist(), truth[i].flatten().tolist(), 11, 0.02)
        got = torch.stack([score.pixel_accuracy[i], score.recall[i], score.precision[i], score.fpr[i]], 1)
        torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float32), equal_nan=True)
    torch.testing.assert_close(score.thresholds[-1], torch.tensor([-0.5, -0.1, 0.1, 0.5]))


def test_the_ground_truth_itself_scores_perfectly_and_zeros_find_nothing() -> None:
    truth = torch.zeros(2, 8, 8)
    truth[:, 2:6, 2:6] = 0.4
    truth[:, 3:5, 3:5] = 0.9
    perfect = five_band_score(truth.unsqueeze(1), truth)
    assert perfect.pixel_accuracy.tolist() == [[1.0], [1.0]]
    assert perfect.recall.tolist() == [[1.0], [1.0]] and perfect.precision.tolist() == [[1.0], [1.0]]
    assert perfect.fpr.tolist() == [[0.0], [0.0]]
    empty = five_band_score(torch.zeros(2, 1, 8, 8), truth)
    assert empty.recall.tolist() == [[0.0], [0.0]] and empty.fpr.tolist() == [[0.0], [0.0]]
    assert bool(empty.precision.isnan().all())  # nothing marked: precision undefined


def test_negative_relevance_on_the_feature_is_a_false_positive() -> None:
    truth = torch.tensor([[0.0, 0.9]])
    flipped = five_band_score(torch.tensor([[0.0, -1.0]]), truth)
    # marked in the wrong band: a false positive (counted in the FPR too, as in the reference), no
    # false negative, so recall is 0 / 0
    assert flipped.precision.item() == 0.0 and flipped.pixel_accuracy.item() == 0.5
    assert flipped.fpr.item() == 0.5 and flipped.recall.isnan().all()


def test_bad_input_is_named() -> None:
    a = torch.rand(2, 4, 4)
    with pytest.raises(ValueError, match="`masks`"):
        five_band_score(a, torch.rand(2, 5, 5))
    with pytest.raises(TypeError, match="`masks`"):
        five_band_score(a, torch.ones(2, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="`thresholds`"):
        five_band_score(a, torch.rand(2, 4, 4), thresholds=(0.7, 0.3, -0.3, -0.7))
    with pytest.raises(ValueError, match="`soft_steps`"):
        five_band_score(a, torch.rand(2, 4, 4), soft_steps=0)
    with pytest.raises(ValueError, match="`attributions`"):
        five_band_score(torch.full((2, 4, 4), float("nan")), torch.rand(2, 4, 4))
