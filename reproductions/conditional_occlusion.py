"""Check 16 (Sammani et al., arXiv 2206.09753): conditional occlusion of a Siamese digits encoder.

Two embedding models per seed: the fc1 output of the digits CNN trained as a classifier
(methods.md's Siamese embedding), and the same trunk trained briefly as a contrastive encoder
(SimCLR's NT-Xent on two augmented views of each digit: 1-pixel shifts and noise). View 1 is a
test digit, view 2 the same digit shifted right by one pixel (zero fill); 3x3 windows of view 1
(stride 1, fill 0) are occluded with view 2 as the condition and scored by the drop of the
cosine similarity. Expected: a window of zeros changes nothing, so pixels whose covering windows
all lie on the black background get exactly 0; the drops concentrate on the strokes: their
share of the total positive drop exceeds their share of the area, and the largest drop of an
image lies on a stroke. The paper's other two maps are measured on the same pairs: pairwise
occlusion (50 erasures) and Interaction-CAM (at conv2, 4x4 upsampled, the paper's last conv
layer; and at conv1, 8x8): the share of their positive mass on the strokes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from reproductions._common import digits, digits_cnn, out_dir, save
from reproductions._seeds import SEEDS, figure, table
from veracity.data.digits import DigitsCNN
from veracity.similarity import ConditionalOcclusion, InteractionCAM, PairwiseOcclusion, plot_pair

NAME = "conditional_occlusion"
N_IMAGES = 200
WINDOW = (1, 3, 3)
CONTRASTIVE_STEPS = 150
N_ERASURES = 50


class Fc1Embedding(nn.Module):
    """The digits CNN up to fc1 (before its activation): a 64-wide embedding."""

    def __init__(self, cnn: DigitsCNN) -> None:
        super().__init__()
        self.cnn = cnn

    def forward(self, x: Tensor) -> Tensor:
        c = self.cnn
        x = c.pool1(c.act1(c.conv1(x)))
        x = c.pool2(c.act2(c.conv2(x)))
        return c.fc1(x.flatten(1))


def shifted(x: Tensor, pixels: int = 1) -> Tensor:
    """``x`` moved right by ``pixels`` columns, zeros coming in on the left."""
    out = torch.zeros_like(x)
    out[..., pixels:] = x[..., :-pixels]
    return out


def _augment(x: Tensor, generator: torch.Generator) -> Tensor:
    """A random shift of up to one pixel in each direction (zero fill) plus Gaussian noise."""
    padded = nn.functional.pad(x, (1, 1, 1, 1))
    offset = torch.randint(0, 9, (x.shape[0], 1, 1, 1), generator=generator)
    views = sum((offset == 3 * r + c) * padded[..., r:r + 8, c:c + 8] for r in range(3) for c in range(3))
    return views + 0.05 * torch.randn(x.shape, generator=generator)


def train_contrastive(seed: int, steps: int = CONTRASTIVE_STEPS, temperature: float = 0.2) -> Fc1Embedding:
    """The digits CNN's trunk and fc1 trained with NT-Xent (batch 64, Adam 3e-3, a projection
    head 64 -> 32 that is dropped afterwards); a few seconds on a CPU."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    encoder = Fc1Embedding(DigitsCNN())
    head = nn.Sequential(nn.ReLU(), nn.Linear(64, 32))
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=3e-3)
    train_x = digits().train_x
    for _ in range(steps):
        batch = train_x[torch.randint(0, len(train_x), (64,), generator=generator)]
        z = nn.functional.normalize(head(encoder(torch.cat([_augment(batch, generator), _augment(batch, generator)]))),
                                    dim=1)
        logits = z @ z.T / temperature
        logits.fill_diagonal_(float("-inf"))
        partner = torch.cat([torch.arange(64, 128), torch.arange(0, 64)])
        loss = nn.functional.cross_entropy(logits, partner)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    encoder.eval()
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    return encoder


def background_elements(x: Tensor) -> Tensor:
    """Per image and pixel: True when every 3x3 window (stride 1) covering it is all zero."""
    nonzero_windows = nn.functional.max_pool2d((x != 0).float(), 3, stride=1)  # (batch, 1, 6, 6)
    touched = nn.functional.conv_transpose2d(nonzero_windows, torch.ones(1, 1, 3, 3))  # windows over each pixel
    return touched[:, 0] == 0


def measure(encoder: Fc1Embedding, x: Tensor) -> tuple[dict[str, float], dict[str, Tensor]]:
    """The check's numbers for one encoder on images ``x``, and the maps of view 1."""
    condition = shifted(x)
    heat = ConditionalOcclusion(encoder).attribute(x, condition, sliding_window_shapes=WINDOW)[:, 0]
    background = background_elements(x)
    stroke = x[:, 0] > 0
    area_share = stroke.flatten(1).float().mean(1)
    peak = heat.flatten(1).argmax(1)
    erased, _ = PairwiseOcclusion(encoder).attribute(x, condition, n_erasures=N_ERASURES,
                                                     generator=torch.Generator().manual_seed(0))
    cams = {name: InteractionCAM(encoder, layer).attribute(x, condition, upsample_to_input=True)[0][:, 0]
            for name, layer in (("conv2", encoder.cnn.act2), ("conv1", encoder.cnn.act1))}
    with torch.no_grad():
        base = nn.functional.cosine_similarity(encoder(x), encoder(condition), dim=1)
    return {
        "background_pixels": int(background.sum()),
        "background_max_abs_drop": float(heat[background].abs().max()),
        "stroke_share_of_drop": _stroke_share(heat, stroke),
        "stroke_share_of_area": float(area_share.mean()),
        "peak_on_stroke": float(stroke.flatten(1).gather(1, peak[:, None]).float().mean()),
        "mean_drop_stroke": float(heat[stroke].mean()),
        "mean_drop_off_stroke": float(heat[~stroke].mean()),
        "similarity_to_shifted": float(base.mean()),
        "pairwise_stroke_share": _stroke_share(erased[:, 0], stroke),
        "interaction_cam_conv2_stroke_share": _stroke_share(cams["conv2"], stroke),
        "interaction_cam_conv1_stroke_share": _stroke_share(cams["conv1"], stroke),
    }, {"conditional occlusion": heat, "pairwise occlusion": erased[:, 0], "Interaction-CAM conv2": cams["conv2"]}


def _stroke_share(heat: Tensor, stroke: Tensor) -> float:
    """Mean over images of the share of the map's positive mass that lies on stroke pixels."""
    positive = heat.clamp_min(0)
    return float(((positive * stroke).flatten(1).sum(1) / positive.flatten(1).sum(1).clamp_min(1e-12)).mean())


def run(folder: Path) -> dict[str, Any]:
    x = digits().test_x[:N_IMAGES]
    per_seed = []
    shown: dict[str, Tensor] = {}
    pair_maps: Any = None  # both views' conditional maps of the first digit (classifier fc1, seed 0)
    for seed in SEEDS:
        encoders = {"classifier fc1": Fc1Embedding(digits_cnn(seed)).eval(), "contrastive": train_contrastive(seed)}
        scores = {}
        for name, encoder in encoders.items():
            scores[name], maps = measure(encoder, x)
            if seed == SEEDS[0]:
                pair_maps = pair_maps or ConditionalOcclusion(encoder).attribute_pair(x[:1], shifted(x[:1]), WINDOW)
                shown.update({f"{method}\n({name})": m for method, m in maps.items()
                              if name == "classifier fc1" or method == "conditional occlusion"})
        per_seed.append({"seed": seed, "scores": scores})
    names = list(per_seed[0]["scores"])
    keys = list(per_seed[0]["scores"][names[0]])
    results: dict[str, Any] = {
        "seeds": list(SEEDS), "n_images": N_IMAGES, "window": list(WINDOW), "n_erasures": N_ERASURES,
        "per_seed": per_seed,
        "mean": {n: {k: sum(p["scores"][n][k] for p in per_seed) / len(per_seed) for k in keys} for n in names}}

    def draw(fig: Any) -> None:
        examples = [0, 1, 2, 3]
        axes = fig.subplots(len(examples), 2 + len(shown))
        for row, i in enumerate(examples):
            panels = [("view 1", x[i, 0], "gray"), ("view 2 (shifted)", shifted(x)[i, 0], "gray")]
            panels += [(title, heat[i], "RdBu_r") for title, heat in shown.items()]
            for ax, (title, image, cmap) in zip(axes[row], panels):
                bound = float(image.abs().max()) or 1.0
                limits = {"vmin": -bound, "vmax": bound} if cmap == "RdBu_r" else {}
                ax.imshow(image.numpy(), cmap=cmap, **limits)
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title(title, fontsize=7)

    results["figure"] = figure(folder / f"{NAME}.png", draw, (12, 8))
    try:
        pair = plot_pair(x[:1], shifted(x[:1]), *pair_maps,
                         titles=("view 1 given view 2 (classifier fc1)", "view 2 given view 1"))
        pair.savefig(folder / f"{NAME}_pair.png", dpi=100)
    except ImportError:  # pragma: no cover - the plot extra
        pass
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print(table(["encoder", "max |drop| on background", "stroke share of drop", "stroke share of area",
                 "peak on stroke", "pairwise", "I-CAM conv2", "I-CAM conv1"],
                [(n, s["background_max_abs_drop"], s["stroke_share_of_drop"], s["stroke_share_of_area"],
                  s["peak_on_stroke"], s["pairwise_stroke_share"], s["interaction_cam_conv2_stroke_share"],
                  s["interaction_cam_conv1_stroke_share"]) for n, s in results["mean"].items()]))
    return results


if __name__ == "__main__":
    main()
