"""The main job (``make demo``): train a CNN on digits, explain test digits, report, plot."""

from __future__ import annotations

import torch

from veracity.attr import IntegratedGradients, Saliency
from veracity.data import load_digits, train_digits_cnn


def main() -> None:
    torch.manual_seed(0)
    data = load_digits()
    model = train_digits_cnn(data)
    accuracy = (model(data.test_x).argmax(1) == data.test_y).float().mean().item()
    print(f"digits CNN test accuracy: {accuracy:.3f}")
    x, y = data.test_x[:8], data.test_y[:8]
    for method in (Saliency(model), IntegratedGradients(model)):
        result = method.attribute(x, target=y)
        print(f"{method.get_name():24s} attribution shape {tuple(result.shape)}")


if __name__ == "__main__":
    main()
