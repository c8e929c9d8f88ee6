"""Tiny language models and tokenizers built offline (no download): a word-level tokenizer
from a word list and small GPT-2 / BERT models with seeded random weights. For tests, examples
and benchmarks; needs the ``text`` extra (``transformers``).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

SPECIAL = ("[UNK]", "[PAD]")


def word_tokenizer(words: Sequence[str], lowercase: bool = False) -> Any:
    """A fast Hugging Face tokenizer with one id per word: ``[UNK]`` is 0, ``[PAD]`` 1, then
    ``words`` in order; text is split at whitespace and punctuation.

    Example:
        >>> tokenizer = word_tokenizer(["the", "cat", "sat"])
        >>> tokenizer.encode("the cat sat"), tokenizer.decode([2, 3])
        ([2, 3, 4], 'the cat')
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate([*SPECIAL, *dict.fromkeys(words)])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    if lowercase:
        tokenizer.normalizer = normalizers.Lowercase()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]")


def tiny_gpt2(vocab_size: int, seed: int = 0, n_positions: int = 128, n_embd: int = 32, n_layer: int = 2,
              n_head: int = 2, dtype: torch.dtype = torch.float32) -> Any:
    """A GPT-2 language model with random weights drawn under ``seed``, in eval mode.

    Example:
        >>> model = tiny_gpt2(20)
        >>> model(torch.tensor([[2, 3]])).logits.shape
        torch.Size([1, 2, 20])
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
                        n_head=n_head, bos_token_id=0, eos_token_id=0, pad_token_id=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(config)
    model.to(dtype=dtype)  # type: ignore[call-arg]
    return model.eval()


def tiny_bert_classifier(vocab_size: int, num_labels: int = 2, seed: int = 0, hidden_size: int = 32,
                         num_hidden_layers: int = 2) -> Any:
    """A BERT sequence classifier with random weights drawn under ``seed``, in eval mode.

    Example:
        >>> tiny_bert_classifier(20)(torch.tensor([[2, 3, 4]])).logits.shape
        torch.Size([1, 2])
    """
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_hidden_layers,
                        num_attention_heads=2, intermediate_size=2 * hidden_size, max_position_embeddings=64,
                        pad_token_id=1)
    config.num_labels = num_labels
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertForSequenceClassification(config)
    return model.eval()
