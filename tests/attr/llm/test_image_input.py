"""ImageMaskInput through LLMAttribution: a processor turns the (perturbed) image into token ids
(a stand-in for a multimodal processor returning a mapping); ablation equals the direct
log-probability differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from veracity.attr import FeatureAblation
from veracity.attr.llm import ImageMaskInput, LLMAttribution

PIL = pytest.importorskip("PIL.Image")


def test_image_segments_ablation(gpt2, tokenizer):
    pixels = np.zeros((2, 4, 3), dtype=np.uint8)
    image = PIL.fromarray(pixels)

    def processor(img):  # dark left half -> "cat", white -> "dog"; dark right half -> "sat", white -> "mat"
        array = np.asarray(img)
        left = "cat" if array[:, :2].mean() < 128 else "dog"
        right = "sat" if array[:, 2:].mean() < 128 else "mat"
        return {"input_ids": torch.tensor([tokenizer.encode(f"the {left} {right}")])}

    mask = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1]])
    inp = ImageMaskInput(image, mask=mask, processor_fn=processor)
    result = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(inp, target="on the mat")

    def log_prob(text):
        ids = torch.tensor([tokenizer.encode(text + " on the mat")])
        with torch.no_grad():
            logits = gpt2(ids).logits[0, 2:5].log_softmax(-1)
        return float(logits[torch.arange(3), ids[0, 3:6]].sum())

    full = log_prob("the cat sat")
    expected = [full - log_prob("the dog sat"), full - log_prob("the cat mat")]
    assert result.input_tokens == ["image_feature_0", "image_feature_1"]
    torch.testing.assert_close(result.seq_attr, torch.tensor(expected), atol=1e-5, rtol=0)
