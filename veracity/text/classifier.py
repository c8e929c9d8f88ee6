"""A sentence classifier on a frozen encoder: mean-pooled, normalised MiniLM embeddings and a
linear head trained on a small labelled set (training code: it calls the encoder itself)."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn

from veracity.text.minilm import SentenceEncoder


class SentenceClassifier(nn.Module):
    """Logits ``(batch, num_labels)`` = ``head(sentence embedding)``; inputs as
    :class:`~veracity.text.minilm.SentenceEncoder` (token ids, or word embeddings plus mask).

    Example:
        >>> from veracity.text.tiny import tiny_bert_classifier
        >>> model = SentenceClassifier(SentenceEncoder(tiny_bert_classifier(20).bert, pad_token_id=1), 3)
        >>> model(torch.tensor([[2, 3, 4]])).shape
        torch.Size([1, 3])
    """

    def __init__(self, sentence_encoder: SentenceEncoder, num_labels: int = 2) -> None:
        super().__init__()
        self.sentence_encoder = sentence_encoder
        encoder: Any = sentence_encoder.encoder
        hidden = int(getattr(getattr(encoder, "config", None), "hidden_size", 0)) or int(
            encoder.get_input_embeddings().embedding_dim)
        self.head = nn.Linear(hidden, num_labels)

    @property
    def embeddings(self) -> nn.Module:
        """The encoder's embedding module (word + position embeddings, normalised)."""
        encoder: Any = self.sentence_encoder.encoder
        return encoder.embeddings

    @property
    def word_embeddings(self) -> nn.Module:
        """The encoder's token embedding table."""
        encoder: Any = self.sentence_encoder.encoder
        return encoder.get_input_embeddings()

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                inputs_embeds: Tensor | None = None) -> Tensor:
        return self.head(self.sentence_encoder(input_ids, attention_mask, inputs_embeds))


def encode_batch(tokenizer: Any, texts: Sequence[str], device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """``(input_ids, attention_mask)`` of ``texts``, padded to the longest."""
    batch = tokenizer(list(texts), padding=True, return_tensors="pt")
    return batch["input_ids"].to(device), batch["attention_mask"].to(device)


def train_classifier(encoder: nn.Module, tokenizer: Any, texts: Sequence[str], labels: Sequence[int],
                     num_labels: int = 2, epochs: int = 200, seed: int = 0, batch_size: int = 64) -> SentenceClassifier:
    """A :class:`SentenceClassifier` whose head is fitted (full-batch Adam, cross-entropy) on the
    frozen encoder's sentence embeddings of ``texts``; the encoder is not changed. Seeded.

    Example:
        >>> from veracity.text.tiny import tiny_bert_classifier, word_tokenizer
        >>> tokenizer = word_tokenizer(["good", "bad", "film"])
        >>> model = train_classifier(tiny_bert_classifier(len(tokenizer)).bert, tokenizer,
        ...                          ["good film", "bad film"] * 4, [1, 0] * 4, epochs=100)
        >>> model(encode_batch(tokenizer, ["good film", "bad film"])[0]).argmax(1).tolist()
        [1, 0]
    """
    sentence_encoder = SentenceEncoder(encoder, pad_token_id=int(tokenizer.pad_token_id or 0))
    model = SentenceClassifier(sentence_encoder, num_labels)
    device = next(encoder.parameters()).device
    with torch.no_grad():
        features = torch.cat([sentence_encoder(*encode_batch(tokenizer, texts[i:i + batch_size], device))
                              for i in range(0, len(texts), batch_size)])
    targets = torch.tensor(list(labels), device=device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = nn.Linear(features.shape[1], num_labels).to(device)
    optimiser = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(epochs):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(head(features), targets)
        loss.backward()
        optimiser.step()
    model.head.load_state_dict(head.state_dict())
    return model.to(device).eval()
