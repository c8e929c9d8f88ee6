"""Tiny GPT-2 language models and word-level tokenizers built offline, shared by the LLM tests."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from veracity.text.tiny import tiny_gpt2, word_tokenizer  # noqa: E402

WORDS = ("the a cat dog sat on mat is happy sad he she feels right now very today we it "
         "good bad movie was and not . ,").split()


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one intra-op thread (on a shared 2-core machine, two threads waiting on each
    other made a tiny GPT-2 forward 70x slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tokenizer():
    return word_tokenizer(WORDS)


@pytest.fixture(scope="session")
def gpt2(tokenizer):
    return tiny_gpt2(len(tokenizer), seed=0, n_positions=64)
