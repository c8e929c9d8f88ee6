"""Explaining Hugging Face text classifiers token by token.

* :func:`explain_tokens`: LayerIntegratedGradients at the embedding layer, against a reference
  of padding tokens (``TokenReferenceBase``) that keeps the special tokens, with the
  convergence delta; subword pieces merged into words by :func:`merge_subwords`.
* :func:`embedding_attributions`: the input-space methods (Saliency, IG, InputXGradient,
  DeepLift, GradientShap) taken at the word-embedding output and summed per token, the text
  setting of Kokhlikyan et al. 2021's sanity checks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from veracity._core.validate import check_choice
from veracity.attr import (
    DeepLift,
    GradientShap,
    InputXGradient,
    IntegratedGradients,
    LayerIntegratedGradients,
    Saliency,
    TokenReferenceBase,
)

METHODS = ("Saliency", "IntegratedGradients", "InputXGradient", "DeepLift", "GradientShap")


def merge_subwords(tokens: Sequence[str], values: Sequence[float] | Tensor, prefix: str = "##",
                   skip: Sequence[str] = ("[CLS]", "[SEP]", "[PAD]")) -> tuple[list[str], list[float]]:
    """Words and their attributions: a piece starting with ``prefix`` joins the word before it
    and adds its value; tokens in ``skip`` are dropped.

    Example:
        >>> merge_subwords(["[CLS]", "un", "##believ", "##able", "film", "[SEP]"], [9, 1, 2, 3, 4, 9])
        (['unbelievable', 'film'], [6.0, 4.0])
    """
    words: list[str] = []
    scores: list[float] = []
    for token, value in zip(tokens, torch.as_tensor(values, dtype=torch.float64).tolist()):
        if token in skip:
            continue
        if token.startswith(prefix) and words:
            words[-1] += token[len(prefix):]
            scores[-1] += value
        else:
            words.append(token)
            scores.append(value)
    return words, scores


def reference_ids(tokenizer: Any, input_ids: Tensor) -> Tensor:
    """Padding tokens everywhere except the special tokens (``[CLS]``, ``[SEP]``), which stay."""
    reference = TokenReferenceBase(int(tokenizer.pad_token_id or 0))
    base = reference.generate_reference(input_ids.numel(), input_ids.device).view_as(input_ids)
    special = torch.tensor(list(tokenizer.all_special_ids), device=input_ids.device)
    return torch.where(torch.isin(input_ids, special), input_ids, base)


@dataclass
class TokenExplanation:
    """Per-token and per-word attributions of one text, and IG's convergence delta."""

    tokens: list[str]
    values: Tensor
    words: list[str]
    word_values: list[float]
    delta: float


def explain_tokens(model: nn.Module, tokenizer: Any, text: str, target: int, layer: nn.Module | None = None,
                   n_steps: int = 50) -> TokenExplanation:
    """Layer IG at ``layer`` (default ``model.embeddings``) of ``model(input_ids, attention_mask)``'s
    output ``target``, summed over the embedding dimension per token.

    Example:
        >>> from veracity.text.tiny import tiny_bert_classifier, word_tokenizer
        >>> from veracity.text.classifier import SentenceClassifier
        >>> from veracity.text.minilm import SentenceEncoder
        >>> tokenizer = word_tokenizer(["a", "good", "film"])
        >>> model = SentenceClassifier(SentenceEncoder(tiny_bert_classifier(len(tokenizer)).bert, 1)).eval()
        >>> result = explain_tokens(model, tokenizer, "a good film", target=1, n_steps=20)
        >>> result.words, abs(result.delta) < 1e-2
        (['a', 'good', 'film'], True)
    """
    batch = tokenizer([text], return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    layer = layer if layer is not None else model.embeddings  # type: ignore[assignment]
    assert isinstance(layer, nn.Module)
    ig = LayerIntegratedGradients(model, layer)
    values, delta = ig.attribute(ids, baselines=reference_ids(tokenizer, ids), target=target,
                                 additional_forward_args=(mask,), n_steps=n_steps, return_convergence_delta=True)
    per_token = values.detach().sum(-1)[0]
    tokens = tokenizer.convert_ids_to_tokens(ids[0].tolist())
    words, word_values = merge_subwords(tokens, per_token)
    return TokenExplanation(tokens, per_token, words, word_values, float(delta.reshape(-1)[0]))


class OnWordEmbeddings(nn.Module):
    """``model`` seen as a function of its word embeddings: ``forward(embeds, attention_mask)``."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        return self.classifier(inputs_embeds=embeds, attention_mask=attention_mask)


def embedding_attributions(model: nn.Module, input_ids: Tensor, attention_mask: Tensor, baseline_ids: Tensor,
                           method: str, target: Any, n_steps: int = 20, n_samples: int = 10,
                           seed: int = 0, embeddings: Tensor | None = None, reduce: str = "sum") -> Tensor:
    """Per-token attributions ``(batch, tokens)`` of ``method`` (one of :data:`METHODS`) taken at
    the word-embedding output of ``model`` (a :class:`SentenceClassifier`-like module taking
    ``inputs_embeds``) and summed over the embedding dimension (``reduce="sum"``; ``"l1"``: the
    sum of absolute values; ``"none"``: ``(batch, tokens, dim)``); Saliency's are ``|gradient|``.
    ``embeddings`` (default: ``model``'s own of ``input_ids``) fixes the input, e.g. the trained
    model's while ``model`` is a randomised copy; baselines are the embeddings of ``baseline_ids``
    (GradientShap: a zero and an all-reference-token row).
    """
    check_choice("method", method, METHODS)
    check_choice("reduce", reduce, ("sum", "l1", "none"))
    word_embeddings: Any = getattr(model, "word_embeddings")  # noqa: B009 (typed Any)
    with torch.no_grad():
        inputs = (word_embeddings(input_ids) if embeddings is None else embeddings).detach()
        base = word_embeddings(baseline_ids).detach()
    wrapped = OnWordEmbeddings(model)
    args = (attention_mask,)
    values: Any
    if method == "Saliency":
        values = Saliency(wrapped).attribute(inputs, target=target, additional_forward_args=args)
    elif method == "InputXGradient":
        values = InputXGradient(wrapped).attribute(inputs, target=target, additional_forward_args=args)
    elif method == "IntegratedGradients":
        values = IntegratedGradients(wrapped).attribute(inputs, base, target=target, additional_forward_args=args,
                                                        n_steps=n_steps)
    elif method == "DeepLift":
        with warnings.catch_warnings():  # attention and LayerNorm are outside the Rescale rule: approximate
            warnings.simplefilter("ignore", UserWarning)
            values = DeepLift(wrapped).attribute(inputs, base, target=target, additional_forward_args=args)
    else:
        pad = base.reshape(-1, base.shape[-1]).mode(0).values  # the reference token's embedding
        distribution = torch.stack([torch.zeros_like(inputs[0]), pad.expand_as(inputs[0])])
        values = GradientShap(wrapped).attribute(inputs, distribution, n_samples=n_samples, stdevs=0.0, target=target,
                                                 additional_forward_args=args,
                                                 generator=torch.Generator().manual_seed(seed))
    values = values.detach()
    return values if reduce == "none" else values.abs().sum(-1) if reduce == "l1" else values.sum(-1)
