"""Scoring continuations with a Hugging Face decoder: the log-probability of a target text
after many prompts, teacher-forced in one forward pass per chunk, with the prompts' shared
prefix run once and its key/value cache reused (``prefix_cache=True``)."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from veracity._core.llm import continuation_log_probs
from veracity._core.validate import check_positive_int, fail


def score_continuations(model: Any, tokenizer: Any, prompts: Sequence[str], target: str, prefix_cache: bool = True,
                        chunk_size: int = 64) -> Tensor:
    """``(len(prompts), n_target_tokens)`` log-probabilities of ``target``'s tokens after each prompt.

    Example:
        >>> from veracity.text.tiny import tiny_gpt2, word_tokenizer
        >>> tokenizer = word_tokenizer("the cat sat on a mat".split())
        >>> model = tiny_gpt2(len(tokenizer))
        >>> scores = score_continuations(model, tokenizer, ["the cat sat", "the cat sat on"], "a mat")
        >>> scores.shape, bool((scores < 0).all())
        (torch.Size([2, 2]), True)
    """
    if isinstance(prompts, str) or not prompts:
        fail("prompts", "a non-empty list of strings", prompts, TypeError)
    check_positive_int("chunk_size", chunk_size)
    device = next(model.parameters()).device
    target_ids = torch.tensor(tokenizer.encode(target, add_special_tokens=False), device=device)
    encoded = [torch.tensor(tokenizer.encode(p), device=device) for p in prompts]
    pad = tokenizer.pad_token_id if isinstance(tokenizer.pad_token_id, int) else 0
    return torch.cat([continuation_log_probs(model, encoded[i:i + chunk_size], target_ids, pad, prefix_cache)
                      for i in range(0, len(encoded), chunk_size)])
