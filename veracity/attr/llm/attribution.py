"""LLMAttribution and LLMGradientAttribution (Captum 0.9's names and signatures).

Both wrap an attribution method built on the language model and explain the log-probability
(or probability) of a target continuation. The wrapped method runs unchanged on the prompt's
interpretable representation; its forward function scores perturbed prompts through
:mod:`veracity._core.llm` (teacher forcing: one forward pass per chunk of prompts scores every
target token). Per-token attributions come from the same evaluations: the representation is
given as ``1 + n_target`` identical rows, row ``j`` explaining output ``j`` (the sequence total,
then each token), and rows that are the same perturbation are scored once.
"""

from __future__ import annotations

from copy import copy
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.llm import (
    check_fits,
    continuation_log_probs,
    generate_target,
    mapping_log_probs,
    sequence_log_probs,
)
from veracity._core.validate import check_choice, fail
from veracity.attr._base import Attribution
from veracity.attr.layer import LayerGradientShap, LayerGradientXActivation, LayerIntegratedGradients
from veracity.attr.llm.image_input import ImageMaskInput
from veracity.attr.llm.inputs import InterpretableInput, TextTemplateInput, TextTokenInput
from veracity.attr.llm.result import LLMAttributionResult
from veracity.attr.llm.tokens import encode_target, pretty_tokens
from veracity.attr.perturbation import FeatureAblation, KernelShap, Lime, ShapleyValues, ShapleyValueSampling

DEFAULT_GEN_ARGS: dict[str, Any] = {"max_new_tokens": 25, "do_sample": False, "temperature": None, "top_p": None}
ATTR_TARGETS = ("log_prob", "prob")


def _device(model: Any) -> torch.device:
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


class _BaseLLMAttribution(Attribution):
    SUPPORTED_METHODS: tuple[type, ...] = ()
    SUPPORTED_INPUTS: tuple[type, ...] = ()

    def __init__(self, attr_method: Attribution, tokenizer: Any) -> None:
        if not isinstance(attr_method, self.SUPPORTED_METHODS):
            fail("attr_method", "an instance of " + ", ".join(c.__name__ for c in self.SUPPORTED_METHODS),
                 type(attr_method).__name__, TypeError)
        super().__init__(attr_method.forward_func)
        self.model = attr_method.forward_func
        self.tokenizer = tokenizer
        self.device = _device(self.model)

    def _check_input(self, inp: Any) -> None:
        if not isinstance(inp, self.SUPPORTED_INPUTS):
            fail("inp", "one of " + ", ".join(c.__name__ for c in self.SUPPORTED_INPUTS), type(inp).__name__,
                 TypeError)

    def _model_input(self, model_input: Any) -> dict[str, Any]:
        if isinstance(model_input, str):
            model_input = self.tokenizer.encode(model_input, return_tensors="pt")
        if isinstance(model_input, Tensor):
            return {"input_ids": model_input.to(self.device)}
        if hasattr(model_input, "keys"):
            return dict(model_input)
        fail("inp", "an input whose to_model_input() gives text, token ids or a mapping of model inputs",
             type(model_input).__name__, TypeError)

    def _generate(self, inp: InterpretableInput, gen_args: dict[str, Any] | None) -> Tensor:
        return generate_target(self.model, self._model_input(inp.to_model_input()), gen_args or DEFAULT_GEN_ARGS)

    def _target_tokens(self, inp: InterpretableInput, target: str | Tensor | None,
                       gen_args: dict[str, Any] | None) -> Tensor:
        self._check_input(inp)
        if target is None:
            tokens = self._generate(inp, gen_args)
        elif gen_args is not None:
            fail("gen_args", "None when a target is given (gen_args only configures generating one)", gen_args)
        elif isinstance(target, str):
            tokens = encode_target(self.tokenizer, target)
        elif isinstance(target, Tensor):
            if target.dim() == 2 and target.shape[0] == 1:
                target = target[0]
            if target.dim() != 1 or target.numel() == 0 or target.is_floating_point():
                fail("target", "a string or a 1-D tensor of token ids", target)
            tokens = target
        else:
            fail("target", "a string, a 1-D tensor of token ids, or None (generate)", target, TypeError)
        tokens = tokens.to(self.device).long()
        prompt = self._model_input(inp.to_model_input()) if not isinstance(inp, ImageMaskInput) else None
        if prompt is not None:
            check_fits(self.model, int(prompt["input_ids"].shape[1]), int(tokens.shape[0]))
        return tokens


class _PromptScores:
    """The wrapped method's forward function: perturbed representations -> target scores."""

    def __init__(self, owner: "LLMAttribution", inp: InterpretableInput, target: Tensor, per_token: bool,
                 inspect: Callable[[str, str, list[float]], None] | None, prefix_cache: bool) -> None:
        self.owner, self.inp, self.target, self.per_token = owner, inp, target, per_token
        self.inspect, self.prefix_cache = inspect, prefix_cache
        self.encoded: dict[str, Tensor] = {}

    def __call__(self, perturbed: Tensor, *_: Any) -> Tensor:
        unique, inverse = torch.unique(perturbed, dim=0, return_inverse=True)
        prompts = self.owner._prompts(self.inp, unique, self.encoded)
        per_token = self.owner._log_probs(prompts, self.target, self.prefix_cache).to(self.owner.device)
        scores = torch.cat([per_token.sum(1, keepdim=True), per_token], dim=1)
        if self.owner.attr_target == "prob":
            scores = scores.exp()
        if self.inspect is not None:
            response = self.owner.tokenizer.decode(self.target)
            probabilities = scores.exp() if self.owner.attr_target == "log_prob" else scores  # as Captum reports
            for prompt, row in zip(prompts, probabilities):
                text = self.owner.tokenizer.decode(prompt) if isinstance(prompt, Tensor) else str(prompt)
                self.inspect(text, response, row.tolist())
        scores = scores[inverse.to(scores.device)]
        return scores if self.per_token else scores[:, 0]


def _pad_id(tokenizer: Any) -> int:
    for name in ("pad_token_id", "eos_token_id", "unk_token_id"):
        value = getattr(tokenizer, name, None)
        if isinstance(value, int):
            return value
    return 0


class LLMAttribution(_BaseLLMAttribution):
    """Perturbation attribution of a language model's continuation to the prompt's features.

    ``attr_method`` is a FeatureAblation, ShapleyValueSampling, ShapleyValues, Lime or
    KernelShap built on a causal language model (a Hugging Face ``...ForCausalLM`` or any module
    mapping token ids to logits); ``attr_target`` explains the target's ``"log_prob"`` or
    ``"prob"``. ``attribute(inp, target)`` perturbs ``inp`` (a :class:`TextTemplateInput`,
    :class:`TextTokenInput` or :class:`ImageMaskInput`) and returns an
    :class:`LLMAttributionResult`: ``seq_attr`` for the whole target and, except for Lime and
    KernelShap, ``token_attr`` per target token, as in Captum 0.9.

    Differences from Captum: every chunk of perturbed prompts is scored in one teacher-forced
    forward pass (Captum decodes the target token by token for each perturbation), and the
    per-token rows share those passes; ``use_cached_outputs`` and ``forward_in_tokens`` are
    accepted for compatibility (teacher forcing needs no decoding cache). ``prefix_cache=True``
    reuses the keys/values of the prefix all perturbed prompts share (Hugging Face decoders).

    Example:
        >>> from veracity.text.tiny import tiny_gpt2, word_tokenizer
        >>> tokenizer = word_tokenizer("he she feels happy sad right now".split())
        >>> model = tiny_gpt2(len(tokenizer))
        >>> llm = LLMAttribution(FeatureAblation(model), tokenizer)
        >>> result = llm.attribute(TextTemplateInput("{} feels {} right now", ["he", "happy"]), target="sad")
        >>> result.seq_attr.shape, result.token_attr.shape, result.output_tokens
        (torch.Size([2]), torch.Size([1, 2]), ['sad'])
    """

    SUPPORTED_METHODS = (FeatureAblation, ShapleyValueSampling, ShapleyValues, Lime, KernelShap)
    SUPPORTED_PER_TOKEN_ATTR_METHODS = (FeatureAblation, ShapleyValueSampling, ShapleyValues)
    SUPPORTED_INPUTS = (TextTemplateInput, TextTokenInput, ImageMaskInput)

    def __init__(self, attr_method: Attribution, tokenizer: Any, attr_target: str = "log_prob") -> None:
        super().__init__(attr_method, tokenizer)
        check_choice("attr_target", attr_target, ATTR_TARGETS)
        self.attr_method = attr_method
        self.attr_target = attr_target
        self.include_per_token_attr = isinstance(attr_method, self.SUPPORTED_PER_TOKEN_ATTR_METHODS)

    def attribute(self, inp: InterpretableInput, target: str | Tensor | None = None,  # type: ignore[override]
                  num_trials: int = 1,
                  gen_args: dict[str, Any] | None = None, use_cached_outputs: bool = True,
                  _inspect_forward: Callable[[str, str, list[float]], None] | None = None,
                  forward_in_tokens: bool = True, *, prefix_cache: bool = False,
                  **kwargs: Any) -> LLMAttributionResult:
        if isinstance(num_trials, bool) or not isinstance(num_trials, int) or num_trials < 1:
            fail("num_trials", "an integer >= 1", num_trials, TypeError)
        target_tokens = self._target_tokens(inp, target, gen_args)
        scorer = _PromptScores(self, inp, target_tokens, self.include_per_token_attr, _inspect_forward,
                               prefix_cache)
        method = copy(self.attr_method)
        method.forward_func = scorer
        representation = inp.to_tensor().to(self.device).float()
        outputs = 1 + target_tokens.shape[0] if self.include_per_token_attr else 1
        if self.include_per_token_attr:
            representation = representation.expand(outputs, -1)
            kwargs["target"] = list(range(outputs))
        total = torch.zeros(outputs, inp.n_itp_features, device=self.device)
        for _ in range(num_trials):
            total += method.attribute(representation, **kwargs).reshape(outputs, -1).float()
        attr = inp.format_attr(total / num_trials)
        return LLMAttributionResult(seq_attr=attr[0], token_attr=attr[1:] if self.include_per_token_attr else None,
                                    input_tokens=inp.values,
                                    output_tokens=pretty_tokens(target_tokens, self.tokenizer), inp=inp)

    def attribute_future(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("attribute_future is not implemented for LLMAttribution")

    def _prompts(self, inp: InterpretableInput, rows: Tensor, encoded: dict[str, Tensor]) -> list[Any]:
        """The model input of every perturbed row: token ids, or a mapping (multimodal)."""
        if isinstance(inp, TextTokenInput):
            return list(inp.to_model_inputs(rows).to(self.device))
        texts = (inp.to_model_inputs(rows) if isinstance(inp, TextTemplateInput)
                 else [inp.to_model_input(row.unsqueeze(0)) for row in rows])
        prompts: list[Any] = []
        for text in texts:
            if isinstance(text, str):
                if text not in encoded:
                    encoded[text] = self.tokenizer.encode(text, return_tensors="pt")[0].to(self.device)
                prompts.append(encoded[text])
            else:
                prompts.append(self._model_input(text))
        return prompts

    def _log_probs(self, prompts: list[Any], target: Tensor, prefix_cache: bool) -> Tensor:
        """``(len(prompts), len(target))`` teacher-forced log-probabilities, one forward pass
        for all token-id prompts."""
        if all(isinstance(p, Tensor) for p in prompts):
            return continuation_log_probs(self.model, prompts, target, _pad_id(self.tokenizer), prefix_cache)
        return torch.cat([mapping_log_probs(self.model, p, target) for p in prompts])


class _TokenLogProbs:
    """The gradient method's forward function: ``(rows, n_target)`` teacher-forced log-probs."""

    def __init__(self, owner: "LLMGradientAttribution", inp: TextTokenInput, target: Tensor) -> None:
        self.owner, self.inp, self.target = owner, inp, target

    def __call__(self, perturbed: Tensor, *_: Any) -> Tensor:
        prompts = self.inp.to_model_inputs(perturbed).to(self.owner.device)
        sequences = torch.cat([prompts, self.target.view(1, -1).expand(prompts.shape[0], -1)], dim=1)
        return sequence_log_probs(self.owner.model, sequences, prompts.shape[1], self.target)


class LLMGradientAttribution(_BaseLLMAttribution):
    """Gradient attribution of each target token's log-probability to the prompt's tokens.

    ``attr_method`` is a LayerIntegratedGradients, LayerGradientXActivation or
    LayerGradientShap on the model's token embedding layer; ``inp`` a :class:`TextTokenInput`.
    Token ``t`` is explained given the prompt and the target tokens before it (teacher forcing);
    the layer attributions are summed over the embedding dimension, as in Captum 0.9. Unlike
    Captum's loop over target tokens, all target tokens are explained by one call of the method:
    row ``t`` of its batch explains token ``t`` (later target positions cannot influence it in a
    causal model). ``seq_attr`` is the sum over target tokens (the sequence log-probability).

    Example:
        >>> from veracity.text.tiny import tiny_gpt2, word_tokenizer
        >>> tokenizer = word_tokenizer("he she feels happy sad right now".split())
        >>> model = tiny_gpt2(len(tokenizer))
        >>> llm = LLMGradientAttribution(LayerIntegratedGradients(model, model.transformer.wte), tokenizer)
        >>> result = llm.attribute(TextTokenInput("he feels happy", tokenizer), target="right now", n_steps=8)
        >>> result.token_attr.shape
        torch.Size([2, 3])
    """

    SUPPORTED_METHODS = (LayerGradientShap, LayerGradientXActivation, LayerIntegratedGradients)
    SUPPORTED_INPUTS = (TextTokenInput,)

    def __init__(self, attr_method: Attribution, tokenizer: Any) -> None:
        super().__init__(attr_method, tokenizer)
        self.attr_method = attr_method

    def attribute(self, inp: InterpretableInput, target: str | Tensor | None = None,  # type: ignore[override]
                  gen_args: dict[str, Any] | None = None, **kwargs: Any) -> LLMAttributionResult:
        target_tokens = self._target_tokens(inp, target, gen_args)
        assert isinstance(inp, TextTokenInput)
        method = copy(self.attr_method)
        method.forward_func = _TokenLogProbs(self, inp, target_tokens)
        n_target = int(target_tokens.shape[0])
        representation = inp.to_tensor().to(self.device).float().expand(n_target, -1)
        layer_attr = method.attribute(representation, target=list(range(n_target)), **kwargs)
        if isinstance(layer_attr, tuple):  # return_convergence_delta=True
            layer_attr = layer_attr[0]
        attr = layer_attr.detach().sum(-1)[:, :inp.inp_tensor.shape[1]].float()
        if inp.itp_mask is not None:
            attr = attr[:, inp.itp_mask[0].to(attr.device)]
        return LLMAttributionResult(seq_attr=attr.sum(0), token_attr=attr, input_tokens=inp.values,
                                    output_tokens=pretty_tokens(target_tokens, self.tokenizer), inp=inp)

    def attribute_future(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("attribute_future is not implemented for LLMGradientAttribution")
