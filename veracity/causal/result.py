"""The result of an explanation-vs-prediction study: per-treatment effects, their pooled and
per-accuracy-bin relationship, a markdown table and a figure."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from veracity._core.validate import check_positive_int, fail
from veracity.metrics.similarity import pearson, spearman


@dataclass(frozen=True)
class TreatmentEffect:
    """One treatment (or ``"all"`` pooled): ``pairs`` model pairs that differ in it alone, the
    average effect on explanations (mean ITE_E) and on predictions (mean ITE_Y) over its units
    (input x pair), the Spearman ``correlation`` of ITE_E and ITE_Y across the units and the
    ``r_squared`` of ITE_E regressed linearly on ITE_Y."""

    treatment: str
    pairs: int
    explanation_effect: float
    prediction_effect: float
    correlation: float
    r_squared: float


@dataclass(frozen=True)
class AccuracyBin:
    """The pooled units of the ``pairs`` whose mean test accuracy lies in ``[low, high]``
    (``units`` of them counted: all, or those within a bound on ITE_Y)."""

    low: float
    high: float
    pairs: int
    units: int
    explanation_effect: float
    prediction_effect: float
    correlation: float
    r_squared: float


def mean_of(values: Tensor) -> float:
    """The mean, NaN entries left out; NaN when there is nothing to average."""
    return float(values.nanmean()) if values.numel() else float("nan")


def relationship(ite_e: Tensor, ite_y: Tensor) -> tuple[float, float]:
    """Spearman correlation and R^2 (squared Pearson: the least-squares line with intercept)
    of ITE_E and ITE_Y across units, NaN units left out; NaN when either side is constant.

    Example:
        >>> import torch
        >>> y = torch.tensor([0.1, 0.4, 0.2, 0.3])
        >>> [round(v, 9) for v in relationship(2 * y + 1, y)]
        [1.0, 1.0]
    """
    keep = ~(ite_e.isnan() | ite_y.isnan())
    e, y = ite_e[keep].reshape(1, -1).double(), ite_y[keep].reshape(1, -1).double()
    if e.shape[1] < 2:
        return float("nan"), float("nan")
    return float(spearman(e, y)[0]), float(pearson(e, y)[0] ** 2)


def bin_by_accuracy(ite_e: Tensor, ite_y: Tensor, pair_accuracy: Tensor, count: int,
                    max_prediction_effect: float | None = None) -> list[AccuracyBin]:
    """Pairs (rows of ``ite_e``/``ite_y``) sorted by their mean accuracy (a stable sort) and cut
    into ``count`` groups of (near) equal size; within each, the units with ITE_Y at most
    ``max_prediction_effect`` (all when None) give the bin's effects and relationship."""
    order = torch.sort(pair_accuracy, stable=True).indices
    bins = []
    for group in (g for g in torch.tensor_split(order, min(count, len(order))) if len(g)):
        e, y = ite_e[group].flatten(), ite_y[group].flatten()
        if max_prediction_effect is not None:
            keep = y <= max_prediction_effect
            e, y = e[keep], y[keep]
        bins.append(AccuracyBin(float(pair_accuracy[group].min()), float(pair_accuracy[group].max()), len(group),
                                len(e), mean_of(e), mean_of(y), *relationship(e, y)))
    return bins


def _cell(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.3f}"


@dataclass(frozen=True)
class ExplanationPredictionResult:
    """Treatment effects on explanations and predictions (Karimi et al., ICML 2023).

    ``units[treatment]`` holds the individual effects ``(ITE_E, ITE_Y)``, each ``(pairs,
    examples)``; ``accuracies`` the models' test accuracies when they were given.
    """

    explanation_distance: str
    prediction_distance: str
    effects: list[TreatmentEffect]
    pooled: TreatmentEffect
    bins: list[AccuracyBin]
    accuracies: list[float]
    units: dict[str, tuple[Tensor, Tensor]] = field(repr=False)
    pair_accuracies: dict[str, Tensor] = field(repr=False, default_factory=dict)

    def accuracy_bins(self, count: int = 2, max_prediction_effect: float | None = None) -> list[AccuracyBin]:
        """The pooled units in ``count`` bins of the pairs' mean accuracy, as :attr:`bins`;
        with ``max_prediction_effect`` only the units whose ITE_Y is at most that bound count
        in each bin: a control for the narrower range of ITE_Y among better models."""
        if not self.accuracies:
            fail("accuracies", "the models' accuracies, given to estimate_effects", "none")
        check_positive_int("count", count)
        if max_prediction_effect is not None and (isinstance(max_prediction_effect, bool) or not isinstance(
                max_prediction_effect, (int, float)) or max_prediction_effect < 0):
            fail("max_prediction_effect", "a non-negative number or None", max_prediction_effect)
        ite_e = torch.cat([u[0] for u in self.units.values()])
        ite_y = torch.cat([u[1] for u in self.units.values()])
        accuracy = torch.cat(list(self.pair_accuracies.values()))
        return bin_by_accuracy(ite_e, ite_y, accuracy, count, max_prediction_effect)

    def effect(self, treatment: str) -> TreatmentEffect:
        """The row of ``treatment`` (``"all"``: pooled over treatments)."""
        for row in [*self.effects, self.pooled]:
            if row.treatment == treatment:
                return row
        raise KeyError(f"`treatment`: no effect estimated for {treatment!r}; estimated: "
                       + ", ".join(e.treatment for e in self.effects))

    def table(self) -> str:
        """A markdown table: one row per treatment, the pooled row, then one per accuracy bin."""
        head = (f"| treatment | pairs | effect on E (mean {self.explanation_distance} distance) | effect on Y "
                f"(mean {self.prediction_distance}) | Spearman(ITE_E, ITE_Y) | R^2 of ITE_E on ITE_Y |")
        lines = [head, "|---|---|---|---|---|---|"]
        for row in [*self.effects, self.pooled]:
            lines.append(f"| {row.treatment} | {row.pairs} | {_cell(row.explanation_effect)} | "
                         f"{_cell(row.prediction_effect)} | {_cell(row.correlation)} | {_cell(row.r_squared)} |")
        for b in self.bins:
            lines.append(f"| pairs with accuracy {b.low:.3f}-{b.high:.3f} | {b.pairs} | "
                         f"{_cell(b.explanation_effect)} | {_cell(b.prediction_effect)} | {_cell(b.correlation)} | "
                         f"{_cell(b.r_squared)} |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The numbers, JSON-serialisable (the unit-level tensors left out)."""
        return {"explanation_distance": self.explanation_distance, "prediction_distance": self.prediction_distance,
                "effects": {e.treatment: asdict(e) for e in self.effects}, "pooled": asdict(self.pooled),
                "bins": [asdict(b) for b in self.bins], "accuracies": list(self.accuracies)}

    def plot(self, max_points: int = 4000) -> Any:
        """Left: ITE_E against ITE_Y, one colour per treatment (at most ``max_points`` units
        each, evenly spaced). Right: mean effects on E and Y per treatment. Returns the figure
        (needs matplotlib, the ``plot`` extra)."""
        try:
            from matplotlib.figure import Figure
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError("plotting needs matplotlib: pip install 'veracity[plot]'") from error
        fig = Figure(figsize=(10, 4))
        scatter, bars = fig.subplots(1, 2)
        for name, (ite_e, ite_y) in self.units.items():
            e, y = ite_e.flatten(), ite_y.flatten()
            step = max(1, len(e) // max_points)
            rho = self.effect(name).correlation
            scatter.scatter(y[::step].numpy(), e[::step].numpy(), s=3, alpha=0.4, label=f"{name} (rho={rho:.2f})")
        scatter.set_xlabel(f"ITE on prediction ({self.prediction_distance})")
        scatter.set_ylabel(f"ITE on explanation ({self.explanation_distance})")
        scatter.legend(fontsize=7, markerscale=3)
        scatter.set_title(f"pooled: Spearman {self.pooled.correlation:.2f}, R^2 {self.pooled.r_squared:.2f}",
                          fontsize=9)
        names = [e.treatment for e in self.effects]
        positions = list(range(len(names)))
        bars.bar([p - 0.2 for p in positions], [e.explanation_effect for e in self.effects], 0.4, label="on E")
        bars.bar([p + 0.2 for p in positions], [e.prediction_effect for e in self.effects], 0.4, label="on Y")
        bars.set_xticks(positions, names, fontsize=8)
        bars.set_ylabel("average treatment effect")
        bars.legend(fontsize=8)
        fig.tight_layout()
        return fig
