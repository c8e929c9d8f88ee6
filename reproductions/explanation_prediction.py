"""Seed V (Karimi, Muandet, Kornblith, Schölkopf, Kim, ICML 2023): explanation vs prediction as
a causal question.

Training hyperparameters are treatments: 36 digits MLPs (seed {0, 1, 2} x learning rate
{3e-2, 1e-2, 1e-3} x width {16, 64} x data order {0, 1}, 10 epochs of Adam, batch 64; a few
seconds in all). Each explains the first 200 test digits (true class; Saliency = |gradient|,
Input x Gradient, IG with 16 steps) and predicts them (softmax). For every pair of models that
differ in one treatment only and every digit, ITE_E = 1 - Spearman(|E_a|, |E_b|) and
ITE_Y = total variation between the two probability vectors. Reported per treatment and pooled:
the average effects, Spearman(ITE_E, ITE_Y) across units and the R^2 of ITE_E on ITE_Y; and the
pooled correlation in three bins of the pairs' mean test accuracy.

The paper's claims (abstract): the relationship is far from ideal (correlation well below 1),
and the gap grows for higher-performing models. A control for the bins: the better the pair,
the less its predictions change (smaller, narrower ITE_Y), and a rank correlation over a
narrow range of ITE_Y is low whatever the models. The same bins restricted to the units with
ITE_Y <= 0.05 (a range every bin covers) say how much of the decline that explains.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from reproductions._common import digits, out_dir, save
from reproductions._seeds import figure, table
from veracity.attr import InputXGradient, IntegratedGradients, Saliency
from veracity.causal import TreatmentGrid, estimate_effects, explain_grid, train_grid

NAME = "explanation_prediction"
N_EXAMPLES = 200
ACCURACY_BINS = 3
CONTROL_BOUND = 0.05  # ITE_Y (total variation) bound of the range control
GRID = {"seed": [0, 1, 2], "learning_rate": [3e-2, 1e-2, 1e-3], "width": [16, 64], "data_order": [0, 1]}
FIXED = {"epochs": 10}
METHODS: dict[str, tuple[Any, dict[str, Any]]] = {
    "Saliency": (Saliency, {}),
    "InputXGradient": (InputXGradient, {}),
    "IG": (IntegratedGradients, {"n_steps": 16}),
}


def run(folder: Path) -> dict[str, Any]:
    data = digits()
    grid = TreatmentGrid(GRID, fixed=FIXED)
    trained = train_grid(grid, data, show_progress=False)
    x, y = data.test_x[:N_EXAMPLES], data.test_y[:N_EXAMPLES]
    studies = {}
    for name, (method, kwargs) in METHODS.items():
        explanations, predictions = explain_grid(trained, x, y, method, kwargs)
        studies[name] = estimate_effects(explanations, predictions, trained.configs, list(grid.varied),
                                         trained.accuracies, "spearman_abs", "total_variation", ACCURACY_BINS)
    results: dict[str, Any] = {
        "grid": GRID, "fixed": FIXED, "n_examples": N_EXAMPLES, "accuracies": trained.accuracies,
        "methods": {name: study.to_dict() for name, study in studies.items()},
        "control_bound": CONTROL_BOUND,
        "control_bins": {name: [asdict(b) for b in study.accuracy_bins(ACCURACY_BINS, CONTROL_BOUND)]
                         for name, study in studies.items()},
    }

    def draw(fig: Any) -> None:
        scatter, effects, bins = fig.subplots(1, 3)
        main = studies["Saliency"]
        for treatment, (ite_e, ite_y) in main.units.items():
            scatter.scatter(ite_y.flatten()[::4].numpy(), ite_e.flatten()[::4].numpy(), s=2, alpha=0.3,
                            label=f"{treatment} (rho={main.effect(treatment).correlation:.2f})")
        scatter.set_xlabel("ITE on prediction (total variation)")
        scatter.set_ylabel("ITE on Saliency (1 - Spearman |maps|)")
        scatter.legend(fontsize=6, markerscale=4)
        names = [e.treatment for e in main.effects]
        for offset, (label, values) in zip((-0.2, 0.2), (("on E (Saliency)", [e.explanation_effect for e in
                                                                                main.effects]),
                                                         ("on Y", [e.prediction_effect for e in main.effects]))):
            effects.bar([i + offset for i in range(len(names))], values, 0.4, label=label)
        effects.set_xticks(range(len(names)), names, fontsize=7)
        effects.set_ylabel("average treatment effect")
        effects.legend(fontsize=7)
        for index, (name, study) in enumerate(studies.items()):
            centres = [(b.low + b.high) / 2 for b in study.bins]
            colour = f"C{index}"
            bins.plot(centres, [b.correlation for b in study.bins], marker="o", color=colour, label=name)
            bins.plot(centres, [b["correlation"] for b in results["control_bins"][name]], marker="x", color=colour,
                      linestyle="--", label=f"{name}, ITE_Y <= {CONTROL_BOUND}")
        bins.axhline(1.0, color="grey", linestyle=":", linewidth=0.8)
        bins.axhline(0.0, color="grey", linewidth=0.6)
        bins.set_xlabel("mean test accuracy of the pair (bin)")
        bins.set_ylabel("Spearman(ITE_E, ITE_Y)")
        bins.legend(fontsize=7)

    results["figure"] = figure(folder / f"{NAME}.png", draw, size=(13.0, 4.0))
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    for name, study in results["methods"].items():
        rows = [(t, e["pairs"], e["explanation_effect"], e["prediction_effect"], e["correlation"], e["r_squared"])
                for t, e in [*study["effects"].items(), ("all", study["pooled"])]]
        rows += [(f"accuracy {b['low']:.3f}-{b['high']:.3f}", b["pairs"], b["explanation_effect"],
                  b["prediction_effect"], b["correlation"], b["r_squared"]) for b in study["bins"]]
        rows += [(f"accuracy {b['low']:.3f}-{b['high']:.3f}, ITE_Y <= {results['control_bound']}", b["pairs"],
                  b["explanation_effect"], b["prediction_effect"], b["correlation"], b["r_squared"])
                 for b in results["control_bins"][name]]
        print(f"{name}:")
        print(table(["treatment", "pairs", "effect on E", "effect on Y", "Spearman(ITE_E, ITE_Y)", "R^2"], rows))
    return results


if __name__ == "__main__":
    main()
