"""The significance test: the t distribution against scipy, a planted concept, a control class."""

from __future__ import annotations

import math
import random

import pytest
import torch
from torch import nn

from veracity.concept import TCAV, Concept, tcav_significance
from veracity.concept.stats import betainc, bonferroni, t_two_sided_p, ttest_ind


def test_incomplete_beta_and_t_test_match_scipy() -> None:
    scipy_special = pytest.importorskip("scipy.special")
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = random.Random(0)
    for _ in range(300):
        a, b, x = rng.uniform(0.05, 60), rng.uniform(0.05, 60), rng.random()
        assert betainc(a, b, x) == pytest.approx(float(scipy_special.betainc(a, b, x)), abs=1e-12)
    for t in (0.0, 0.3, 1.7, 4.0, 12.0, 80.0):
        for dof in (1, 3, 10, 38, 500):
            assert t_two_sided_p(t, dof) == pytest.approx(2 * float(scipy_stats.t.sf(t, dof)), rel=1e-9, abs=1e-300)
    for n1, n2 in ((2, 2), (5, 9), (20, 20)):
        first = [rng.gauss(0, 1) for _ in range(n1)]
        second = [rng.gauss(0.8, 2) for _ in range(n2)]
        expected = scipy_stats.ttest_ind(first, second)
        t, p = ttest_ind(first, second)
        assert t == pytest.approx(float(expected.statistic), rel=1e-12)
        assert p == pytest.approx(float(expected.pvalue), rel=1e-9)


def test_degenerate_t_tests_and_bonferroni() -> None:
    assert ttest_ind([1.0, 1.0, 1.0], [0.5, 0.5]) == (math.inf, 0.0)
    assert ttest_ind([0.5, 0.5], [0.5, 0.5]) == (0.0, 1.0)
    assert bonferroni([0.2, 0.001, 0.4]) == pytest.approx([0.6, 0.003, 1.0])
    with pytest.raises(ValueError, match="`scores`"):
        ttest_ind([1.0], [1.0, 2.0])


def planted(tmp_path, runs: int = 30, seed: int = 0):  # type: ignore[no-untyped-def]
    """A linear model whose class 0 logit is the first coordinate (it provably uses the
    concept direction e0) and whose class 1 logit is the second (orthogonal: a control)."""
    model = nn.Sequential(nn.Identity(), nn.Linear(6, 2, bias=False)).eval()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[0, 0] = 1.0
        model[1].weight[1, 1] = 1.0
    g = torch.Generator().manual_seed(seed)
    direction = torch.zeros(6)
    direction[0] = 2.0
    noise = torch.randn(13, 6, generator=g)
    mirrored = noise.clone()
    mirrored[:, 1] = -mirrored[:, 1]
    # the concept's distribution is symmetric under e1 -> -e1 (the control's logit): it carries
    # no information about class 1, in its mean or its covariance with e0
    concept = Concept(0, "e0", torch.cat([noise, mirrored]) + direction)
    randoms = [Concept(i, f"random{i}", torch.randn(25, 6, generator=g)) for i in range(1, runs + 1)]
    return TCAV(model, ["0"], save_path=str(tmp_path / str(seed))), concept, randoms, torch.randn(20, 6, generator=g)


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_concept_is_significant_and_control_is_not(tmp_path, seed: int) -> None:  # type: ignore[no-untyped-def]
    tcav, concept, randoms, inputs = planted(tmp_path, seed=seed)
    row = tcav_significance(tcav, inputs, [concept], randoms, target=0).row("e0", "0")
    assert row.mean == 1.0 and row.p_value < 1e-3 and row.significant
    assert 0.3 < row.random_mean < 0.7 and row.random_std > 0.3  # random CAVs: about half, wide spread
    control = tcav_significance(tcav, inputs, [concept], randoms, target=1).row("e0", "0")
    assert control.p_bonferroni > 0.05 and not control.significant
    assert len(control.scores) == len(control.random_scores) == 30


def test_bonferroni_counts_concepts_and_layers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tcav, concept, randoms, inputs = planted(tmp_path, runs=4)
    tcav = TCAV(tcav.model, ["0", "1"], save_path=str(tmp_path))
    other = Concept(50, "other", torch.randn(25, 6, generator=torch.Generator().manual_seed(9)))
    result = tcav_significance(tcav, inputs, [concept, other], randoms, target=0)
    assert [(r.concept, r.layer) for r in result.rows] == [("e0", "0"), ("other", "0"), ("e0", "1"), ("other", "1")]
    for r in result.rows:
        assert r.p_bonferroni == pytest.approx(min(1.0, 4 * r.p_value))
        assert all(0.0 <= s <= 1.0 for s in r.scores + r.random_scores)
    table = result.table()
    assert table.count("\n") == 5 and "4 tests" in table
    assert result.to_dict()["rows"][0]["concept"] == "e0"


def test_plot_greys_non_significant(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    tcav, concept, randoms, inputs = planted(tmp_path, runs=6)
    result = tcav_significance(tcav, inputs, [concept], randoms, target=1)
    figure = result.plot()
    bars = [p for p in figure.axes[0].patches]
    assert len(bars) == 2
    assert bars[0].get_facecolor()[:3] == matplotlib.colors.to_rgb("lightgrey") or result.rows[0].significant


def test_bad_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tcav, concept, randoms, inputs = planted(tmp_path, runs=4)
    with pytest.raises(ValueError, match="`random_concepts`: expected at least 3"):
        tcav_significance(tcav, inputs, [concept], randoms[:2], target=0)
    with pytest.raises(ValueError, match=r"`random_concepts`.*shared ids \[1\]"):
        tcav_significance(tcav, inputs, [randoms[0]], randoms, target=0)
    with pytest.raises(ValueError, match="`score`"):
        tcav_significance(tcav, inputs, [concept], randoms, target=0, score="mean")
