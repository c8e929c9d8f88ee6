"""Target strings to token ids (refusing a tokenizer that cannot round-trip them), and ids to
readable tokens (no byte-level markers such as GPT-2's ``Ġ``)."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from veracity._core.validate import fail


def _squeeze(text: str) -> str:
    return "".join(text.split())


def check_round_trip(tokenizer: Any, text: str, ids: list[int], name: str) -> None:
    """Refuse ids that do not decode back to ``text`` (whitespace aside): an unknown token, a
    lower-casing or normalising tokenizer, characters outside its vocabulary."""
    decoded = tokenizer.decode(ids)
    if _squeeze(decoded) != _squeeze(text):
        unknown = getattr(tokenizer, "unk_token_id", None)
        why = " (it maps part of it to the unknown token)" if unknown is not None and unknown in ids else ""
        fail(name, f"text the tokenizer can round-trip: {type(tokenizer).__name__} encodes {text!r} to "
             f"{ids[:12]}{'...' if len(ids) > 12 else ''}, which decodes to {decoded!r}{why}; use the model's "
             "own tokenizer or give the target as token ids", repr(text))


def check_ids_round_trip(tokenizer: Any, ids: list[int], name: str) -> str:
    """The text of ``ids``, refused unless it encodes back to the same ids (with or without the
    tokenizer's special tokens): a prompt sent as text must reach the model as these tokens."""
    text = str(tokenizer.decode(ids))
    if list(tokenizer.encode(text)) != ids and list(tokenizer.encode(text, add_special_tokens=False)) != ids:
        fail(name, f"a tokenizer whose decoded text encodes back to the same tokens: {ids[:12]} decode to "
             f"{text!r}, which encodes to {list(tokenizer.encode(text, add_special_tokens=False))[:12]}",
             type(tokenizer).__name__)
    return text


def encode_target(tokenizer: Any, target: str) -> Tensor:
    """The target's token ids without special tokens, checked to decode back to ``target``."""
    ids = list(tokenizer.encode(target, add_special_tokens=False))
    if not ids:
        fail("target", "a non-empty target (at least one token)", repr(target))
    check_round_trip(tokenizer, target, ids, "target")
    return torch.tensor(ids, dtype=torch.long)


def _clean(token: str) -> str:
    return token.replace("\n", "\\n").strip()


def pretty_tokens(ids: Tensor, tokenizer: Any) -> list[str]:
    """One readable string per id: the span of the decoded text each id covers (via the fast
    tokenizer's offsets), else each id decoded alone."""
    id_list = [int(i) for i in ids.tolist()]
    text = tokenizer.decode(id_list)
    try:
        encoded = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
        offsets = list(encoded["offset_mapping"])
        again = list(encoded["input_ids"])
    except (TypeError, KeyError, NotImplementedError, ValueError):
        again, offsets = [], []
    if again == id_list:
        spans = []
        for i, (start, end) in enumerate(offsets):
            if start == end:  # offsets missing: up to the next token's start
                end = offsets[i + 1][0] if i + 1 < len(offsets) else len(text)
            spans.append(_clean(text[start:end]))
        return spans
    if again:
        warnings.warn("re-encoding the decoded target gave other ids; output tokens are decoded one by one",
                      UserWarning, stacklevel=3)
    return [_clean(tokenizer.decode([i])) for i in id_list]
