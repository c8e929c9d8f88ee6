"""The main job (``make demo``): train a CNN on digits, explain test digits, report, plot.

``python -m veracity.demo`` trains :class:`~veracity.data.DigitsCNN` on scikit-learn's bundled
digits (no download, seconds on a CPU), explains one test digit of each class 0..7 for its
true class with Saliency, IntegratedGradients, DeepLift and GradientShap, prints how far each
method is from completeness (sum of attributions = F(x) - F(baseline)) and writes the
attribution grid to ``out/attributions.png`` (``VERACITY_OUT`` or ``main(out_dir=...)``
choose another folder). Seeded: two runs print the same numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from veracity.attr import DeepLift, GradientShap, IntegratedGradients, Saliency
from veracity.data import load_digits, train_digits_cnn

OUT_ENV = "VERACITY_OUT"
N_EXAMPLES = 8
SEED = 0


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
    black = background.new_zeros(1, *background.shape[1:])

    def saliency(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor | None]:
        return Saliency(model).attribute(x, target=y), None

    def integrated_gradients(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor | None]:
        attr, delta = IntegratedGradients(model).attribute(x, black, target=y, n_steps=64,
                                                           return_convergence_delta=True)
        return attr, delta.abs()

    def deeplift(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor | None]:
        attr, delta = DeepLift(model).attribute(x, black, target=y, return_convergence_delta=True)
        return attr, delta.abs()

    def gradient_shap(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor | None]:
        n_samples = 256
        attr, delta = GradientShap(model).attribute(
            x, background, n_samples=n_samples, target=y, return_convergence_delta=True,
            generator=torch.Generator().manual_seed(SEED))
        return attr, delta.reshape(len(x), n_samples).mean(1).abs()

    return {
        "Saliency": Explainer("none (|gradient|)", saliency),
        "IntegratedGradients": Explainer("black image", integrated_gradients),
        "DeepLift": Explainer("black image", deeplift),
        "GradientShap": Explainer(f"{len(background)} training digits", gradient_shap),
    }


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
    header = ("method", "reference", "mean |sum attr|", "completeness error mean", "max")
    lines = [header]
    for name, (reference, attr, errors) in rows.items():
        if errors is None:
            lines.append((name, reference, "n/a", "n/a", "n/a"))
        else:
            scale, mean, worst = attr.flatten(1).sum(1).abs().mean(), errors.mean(), errors.max()
            lines.append((name, reference, f"{scale:.3f}", f"{mean:.2e}", f"{worst:.2e}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(line, widths))) for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def main(out_dir: str | Path | None = None, *, epochs: int = 30) -> Path:
    """Run the demo and return the path of the PNG it wrote (``epochs`` of training).

    Prints the test accuracy, the completeness table and the PNG's path; about 5 s of
    training on 2 idle CPU cores. Run it as ``python -m veracity.demo`` or ``make demo``.
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

    titles = [f"digit {t}, pred {p}" for t, p in zip(y.tolist(), predicted[index].tolist())]
    path = attribution_grid(x, attributions, output_dir(out_dir) / "attributions.png", titles)
    print(f"\nwrote {path}")
    return path


if __name__ == "__main__":
    main()
