"""Scoring continuations with a language model: the engine side of ``veracity.attr.llm``.

A perturbation method asks for the log-probability of a fixed target continuation under many
perturbed prompts. Captum 0.9 decodes the target token by token for every perturbed prompt
(one model call per target token and prompt). Here a chunk of prompts is scored by teacher
forcing: every row is ``prompt + target``, right-padded to the longest row, and ONE forward
pass of the whole chunk gives the log-probability of every target token in every row (the
logits at position ``len(prompt) - 1 + t`` predict target token ``t``). Right padding needs no
attention mask and no position ids with a causal model: no real token attends to a pad that
follows it, and every row keeps positions ``0, 1, ...``.

``prefix_cache=True`` (KV-cache-aware): the longest prefix that every row of a chunk shares
(the template text before the first slot, the tokens before the first ablated one) is run once
with ``use_cache=True`` and its keys/values are reused by all rows, which then only run their
suffixes. It needs a Hugging Face decoder that takes ``past_key_values``.

Only this module calls the language model; ``veracity.attr.llm`` builds prompts and reduces.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from veracity._core.validate import fail

_CONTEXT_KEYS = ("n_positions", "max_position_embeddings", "n_ctx", "max_sequence_length")


def context_length(model: Any) -> int | None:
    """The model's maximum sequence length from its Hugging Face config, if it states one."""
    config = getattr(model, "config", None)
    for key in _CONTEXT_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def check_fits(model: Any, prompt_length: int, target_length: int) -> None:
    """Refuse a prompt + target longer than the model's context."""
    limit = context_length(model)
    if limit is not None and prompt_length + target_length > limit:
        fail("target", f"a target that fits the model's context of {limit} tokens together with the "
             f"prompt ({prompt_length} tokens), i.e. at most {max(limit - prompt_length, 0)} tokens",
             f"{target_length} tokens")


def logits_of(output: Any) -> Tensor:
    """The ``(rows, positions, vocab)`` logits of a model output (a Hugging Face output, a tuple
    whose first element is the logits, or the logits tensor)."""
    logits = getattr(output, "logits", None)
    if logits is None:
        logits = output[0] if isinstance(output, (tuple, list)) else output
    if not isinstance(logits, Tensor):
        fail("model", "a language model returning logits (an output with .logits, or a tensor)",
             type(output).__name__, TypeError)
    if logits.dim() == 4:  # (rows, heads of speculative decoding, positions, vocab): the first head
        logits = logits[:, 0]
    if logits.dim() != 3:
        fail("model", "logits shaped (batch, positions, vocab)", f"logits of shape {tuple(logits.shape)}")
    return logits


@lru_cache(maxsize=64)
def _parameters(forward: Any) -> tuple[frozenset[str], bool]:
    try:
        parameters = inspect.signature(forward).parameters
    except (TypeError, ValueError):
        return frozenset(), False
    return frozenset(parameters), any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _takes(model: Any, name: str, explicit: bool = False) -> bool:
    """Whether the model's forward takes keyword ``name`` (``explicit``: by name, not **kwargs)."""
    forward = getattr(type(model), "forward", None) or getattr(model, "forward", model)
    names, var_keyword = _parameters(forward)
    return name in names or (var_keyword and not explicit)


def _run(model: Any, ids: Tensor, **extra: Any) -> Any:
    if _takes(model, "input_ids"):
        return model(input_ids=ids, **extra)
    return model(ids, **extra)


def _last_logits(model: Any, ids: Tensor, keep: int, **extra: Any) -> Tensor:
    """The logits of the last ``keep`` positions: ``(rows, keep, vocab)``. A Hugging Face model
    that takes ``logits_to_keep`` computes only those (the vocabulary projection of the other
    positions is skipped: with a 50k vocabulary it is most of a long prompt's logits memory)."""
    if _takes(model, "logits_to_keep", explicit=True):
        extra["logits_to_keep"] = keep
    logits = logits_of(_run(model, ids, **extra))
    return logits[:, -keep:] if logits.shape[1] > keep else logits


def sequence_log_probs(model: Any, sequences: Tensor, prompt_length: int, target: Tensor) -> Tensor:
    """Log-probabilities ``(rows, len(target))`` of ``target`` after the first ``prompt_length``
    tokens of each row of ``sequences`` (``prompt + target``, all rows the same length), with
    gradients: one forward pass. Used by the gradient methods."""
    keep = sequences.shape[1] - prompt_length + 1
    logits = _last_logits(model, sequences, keep)
    positions = torch.arange(target.shape[0], device=logits.device)
    picked = torch.log_softmax(logits[:, positions].float() if logits.dtype in (torch.float16, torch.bfloat16)
                               else logits[:, positions], dim=-1)
    return picked.gather(2, target.to(logits.device).view(1, -1, 1).expand(logits.shape[0], -1, 1)).squeeze(2)


def _shared_prefix(rows: Sequence[Tensor]) -> int:
    shortest = min(int(r.shape[0]) for r in rows)
    if len(rows) < 2 or shortest == 0:
        return 0
    stacked = torch.stack([r[:shortest] for r in rows])
    same = (stacked == stacked[:1]).all(0)
    differs = (~same).nonzero()
    return shortest if differs.numel() == 0 else int(differs[0, 0])


def _cache_argument(model: Any) -> str:
    """``cache`` (transformers >= 5.x) or ``past_key_values`` (older): the key/value cache's name."""
    return "cache" if _takes(model, "cache", explicit=True) else "past_key_values"


def _expand_cache(cache: Any, rows: int) -> Any:
    if hasattr(cache, "batch_repeat_interleave"):
        cache.batch_repeat_interleave(rows)
        return cache
    return tuple(tuple(t.expand(rows, *t.shape[1:]) for t in layer) for layer in cache)


def continuation_log_probs(model: Any, prompts: Sequence[Tensor], target: Tensor, pad_id: int = 0,
                           prefix_cache: bool = False) -> Tensor:
    """Teacher-forced log-probabilities ``(len(prompts), len(target))`` of ``target`` after each
    prompt (1-D token ids), all prompts in one forward pass (see the module docstring).

    Example:
        >>> import torch
        >>> class Uniform(torch.nn.Module):
        ...     def forward(self, ids):
        ...         return torch.zeros(ids.shape[0], ids.shape[1], 4)
        >>> continuation_log_probs(Uniform(), [torch.tensor([1, 2]), torch.tensor([3])], torch.tensor([0, 1]))
        tensor([[-1.3863, -1.3863],
                [-1.3863, -1.3863]])
    """
    if target.dim() != 1 or target.numel() == 0:
        fail("target", "at least one target token (a 1-D tensor of token ids)", target)
    target = target.to(prompts[0].device)
    n_target = int(target.shape[0])
    lengths = torch.tensor([int(p.shape[0]) for p in prompts])
    if bool((lengths == 0).any()):
        fail("inp", "prompts of at least one token (a perturbation removed every token)", "an empty prompt")
    check_fits(model, int(lengths.max()), n_target)
    shared = _shared_prefix(prompts) if prefix_cache else 0
    shared = min(shared, int(lengths.min()) - 1)  # every row keeps a token that predicts target[0]
    width = int(lengths.max()) + n_target - shared
    rows = torch.full((len(prompts), width), pad_id, dtype=torch.long, device=target.device)
    for i, prompt in enumerate(prompts):
        length = int(prompt.shape[0]) - shared
        rows[i, :length] = prompt[shared:]
        rows[i, length:length + n_target] = target
    with torch.no_grad():
        first = int(lengths.min()) - shared - 1  # the first position whose logits are needed
        keep = width - first
        if shared > 0:
            name = _cache_argument(model)
            trim = {"logits_to_keep": 1} if _takes(model, "logits_to_keep", explicit=True) else {}
            head = _run(model, prompts[0][:shared].unsqueeze(0), use_cache=True, **trim)
            cache = _expand_cache(getattr(head, name), len(prompts))
            logits = _last_logits(model, rows, keep, use_cache=True, **{name: cache})
        else:
            logits = _last_logits(model, rows, keep)
        offsets = ((lengths - shared - 1 - first).to(logits.device).unsqueeze(1)
                   + torch.arange(n_target, device=logits.device))
        picked = logits.gather(1, offsets.unsqueeze(2).expand(-1, -1, logits.shape[2]))
        log_probs = torch.log_softmax(picked.float() if picked.dtype in (torch.float16, torch.bfloat16) else picked, -1)
        return log_probs.gather(2, target.view(1, -1, 1).expand(len(prompts), -1, 1)).squeeze(2)


def generate_target(model: nn.Module | Any, model_input: dict[str, Any], gen_args: dict[str, Any]) -> Tensor:
    """The tokens ``model.generate`` appends to the prompt (a Hugging Face ``GenerationMixin``)."""
    generate = getattr(model, "generate", None)
    if not callable(generate):
        fail("target", "a target (str or token ids): the model has no generate() to produce one", "None")
    with torch.no_grad():
        output = generate(**model_input, **gen_args)
    return output[0, model_input["input_ids"].shape[1]:]


def mapping_log_probs(model: Any, model_input: dict[str, Any], target: Tensor) -> Tensor:
    """Teacher-forced log-probabilities ``(1, len(target))`` for a prompt given as a mapping of
    model inputs (``input_ids`` and, e.g., ``pixel_values`` of a multimodal model)."""
    ids = model_input["input_ids"]
    target = target.to(ids.device)
    sequence = torch.cat([ids, target.unsqueeze(0).expand(ids.shape[0], -1)], dim=1)
    extra = {k: v for k, v in model_input.items() if k not in ("input_ids", "attention_mask")}
    check_fits(model, int(ids.shape[1]), int(target.shape[0]))
    with torch.no_grad():
        logits = logits_of(model(input_ids=sequence, attention_mask=torch.ones_like(sequence), **extra))
    positions = torch.arange(target.shape[0], device=logits.device) + ids.shape[1] - 1
    log_probs = torch.log_softmax(logits[:1, positions].float(), dim=-1)
    return log_probs.gather(2, target.view(1, -1, 1)).squeeze(2)
