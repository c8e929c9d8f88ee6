"""veracity.text on tiny offline models: the sanity check's bookkeeping (stages, tables, the
caller's model untouched), embedding attributions against closed forms (Saliency = sum |grad|,
IG completeness), decoder scoring with and without the prefix cache against direct log-probs,
heatmaps."""

from __future__ import annotations

import copy

import pytest
import torch

from veracity.text import (
    SentenceClassifier,
    SentenceEncoder,
    embedding_attributions,
    score_continuations,
    text_sanity_check,
    token_heatmap_html,
    token_heatmap_terminal,
)
from veracity.text.explain import METHODS
from veracity.text.tiny import tiny_bert_classifier, tiny_gpt2, word_tokenizer

WORDS = "the a film was good bad dull great and not".split()


@pytest.fixture(scope="module")
def tiny():
    tokenizer = word_tokenizer(WORDS)
    model = SentenceClassifier(SentenceEncoder(tiny_bert_classifier(len(tokenizer), seed=1).bert, 1)).eval()
    return model, tokenizer


def test_sanity_check_bookkeeping(tiny):
    model, tokenizer = tiny
    before = copy.deepcopy(model.state_dict())
    result = text_sanity_check(model, tokenizer, ["the film was good", "a dull film"], n_steps=4, n_samples=2)
    assert result.stages == ["head", "layer 1", "layer 0"]
    for table in (result.signed, result.absolute, result.l1):
        assert set(table) == set(METHODS) and all(v.shape == (3, 2) for v in table.values())
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert "| Saliency |" in result.to_markdown()


def test_embedding_attributions_closed_forms(tiny):
    model, tokenizer = tiny
    batch = tokenizer(["the film was good"], return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    base = torch.ones_like(ids)
    saliency = embedding_attributions(model, ids, mask, base, "Saliency", 1)
    per_dim = embedding_attributions(model, ids, mask, base, "Saliency", 1, reduce="none")
    assert bool((saliency >= 0).all()) and torch.allclose(per_dim.sum(-1), saliency)
    ig = embedding_attributions(model, ids, mask, base, "IntegratedGradients", 1, n_steps=64)
    with torch.no_grad():
        embeds, reference = model.word_embeddings(ids), model.word_embeddings(base)
        gap = model(inputs_embeds=embeds, attention_mask=mask)[0, 1] - model(inputs_embeds=reference,
                                                                             attention_mask=mask)[0, 1]
    assert float(ig.sum()) == pytest.approx(float(gap), abs=1e-3)  # completeness


def test_decoder_scores_with_and_without_prefix_cache():
    tokenizer = word_tokenizer(WORDS)
    model = tiny_gpt2(len(tokenizer))
    prompts = ["the film was good and the film was", "the film was good and a film was", "the film was good"]
    plain = score_continuations(model, tokenizer, prompts, "not bad", prefix_cache=False)
    cached = score_continuations(model, tokenizer, prompts, "not bad", prefix_cache=True)
    torch.testing.assert_close(cached, plain, atol=1e-5, rtol=0)
    ids = torch.tensor([tokenizer.encode(prompts[2] + " not bad")])
    with torch.no_grad():
        direct = model(ids).logits[0, 3:5].log_softmax(-1)[torch.arange(2), ids[0, 4:6]]
    torch.testing.assert_close(plain[2], direct, atol=1e-5, rtol=0)


def test_heatmaps_escape_and_colour():
    page = token_heatmap_html(["<img src=x onerror=alert(1)>", "ok"], [0.3, -0.1], title="<t>")
    assert "<img" not in page and "&lt;img" in page and "&lt;t&gt;" in page
    line = token_heatmap_terminal(["good", "bad"], [1.0, -1.0])
    assert line.count("\x1b[0m") == 2 and "good" in line
    with pytest.raises(ValueError, match="`values`"):
        token_heatmap_html(["a"], [1.0, 2.0])
