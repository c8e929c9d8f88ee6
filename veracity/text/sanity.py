"""Sanity checks for text (Kokhlikyan et al. 2021, "Investigating sanity checks for saliency
maps with image and text classification"): cascading randomisation of a text classifier's
layers, top down, with attributions at the word-embedding output summed per token, compared
with the trained model's by Spearman rank correlation, signed and of absolute values.

Adebayo et al.'s expectation: a method that explains the model changes when the model is
randomised. Paper A's finding for text: input-multiplier methods (``(x - x') * G``: IG,
InputXGradient, DeepLift, GradientShap) keep a high rank correlation of ``|A|`` because the
input factor carries the structure; Saliency does not.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from veracity._core.predict import predict
from veracity.metrics.randomisation import randomise_layer
from veracity.metrics.similarity import spearman, spearman_abs
from veracity.text.classifier import encode_batch
from veracity.text.explain import METHODS, embedding_attributions, reference_ids


def _blocks(model: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    """Top-down stages: the head, then each transformer layer from the last, with the
    parameter-owning modules of each."""
    encoder: Any = getattr(model.get_submodule("sentence_encoder"), "encoder")  # noqa: B009 (typed Any)
    stages: list[tuple[str, list[nn.Module]]] = [("head", [model.get_submodule("head")])]
    layers = list(encoder.encoder.layer)
    for index in reversed(range(len(layers))):
        owners = [m for m in layers[index].modules() if any(True for _ in m.parameters(recurse=False))]
        stages.append((f"layer {index}", owners))
    return stages


@dataclass
class TextSanityResult:
    """Per method, the Spearman correlations ``(stages, examples)`` between the trained model's
    token attributions and each cumulatively randomised model's (``stages[i]`` is the last
    block randomised), signed and of absolute values."""

    stages: list[str]
    signed: dict[str, Tensor] = field(default_factory=dict)
    absolute: dict[str, Tensor] = field(default_factory=dict)
    l1: dict[str, Tensor] = field(default_factory=dict)

    def mean(self, absolute: bool = True) -> dict[str, list[float]]:
        """Mean over texts per stage: Spearman of |A| (``absolute``) or signed, tokens' A summed."""
        table = self.absolute if absolute else self.signed
        return {method: values.nanmean(1).tolist() for method, values in table.items()}

    def mean_l1(self) -> dict[str, list[float]]:
        """Mean over texts per stage: Spearman of the per-token L1 norms ``sum_d |A_d|``."""
        return {method: values.nanmean(1).tolist() for method, values in self.l1.items()}

    def to_markdown(self) -> str:
        """One row per method: mean |A| / signed Spearman after each stage."""
        head = "| method | " + " | ".join(self.stages) + " |"
        rule = "|---|" + "---|" * len(self.stages)
        rows = []
        for method in self.absolute:
            cells = [f"{a:.2f} / {s:+.2f}" for a, s in zip(self.mean(True)[method], self.mean(False)[method])]
            rows.append(f"| {method} | " + " | ".join(cells) + " |")
        for method, values in self.mean_l1().items():
            rows.append(f"| {method} (L1) | " + " | ".join(f"{v:.2f}" for v in values) + " |")
        return "\n".join([head, rule, *rows]) + ("\n\n(cells: Spearman of |A| / signed Spearman, A summed over the "
                                               "embedding dimension per token; (L1): Spearman of sum_d |A_d|; mean "
                                               "over sentences)")

    def plot(self, path: str | None = None) -> Any:
        """Three panels (per-token L1 norms, |sum|, signed sum) of Spearman against the
        randomised stages; saved to ``path`` when given."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True)
        panels = ((self.mean_l1(), "Spearman of sum_d |A_d| per token"),
                  (self.mean(True), "Spearman of |sum_d A_d| per token"),
                  (self.mean(False), "signed Spearman of sum_d A_d"))
        for ax, (table, title) in zip(axes, panels):
            for method, values in table.items():
                ax.plot(range(len(self.stages)), values, marker="o", label=method)
            ax.set_xticks(range(len(self.stages)), self.stages, rotation=45, ha="right")
            ax.set_title(title, fontsize=10)
            ax.axhline(0, color="grey", linewidth=0.6)
            ax.set_xlabel("randomised down to")
        axes[0].set_ylabel("rank correlation with the trained model")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


def text_sanity_check(model: nn.Module, tokenizer: Any, texts: Sequence[str], target: Any = None,
                      methods: Sequence[str] = METHODS, seed: int = 0, n_steps: int = 20,
                      n_samples: int = 10) -> TextSanityResult:
    """Cascading top-down randomisation of ``model`` (a
    :class:`~veracity.text.classifier.SentenceClassifier`: its head, then its transformer layers
    from the last), on a deep copy (``model`` is never changed). ``target`` None: each text's
    predicted class under the trained model. Correlations are over each text's real tokens."""
    ids, mask = encode_batch(tokenizer, texts, next(model.parameters()).device)
    baseline = reference_ids(tokenizer, ids)
    with torch.no_grad():
        embeds = model.word_embeddings(ids).detach()  # type: ignore[operator]
    if target is None:
        target = predict(model, (ids, mask)).argmax(1).tolist()

    def attributions(current: nn.Module) -> dict[str, Tensor]:
        return {m: embedding_attributions(current, ids, mask, baseline, m, target, n_steps, n_samples, seed,
                                          embeddings=embeds, reduce="none") for m in methods}

    original = attributions(model)
    working = copy.deepcopy(model)
    stages = _blocks(working)
    result = TextSanityResult([name for name, _ in stages])
    signed: dict[str, list[Tensor]] = {m: [] for m in methods}
    absolute: dict[str, list[Tensor]] = {m: [] for m in methods}
    l1: dict[str, list[Tensor]] = {m: [] for m in methods}
    seeds = torch.randint(2**62, (len(stages), 64), generator=torch.Generator().manual_seed(seed))
    for stage, (_, owners) in enumerate(stages):
        for k, module in enumerate(owners):
            randomise_layer(module, int(seeds[stage, k % 64]) + k)
        randomised = attributions(working)
        for m in methods:
            before, after = original[m].sum(-1), randomised[m].sum(-1)
            signed[m].append(_per_text(spearman, before, after, mask))
            absolute[m].append(_per_text(spearman_abs, before, after, mask))
            l1[m].append(_per_text(spearman, original[m].abs().sum(-1), randomised[m].abs().sum(-1), mask))
    result.signed = {m: torch.stack(v) for m, v in signed.items()}
    result.absolute = {m: torch.stack(v) for m, v in absolute.items()}
    result.l1 = {m: torch.stack(v) for m, v in l1.items()}
    return result


def _per_text(score: Any, a: Tensor, b: Tensor, mask: Tensor) -> Tensor:
    return torch.stack([score(a[i][mask[i].bool()].unsqueeze(0), b[i][mask[i].bool()].unsqueeze(0))[0]
                        for i in range(a.shape[0])])
