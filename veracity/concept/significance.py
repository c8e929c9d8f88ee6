"""TCAV's statistical test (Kim et al. 2018, section 3.2), which Captum leaves to the user.

A CAV trained against one random set may be meaningless. The test trains the concept's CAV
against N random concepts and N random-vs-random CAVs; the N concept scores are compared with
the N random scores by a two-sided Student t-test per (concept, layer), and the p-values are
Bonferroni-corrected over all concepts and layers.

The random-vs-random CAVs pair the random concepts cyclically (``[R_i, R_(i+1) mod N]``)
rather than against one fixed counterpart: a fixed counterpart's own sample mean enters every
one of its CAVs, which biases all N random scores the same way (on a linear model we measured
random scores of 0.84 instead of 0.5 that way, and a control class came out "significant").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from veracity._core.validate import check_choice, fail
from veracity.concept.concept import Concept, sets_key
from veracity.concept.stats import bonferroni, ttest_ind
from veracity.concept.tcav import TCAV


@dataclass(frozen=True)
class SignificanceRow:
    """One (concept, layer) test: the concept's and the random scores over the N runs."""

    concept: str
    layer: str
    scores: list[float]
    random_scores: list[float]
    t: float
    p_value: float
    p_bonferroni: float
    significant: bool

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores)

    @property
    def std(self) -> float:
        return _std(self.scores)

    @property
    def random_mean(self) -> float:
        return sum(self.random_scores) / len(self.random_scores)

    @property
    def random_std(self) -> float:
        return _std(self.random_scores)


def _std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1))


@dataclass(frozen=True)
class TCAVSignificance:
    """The result table: one row per (concept, layer), ``alpha`` and the number of tests."""

    rows: list[SignificanceRow]
    score: str
    alpha: float

    def row(self, concept: str, layer: str) -> SignificanceRow:
        for row in self.rows:
            if row.concept == concept and row.layer == layer:
                return row
        raise KeyError(f"no test of concept {concept!r} at layer {layer!r}")

    def table(self) -> str:
        """A markdown table: score mean ± std, random mean ± std, t, p, Bonferroni p, verdict."""
        lines = [f"| concept | layer | TCAV {self.score} | random | t | p | p (Bonferroni, {len(self.rows)} tests) "
                 f"| significant at {self.alpha} |", "|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append(f"| {r.concept} | {r.layer} | {r.mean:.3f} ± {r.std:.3f} | {r.random_mean:.3f} ± "
                         f"{r.random_std:.3f} | {r.t:.2f} | {r.p_value:.2e} | {r.p_bonferroni:.2e} | "
                         f"{'yes' if r.significant else 'no'} |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "alpha": self.alpha,
                "rows": [{**asdict(r), "mean": r.mean, "std": r.std, "random_mean": r.random_mean,
                          "random_std": r.random_std} for r in self.rows]}

    def plot(self, ax: Any = None) -> Any:
        """Bars of mean scores with std error bars per (concept, layer) beside the random
        scores; non-significant concepts are grey and hatched. Returns the figure."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError("plotting needs matplotlib: pip install 'veracity[plot]'") from error
        if ax is None:
            _, ax = plt.subplots(figsize=(1.2 + 1.1 * len(self.rows), 3.2))
        for i, r in enumerate(self.rows):
            ax.bar(i - 0.2, r.mean, 0.4, yerr=r.std, capsize=3, color="tab:blue" if r.significant else "lightgrey",
                   hatch=None if r.significant else "//", edgecolor="black", linewidth=0.5)
            ax.bar(i + 0.2, r.random_mean, 0.4, yerr=r.random_std, capsize=3, color="white", edgecolor="grey")
            ax.text(i, max(r.mean + r.std, r.random_mean + r.random_std) + 0.03, f"p={r.p_bonferroni:.1g}",
                    ha="center", fontsize=7)
        ax.set_xticks(range(len(self.rows)), [f"{r.concept}\n{r.layer}" for r in self.rows], fontsize=7)
        ax.set_ylim(0, 1.2)
        ax.set_ylabel(f"TCAV {self.score}")
        ax.set_title("concept (filled; grey: not significant) vs random (white)", fontsize=8)
        return ax.figure


def tcav_significance(tcav: TCAV, inputs: Any, concepts: list[Concept], random_concepts: list[Concept],
                      target: Any = None, additional_forward_args: Any = None, *, score: str = "sign_count",
                      alpha: float = 0.05) -> TCAVSignificance:
    """Test each concept against random concepts at every layer of ``tcav``.

    The concept's scores come from the sets ``[concept, random_i]`` and the random scores from
    ``[random_i, random_(i+1) mod N]``, ``i = 1..N`` (``N >= 3`` random concepts). All CAVs
    come from one :meth:`TCAV.interpret` call (one gradient pass for every set and layer).

    Example:
        >>> import tempfile, torch
        >>> from veracity.data.toy import toy_mlp
        >>> model, _ = toy_mlp(batch=1)
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(30, 4, generator=g)
        >>> up = Concept(0, "up", torch.randn(20, 4, generator=g) + 2)
        >>> randoms = [Concept(i, f"random{i}", torch.randn(20, 4, generator=g)) for i in range(1, 6)]
        >>> result = tcav_significance(TCAV(model, ["0"], save_path=tempfile.mkdtemp()), x, [up], randoms, target=0)
        >>> len(result.rows), result.rows[0].p_bonferroni <= 1.0
        (1, True)
    """
    check_choice("score", score, ("sign_count", "magnitude"))
    if not isinstance(concepts, (list, tuple)) or not concepts:
        fail("concepts", "a non-empty list of Concept", concepts, TypeError)
    if not isinstance(random_concepts, (list, tuple)) or len(random_concepts) < 3:
        fail("random_concepts", "at least 3 random concepts", random_concepts)
    clash = {c.id for c in concepts} & {r.id for r in random_concepts}
    if clash:
        fail("random_concepts", "ids other than the tested concepts'", f"shared ids {sorted(clash)}")
    runs = list(random_concepts)
    concept_sets = [[c, r] for c in concepts for r in runs]
    random_sets = [[r, runs[(i + 1) % len(runs)]] for i, r in enumerate(runs)]
    results = tcav.interpret(inputs, concept_sets + random_sets, target, additional_forward_args)
    tests = []
    for layer in tcav.layers:
        randoms = [float(results[sets_key(s)][layer][score][0]) for s in random_sets]
        for concept in concepts:
            values = [float(results[sets_key([concept, r])][layer][score][0]) for r in runs]
            tests.append((concept.name, layer, values, randoms, *ttest_ind(values, randoms)))
    corrected = bonferroni([test[5] for test in tests])
    rows = [SignificanceRow(name, layer, values, randoms, t, p, pb, pb < alpha)
            for (name, layer, values, randoms, t, p), pb in zip(tests, corrected)]
    return TCAVSignificance(rows, score, alpha)
