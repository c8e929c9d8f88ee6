"""Tiny GPT-2 language models and word-level tokenizers built offline, shared by the LLM tests."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from veracity.text.tiny import tiny_gpt2, word_tokenizer  # noqa: E402

WORDS = ("the a cat dog sat on mat is happy sad he she feels right now very today we it "
         "good bad movie was and not . ,").split()


@pytest.fixture(scope="session")
def tokenizer():
    return word_tokenizer(WORDS)


@pytest.fixture(scope="session")
def gpt2(tokenizer):
    return tiny_gpt2(len(tokenizer), seed=0, n_positions=64)
