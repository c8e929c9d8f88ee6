"""LRP composites beside gradient methods on the digits CNN, and a CRP concept atlas.

Trains the small digits CNN (seconds on a CPU), then writes two figures into ``out/``:

* ``out/lrp_digits.png``: for six test digits, gradient (Saliency), gradient x input,
  Integrated Gradients, Captum's default LRP (epsilon) and the Zennit composites EpsilonPlus,
  EpsilonPlusFlat, EpsilonAlpha2Beta1 and EpsilonGammaBox, side by side;
* ``out/lrp_digits_atlas.png``: the concept atlas of one prediction: the three most relevant
  channels of ``conv2``, their conditional heatmaps, and the training digits that maximise each
  channel's relevance, cropped to the channel's receptive field.

Run: ``python examples/lrp_digits.py`` (needs the ``demo`` extra: scikit-learn, matplotlib).
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from veracity import lrp  # noqa: E402
from veracity.attr import LRP, InputXGradient, IntegratedGradients, Saliency  # noqa: E402
from veracity.data.digits import load_digits, train_digits_cnn  # noqa: E402

OUT = pathlib.Path("out")


def side_by_side(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor) -> pathlib.Path:
    methods = {
        "input": None,
        "Saliency": lambda: Saliency(model).attribute(x, target=target),
        "grad x input": lambda: InputXGradient(model).attribute(x, target=target),
        "IG": lambda: IntegratedGradients(model).attribute(x, target=target, n_steps=32),
        "LRP (Captum default)": lambda: LRP(model).attribute(x, target=target),
        "EpsilonPlus": lambda: LRP(model, composite=lrp.EpsilonPlus()).attribute(x, target=target),
        "EpsilonPlusFlat": lambda: LRP(model, composite=lrp.EpsilonPlusFlat()).attribute(x, target=target),
        "EpsilonAlpha2Beta1": lambda: LRP(model, composite=lrp.EpsilonAlpha2Beta1()).attribute(x, target=target),
        "EpsilonGammaBox": lambda: LRP(model, composite=lrp.EpsilonGammaBox(0.0, 1.0)).attribute(x, target=target),
    }
    fig, axes = plt.subplots(len(x), len(methods), figsize=(1.5 * len(methods), 1.5 * len(x)), squeeze=False)
    for column, (name, run) in enumerate(methods.items()):
        maps = x if run is None else run()
        for row in range(len(x)):
            ax = axes[row][column]
            image = maps[row, 0].detach()
            if run is None:
                ax.imshow(image.numpy(), cmap="gray")
            else:
                bound = float(image.abs().max().clamp(min=1e-12))
                ax.imshow(image.numpy(), cmap="bwr", vmin=-bound, vmax=bound)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(name, fontsize=7)
    fig.suptitle("Digits CNN: gradient methods and LRP composites (red: for the class, blue: against)", fontsize=9)
    fig.tight_layout()
    path = OUT / "lrp_digits.png"
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def main() -> None:
    OUT.mkdir(exist_ok=True)
    torch.manual_seed(0)
    data = load_digits()
    model = train_digits_cnn(data)
    accuracy = (model(data.test_x).argmax(1) == data.test_y).float().mean()
    print(f"digits CNN test accuracy: {accuracy:.3f}")
    x, y = data.test_x[:6], data.test_y[:6]
    print("wrote", side_by_side(model, x, y))

    train = torch.utils.data.TensorDataset(data.train_x, data.train_y)
    composite = lrp.EpsilonPlusFlat()
    atlas = lrp.concept_atlas(model, composite, x[:1], int(y[0]), "conv2", train, n_concepts=3, k=4,
                              show_progress=True)
    path = OUT / "lrp_digits_atlas.png"
    plt.close(lrp.plot_concept_atlas(atlas, str(path)))
    shares = ", ".join(f"channel {c}: {100 * float(s):.0f}%" for c, s in zip(atlas.concepts, atlas.shares))
    print(f"wrote {path} (digit {int(y[0])}; most relevant concepts of conv2: {shares})")


if __name__ == "__main__":
    main()
