"""The main job (``make demo``): train a CNN on digits, explain test digits, check the explanations.

``python -m veracity.demo`` trains :class:`~veracity.data.DigitsCNN` on scikit-learn's bundled
digits (no download, seconds on a CPU), explains one test digit of each class 0..7 for its
true class with Saliency, IntegratedGradients, DeepLift and GradientShap, prints how far each
method is from completeness (sum of attributions = F(x) - F(baseline)) and writes the
attribution grid to ``out/attributions.png``. Then it asks whether the explanations can be
trusted, with the library's own evaluation: the model parameter randomisation sanity check
(Adebayo et al. 2018; figure ``out/sanity_checks.png``) and an evaluation grid of
faithfulness, robustness and complexity metrics with bootstrap intervals, gathered with a
verdict per check in the trust report ``out/report.html`` and ``out/report.json``. ``VERACITY_OUT``
or ``main(out_dir=...)`` choose another folder. Seeded: two runs print the same numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, cast

import torch
from torch import Tensor, nn

from veracity.attr import DeepLift, GradientShap, InputXGradient, IntegratedGradients, Saliency
from veracity.data import load_digits, train_digits_cnn
from veracity.metrics import EvaluationTable, RandomisationResult, evaluate, model_parameter_randomisation

OUT_ENV = "VERACITY_OUT"
N_EXAMPLES = 8
SEED = 0
IG_STEPS = 64
SHAP_SAMPLES = 256
N_SANITY = 50  # the first test digits, as tests/metrics/randomisation (same model, same effect)
N_EVALUATED = 64
SANITY_METHODS = {"Saliency": Saliency, "IntegratedGradients": IntegratedGradients,
                  "InputXGradient": InputXGradient}
EVALUATION_METRICS: list[Any] = [
    ("faithfulness_correlation", {"subset_size": 8, "nr_runs": 100, "baseline": 0.0, "seed": SEED}),
    ("max_sensitivity", {"n_samples": 5, "radius": 0.05, "seed": SEED}),
    "sparseness",
]
METRICS_NOTE = ("faithfulness_correlation: Pearson correlation, over 100 random sets of 8 pixels, "
                "of their attribution sum\nwith the logit drop when they are set to 0; "
                "max_sensitivity: largest relative change of the map\nunder 5 draws of "
                "U[-0.05, 0.05] pixel noise; sparseness: Gini index of |map|.")


@dataclass(frozen=True)
class Explainer:
    """How the demo calls one method: ``run(x, y) -> (attributions, per-example error or None)``."""

    reference: str
    run: Callable[[Tensor, Tensor], tuple[Tensor, Tensor | None]]


def output_dir(out_dir: str | Path | None = None) -> Path:
    """The folder for the demo's files: the argument, else ``$VERACITY_OUT``, else ``out``.

    Example:
        >>> str(output_dir("results"))
        'results'
    """
    return Path(out_dir if out_dir is not None else os.environ.get(OUT_ENV, "out"))


def pick_examples(labels: Tensor, n: int = N_EXAMPLES) -> Tensor:
    """Indices of the first test example of each class 0..n-1 (n <= 10 distinct digits).

    Example:
        >>> pick_examples(torch.tensor([1, 0, 0, 1]), 2).tolist()
        [1, 0]
    """
    return torch.stack([torch.nonzero(labels == digit)[0, 0] for digit in range(n)])


def explainers(model: nn.Module, background: Tensor) -> dict[str, Explainer]:
    """The methods of the demo, one entry each; the completeness error comes from the deltas.

    IntegratedGradients and DeepLift explain against a black image and their convergence
    delta is the completeness error. GradientShap explains against ``background`` (expected
    gradients); its delta has one entry per (example, draw), and their signed mean per example
    is sum(attributions) - (F(x) - mean F(drawn baselines)), the Monte Carlo completeness error.

    Example:
        >>> from veracity.data import DigitsCNN
        >>> methods = explainers(DigitsCNN().eval(), torch.rand(4, 1, 8, 8))
        >>> attr, error = methods["DeepLift"].run(torch.rand(2, 1, 8, 8), torch.tensor([3, 5]))
        >>> attr.shape, error.shape
        (torch.Size([2, 1, 8, 8]), torch.Size([2]))
    """
    references = {"Saliency": "none (|gradient|)", "IntegratedGradients": "black image",
                  "DeepLift": "black image", "GradientShap": f"{len(background)} training digits"}

    def runner(method: type, settings: Callable[[], dict[str, Any]]) -> Callable[..., Any]:
        def run(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor | None]:
            if method is Saliency:  # claims no completeness
                return cast(Tensor, method(model).attribute(x, target=y, **settings())), None  # one input tensor
            attr, delta = method(model).attribute(x, target=y, return_convergence_delta=True, **settings())
            return attr, delta.reshape(len(x), -1).mean(1).abs()  # GradientShap: one delta per draw
        return run

    return {name: Explainer(references[name], runner(method, settings))
            for name, (method, settings) in method_settings(background).items()}


def method_settings(background: Tensor) -> dict[str, tuple[type, Callable[[], dict[str, Any]]]]:
    """Each demo method's class and its ``attribute`` keyword arguments (fresh each call, so
    GradientShap's generator restarts from the seed): one place for both uses below."""
    black = background.new_zeros(1, *background.shape[1:])
    return {
        "Saliency": (Saliency, dict),
        "IntegratedGradients": (IntegratedGradients, lambda: {"baselines": black, "n_steps": IG_STEPS}),
        "DeepLift": (DeepLift, lambda: {"baselines": black}),
        "GradientShap": (GradientShap, lambda: {"baselines": background, "n_samples": SHAP_SAMPLES,
                                                "generator": torch.Generator().manual_seed(SEED)}),
    }


def explain_funcs(background: Tensor) -> dict[str, Callable[[nn.Module, Tensor, Any], Tensor]]:
    """The demo's methods with the settings of :func:`explainers`, as ``explain(model, x, target)``
    (what :func:`veracity.metrics.evaluate` calls, also on perturbed inputs).

    Example:
        >>> from veracity.data import DigitsCNN
        >>> explain = explain_funcs(torch.rand(4, 1, 8, 8))["GradientShap"]
        >>> explain(DigitsCNN().eval(), torch.rand(2, 1, 8, 8), torch.tensor([3, 5])).shape
        torch.Size([2, 1, 8, 8])
    """
    def explain_with(method: type, settings: Callable[[], dict[str, Any]]) -> Callable[..., Tensor]:
        return lambda model, x, y: method(model).attribute(x, target=y, **settings())

    return {name: explain_with(method, settings) for name, (method, settings) in method_settings(background).items()}


def aligned(lines: Sequence[tuple[str, ...]], n_left: int) -> str:
    """Text columns under a dashed rule: the first ``n_left`` left-aligned, the rest right.

    Example:
        >>> print(aligned([("name", "value"), ("pi", "3.14")], 1))
        name  value
        ----  -----
        pi     3.14
    """
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = ["  ".join(cell.ljust(w) if i < n_left else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(line, widths))) for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def completeness_table(rows: dict[str, tuple[str, Tensor, Tensor | None]]) -> str:
    """An aligned text table per method: reference, mean |sum of attributions| (the scale) and
    the mean and max completeness error ('n/a' for methods without a completeness claim).

    Example:
        >>> row = ("black", torch.ones(1, 2), torch.tensor([1e-6]))
        >>> print(completeness_table({"DeepLift": row}))
        method    reference  mean |sum attr|  completeness error mean       max
        --------  ---------  ---------------  -----------------------  --------
        DeepLift  black                2.000                 1.00e-06  1.00e-06
    """
    lines = [("method", "reference", "mean |sum attr|", "completeness error mean", "max")]
    for name, (reference, attr, errors) in rows.items():
        if errors is None:
            lines.append((name, reference, "n/a", "n/a", "n/a"))
        else:
            scale, mean, worst = attr.flatten(1).sum(1).abs().mean(), errors.mean(), errors.max()
            lines.append((name, reference, f"{scale:.3f}", f"{mean:.2e}", f"{worst:.2e}"))
    return aligned(lines, 2)


def sanity_checks(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, RandomisationResult]:
    """The cascading model parameter randomisation test (Adebayo et al. 2018) per method of
    :data:`SANITY_METHODS`: layers re-initialised from the logits down to the input, on a copy."""
    return {name: model_parameter_randomisation(model, x, y, method, order="top_down", seed=SEED)
            for name, method in SANITY_METHODS.items()}


def sanity_table(results: dict[str, RandomisationResult]) -> str:
    """Per method, the mean Spearman rank correlation of the absolute and of the signed maps
    with the trained model's once every layer is randomised (the cascade's last stage).

    Example:
        >>> scores = {"spearman_abs": torch.tensor([[0.5, 0.7], [0.1, 0.3]]),
        ...           "spearman": torch.tensor([[0.4, 0.6], [0.0, -0.2]])}
        >>> print(sanity_table({"Saliency": RandomisationResult(["fc2", "conv1"], scores, torch.zeros(2))}))
        method    |maps|  signed maps
        --------  ------  -----------
        Saliency   0.200       -0.100
    """
    lines = [("method", "|maps|", "signed maps")]
    for name, result in results.items():
        last = {key: float(values[-1]) for key, values in result.mean().items()}
        lines.append((name, f"{last['spearman_abs']:.3f}", f"{last['spearman']:.3f}"))
    return aligned(lines, 1)


def plot_sanity_checks(results: dict[str, RandomisationResult], path: Path) -> Path:
    """Write the similarity per randomised layer (absolute and signed maps side by side)."""
    from matplotlib.figure import Figure

    from veracity.metrics.plot import plot_randomisation

    n = len(next(iter(results.values())).original)
    fig = Figure(figsize=(10, 3.8))
    panels = [("spearman_abs", "absolute maps"), ("spearman", "signed maps")]
    for ax, (key, label) in zip(fig.subplots(1, 2, sharey=True), panels):
        plot_randomisation(results, key, ax=ax, title=f"Spearman rank correlation, {label}")
        for line, style in zip(ax.get_lines(), ["-", "--", ":"]):  # IG and IxG overlap
            line.set_linestyle(style)
        ax.legend(fontsize=8)
        ax.axhline(0.0, color="grey", linewidth=0.6)
    fig.suptitle("Randomisation sanity check: similarity to the trained model's maps as layers are "
                 f"re-initialised (mean +- sd over {n} test digits)"
                 "\nlower = the method depends on the learned parameters", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=110)
    return path


def evaluation_grid(model: nn.Module, x: Tensor, y: Tensor, background: Tensor) -> EvaluationTable:
    """The demo's four methods against :data:`EVALUATION_METRICS`, with 95% bootstrap intervals."""
    return evaluate(model, x, y, explain_funcs(background), EVALUATION_METRICS, seed=SEED)


def explain_digits(model: nn.Module, x: Tensor, y: Tensor, background: Tensor) -> dict[str, Tensor]:
    """Explain ``x`` for ``y`` with every method; print the completeness table; return the maps."""
    attributions: dict[str, Tensor] = {}
    rows: dict[str, tuple[str, Tensor, Tensor | None]] = {}
    for name, explainer in explainers(model, background).items():
        attr, errors = explainer.run(x, y)
        attributions[name] = attr.detach()
        rows[name] = (explainer.reference, attributions[name], errors)
    print(completeness_table(rows))
    print("\ncompleteness error = |sum of attributions - (F(x) - F(reference))| per digit, "
          "F = the true class's logit;\nGradientShap: against the mean over its drawn "
          "baselines (a Monte Carlo estimate); Saliency claims no completeness.")
    return attributions


def check_trust(model: nn.Module, x: Tensor, y: Tensor, background: Tensor,
                folder: Path) -> tuple[Path, EvaluationTable]:
    """Print the sanity check and the evaluation grid for test digits ``x``; return the figure
    and the grid (the trust report reuses it)."""
    print("\ncan these explanations be trusted?\n\n1. randomisation sanity check (Adebayo et al. "
          f"2018) on the first {N_SANITY} test digits:\nevery layer re-initialised, from "
          "the logits down to the input; Spearman rank correlation with\nthe trained model's "
          "maps, mean over digits:")
    results = sanity_checks(model, x[:N_SANITY], y[:N_SANITY])
    print(sanity_table(results))
    print("lower = the maps depend on what the model learned. IntegratedGradients and "
          "InputXGradient multiply\nthe gradient by the input, so their |maps| keep the digit's "
          "strokes on a random network and stay\nhigh (Kokhlikyan et al. 2021); "
          "their signed maps change: low.")
    path = plot_sanity_checks(results, folder / "sanity_checks.png")
    print(f"wrote {path}")

    print(f"\n2. evaluation grid on the first {N_EVALUATED} test digits for their true class, "
          "mean [95% bootstrap interval],\narrows: which way is better:")
    table = evaluation_grid(model, x[:N_EVALUATED], y[:N_EVALUATED], background)
    print(table)
    print(METRICS_NOTE)
    return path, table


def main(out_dir: str | Path | None = None, *, epochs: int = 30) -> Path:
    """Run the demo and return the path of the attribution PNG (``epochs`` of training).

    Prints the test accuracy, the completeness table, the sanity check and the evaluation grid,
    and writes ``attributions.png``, ``sanity_checks.png`` and the trust report (``report.html``,
    self-contained, and ``report.json``, every number; see :mod:`veracity.report`); under a
    minute on 2 idle CPU cores. Run it as ``python -m veracity.demo`` or ``make demo``.
    """
    from veracity.viz import attribution_grid

    torch.manual_seed(SEED)
    data = load_digits(seed=SEED)
    model = train_digits_cnn(data, seed=SEED, epochs=epochs)
    with torch.no_grad():
        predicted = model(data.test_x).argmax(1)
    accuracy = (predicted == data.test_y).float().mean().item()
    print(f"digits CNN: trained on {len(data.train_y)} images, "
          f"test accuracy {accuracy:.3f} on {len(data.test_y)}")

    index = pick_examples(data.test_y)
    x, y = data.test_x[index], data.test_y[index]
    shuffled = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(SEED))
    background = data.train_x[shuffled[:32]]
    print(f"explaining {len(x)} test digits for their true class {y.tolist()} "
          f"(predicted {predicted[index].tolist()})\n")
    attributions = explain_digits(model, x, y, background)

    titles = [f"digit {t}, pred {p}" for t, p in zip(y.tolist(), predicted[index].tolist())]
    path = attribution_grid(x, attributions, output_dir(out_dir) / "attributions.png", titles)
    print(f"\nwrote {path}")
    _, table = check_trust(model, data.test_x, data.test_y, background, output_dir(out_dir))
    html_path, json_path = trust_report(model, data.test_x[:N_EVALUATED], data.test_y[:N_EVALUATED],
                                        background, output_dir(out_dir), table)
    print(f"\nwrote {html_path} and {json_path}")
    return path


def trust_report(model: nn.Module, x: Tensor, y: Tensor, background: Tensor, folder: Path,
                 evaluation: EvaluationTable | None = None) -> tuple[Path, Path]:
    """The trust report of the demo's four methods on ``x`` (explained for ``y``, their true
    classes): ``report.html`` and ``report.json`` in ``folder``; ``evaluation``: the grid of
    :func:`evaluation_grid` on the same digits if already computed."""
    from veracity.report import build_report, write_report

    notes = {"Saliency": "absolute gradient of the target logit", "IntegratedGradients":
             f"{IG_STEPS} steps from a black image", "DeepLift": "Rescale rule, black image reference",
             "GradientShap": f"{SHAP_SAMPLES} draws over {len(background)} training digits"}
    report = build_report(model, x, y, explain_funcs(background), labels=y, metrics=EVALUATION_METRICS,
                          classes=[str(d) for d in range(10)], seed=SEED, shown=N_EXAMPLES,
                          title="veracity trust report: digits CNN", model_name="DigitsCNN (make demo)",
                          data_name=f"scikit-learn digits, first {len(x)} test images", method_notes=notes,
                          evaluation=evaluation)
    return write_report(report, folder)


if __name__ == "__main__":
    main()
