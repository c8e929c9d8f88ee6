"""Check 12 (NAACL 2021 tutorial, Dalvi et al. 2019): probe-based neuron ranking on the digits CNN.

An elastic-net logistic probe predicts "the digit is even" from the 64 fc1 neurons (after the
ReLU, layer ``act3``) of the digits CNN. Neurons are ranked by the probe's weight mass
(NeuroX's global ordering); probes retrained on the top / random / bottom N neurons, and the
full probe with the top N zeroed, are evaluated on the test digits. The probeless ranking
(class-mean differences) is computed on the same activations and compared. Two model seeds;
the ranking's stability across two probe seeds (Jaccard of the top 13) is reported as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reproductions._common import digits, digits_cnn, out_dir, save
from reproductions._seeds import figure
from veracity.neurons import (
    ablation_table,
    layer_activations,
    model_ablation,
    neuron_ordering,
    probeless_ordering,
    random_neurons,
    train_probe,
)

NAME = "probe_ranking"
SEEDS = (0, 1)
SIZES = (6, 13)
PROBE = {"lambda_l1": 3e-3, "lambda_l2": 3e-3, "epochs": 20, "learning_rate": 1e-2}


def one_seed(seed: int) -> dict[str, Any]:
    data = digits(0)
    model = digits_cnn(seed)
    train = layer_activations(model, data.train_x, ["act3"])["act3"]
    test = layer_activations(model, data.test_x, ["act3"])["act3"]
    train_y, test_y = (data.train_y % 2 == 0).long(), (data.test_y % 2 == 0).long()
    probe = train_probe(train, train_y, seed=0, **PROBE)
    ordering, cutoffs = neuron_ordering(probe)
    table = ablation_table(train, train_y, test, test_y, ordering, SIZES, probe=probe, seed=seed, **PROBE)
    probeless, _ = probeless_ordering(train, train_y)
    other_probe = train_probe(train, train_y, seed=1, **PROBE)
    other_ordering, _ = neuron_ordering(other_probe)
    top, other_top = set(ordering[:13].tolist()), set(other_ordering[:13].tolist())
    n = max(SIZES)
    model_acc = model_ablation(model, data.test_x, data.test_y, "act3", {
        "top": ordering[:n], "random": random_neurons(64, n, seed), "bottom": ordering[-n:]})
    return {"seed": seed, "full_accuracy": table.full_accuracy, "rows": table.rows, "table": table.markdown(),
            "ordering": ordering.tolist(), "cutoffs": cutoffs, "probeless_ordering": probeless.tolist(),
            "top6_shared_with_probeless": len(set(ordering[:6].tolist()) & set(probeless[:6].tolist())),
            "top13_jaccard_probe_seeds": len(top & other_top) / len(top | other_top),
            "model_accuracy_with_13_zeroed": model_acc, "chance": float(max(test_y.float().mean(),
                                                                            1 - test_y.float().mean()))}


def run(folder: Path) -> dict[str, Any]:
    per_seed = [one_seed(seed) for seed in SEEDS]
    results = {"seeds": list(SEEDS), "sizes": list(SIZES), "probe": PROBE, "per_seed": per_seed,
               "figure": _figure(folder, per_seed)}
    save(NAME, results, folder)
    return results


def _figure(folder: Path, per_seed: list[dict[str, Any]]) -> str | None:
    def draw(fig: Any) -> None:
        for ax, result in zip(fig.subplots(1, len(per_seed), squeeze=False)[0], per_seed):
            for key, style in (("top", "o-"), ("random", "s--"), ("bottom", "v:"), ("full, top zeroed", "x-")):
                ax.plot([r["n"] for r in result["rows"]], [r[key] for r in result["rows"]], style, label=key)
            ax.axhline(result["full_accuracy"], color="grey", linewidth=0.8, label="full probe")
            ax.axhline(result["chance"], color="red", linewidth=0.8, linestyle=":", label="chance")
            ax.set_xlabel("neurons N")
            ax.set_ylabel("probe accuracy")
            ax.set_title(f"'digit is even' from fc1, model seed {result['seed']}", fontsize=8)
            ax.legend(fontsize=6)

    return figure(folder / f"{NAME}.png", draw, (4 * len(per_seed), 3), dpi=120)


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    for r in results["per_seed"]:
        print(f"\nmodel seed {r['seed']}: " + r["table"])
        print(f"top-6 shared with the probeless ranking: {r['top6_shared_with_probeless']}; top-13 Jaccard across "
              f"probe seeds {r['top13_jaccard_probe_seeds']:.2f}; model accuracy with 13 fc1 units zeroed "
              f"{r['model_accuracy_with_13_zeroed']}")
    return results


if __name__ == "__main__":
    main()
