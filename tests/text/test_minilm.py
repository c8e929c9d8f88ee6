"""MiniLM offline: the classifier works, its IG token attributions are complete, ablating the
top-k attributed tokens lowers the target log-probability more than ablating k random tokens,
subwords merge into words, and sentence similarity is explained token by token."""

from __future__ import annotations

import pytest
import torch

from veracity.attr import LayerIntegratedGradients
from veracity.text import (
    SentenceEncoder,
    SentenceSimilarity,
    encode_batch,
    explain_tokens,
    merge_subwords,
)


def test_classifier_accuracy_on_held_out_sentences(minilm, sentiment, classifier):
    _, tokenizer = minilm
    texts, labels = sentiment
    ids, mask = encode_batch(tokenizer, texts[1100:1200])
    with torch.no_grad():
        accuracy = (classifier(ids, mask).argmax(1) == torch.tensor(labels[1100:1200])).float().mean()
    assert accuracy > 0.95


def _log_prob(model, ids, target):
    mask = (ids != 0).long()
    with torch.no_grad():
        return model(ids, mask).log_softmax(-1)[:, target]


def test_ig_completeness_and_top_k_ablation_beats_random(minilm, sentiment, classifier):
    _, tokenizer = minilm
    texts, labels = sentiment
    generator = torch.Generator().manual_seed(0)
    top_drops, random_drops, deltas = [], [], []
    for text, label in zip(texts[1000:1006], labels[1000:1006]):
        explanation = explain_tokens(classifier, tokenizer, text, target=label, n_steps=32)
        ids = tokenizer([text], return_tensors="pt")["input_ids"]
        deltas.append(abs(explanation.delta))
        content = torch.arange(1, ids.shape[1] - 1)  # not [CLS] / [SEP]
        full = _log_prob(classifier, ids, label)
        for k in (1, 2):
            top = content[explanation.values[content].argsort(descending=True)[:k]]
            ablated = ids.clone()
            ablated[0, top] = tokenizer.pad_token_id
            top_drops.append(float(full - _log_prob(classifier, ablated, label)))
            for _ in range(5):
                chosen = content[torch.randperm(len(content), generator=generator)[:k]]
                ablated = ids.clone()
                ablated[0, chosen] = tokenizer.pad_token_id
                random_drops.append(float(full - _log_prob(classifier, ablated, label)))
    print(f"largest |IG delta| {max(deltas):.2e}")
    assert max(deltas) < 5e-3  # completeness at 32 steps: attributions sum to the logit difference
    top_mean = sum(top_drops) / len(top_drops)
    random_mean = sum(random_drops) / len(random_drops)
    print(f"mean log-prob drop: top-k {top_mean:.3f}, random k {random_mean:.3f}")
    assert top_mean > random_mean + 0.05, (top_mean, random_mean)


def test_explanation_words_are_merged_subwords(minilm, classifier):
    _, tokenizer = minilm
    text = "the unbelievably dull film"
    explanation = explain_tokens(classifier, tokenizer, text, target=0, n_steps=8)
    assert any(t.startswith("##") for t in explanation.tokens)
    assert explanation.words == text.split()
    pieces = [v for t, v in zip(explanation.tokens, explanation.values.tolist()) if t not in ("[CLS]", "[SEP]")]
    assert sum(explanation.word_values) == pytest.approx(sum(pieces), abs=1e-6)
    assert merge_subwords(["a", "##b", "c"], [1.0, 2.0, 3.0]) == (["ab", "c"], [3.0, 3.0])


def test_sentence_similarity_explained_token_by_token(minilm):
    encoder, tokenizer = minilm
    sentence_encoder = SentenceEncoder(encoder, pad_token_id=tokenizer.pad_token_id)
    ids, mask = encode_batch(tokenizer, ["a cat sits on the mat", "the stock market fell sharply"])
    with torch.no_grad():
        reference = sentence_encoder(*encode_batch(tokenizer, ["a kitten is sitting on a rug"]))[0]
        similarity = SentenceSimilarity(sentence_encoder, reference)
        scores = similarity(ids, mask)
    assert scores[0] > scores[1] + 0.2  # the paraphrase is closer than the unrelated sentence
    from veracity.text.explain import reference_ids

    ig = LayerIntegratedGradients(similarity, encoder.embeddings)
    values, delta = ig.attribute(ids[:1], baselines=reference_ids(tokenizer, ids[:1]),
                                 additional_forward_args=(mask[:1],), n_steps=32, return_convergence_delta=True)
    per_token = values.sum(-1)[0]
    assert abs(float(delta)) < 0.01
    tokens = tokenizer.convert_ids_to_tokens(ids[0].tolist())
    assert tokens[int(per_token[1:-1].argmax()) + 1] in ("cat", "mat", "sits")
