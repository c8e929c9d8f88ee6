"""RemoteLLMAttribution: perturbation attribution of a model behind a server that returns
log-probabilities, with Captum 0.9's provider protocol and an OpenAI-compatible provider.

:class:`OpenAICompatibleProvider` speaks the ``/v1/completions`` API of OpenAI-compatible
servers (vLLM, llama.cpp's server, text-generation-inference, ...) with the standard library:
a prompt followed by the target is sent with ``echo=True, logprobs=0`` and the log-probabilities
of the echoed target tokens are read back (located by their text offsets). It sends a whole
chunk of perturbed prompts in one request (the API takes a list of prompts).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from typing import Any, Sequence

import torch
from torch import Tensor

from veracity._core.validate import fail
from veracity.attr._base import Attribution
from veracity.attr.llm.attribution import LLMAttribution
from veracity.attr.llm.inputs import InterpretableInput, TextTokenInput
from veracity.attr.llm.tokens import check_ids_round_trip, encode_target


class RemoteLLMProvider(ABC):
    """A server that generates text and scores a target after a prompt (Captum 0.9's protocol).

    ``get_logprobs(input_prompt, target_str, tokenizer)`` returns one log-probability per token
    of ``target_str`` (as ``tokenizer`` splits it) given ``input_prompt``. A provider may also
    offer ``get_logprobs_batch(prompts, target_str, tokenizer)`` (one request for many prompts),
    which :class:`RemoteLLMAttribution` then uses.

    Example:
        >>> class Constant(RemoteLLMProvider):
        ...     api_url = "local"
        ...     def generate(self, prompt, **gen_args):
        ...         return "yes"
        ...     def get_logprobs(self, input_prompt, target_str, tokenizer=None):
        ...         return [-1.0] * len(target_str.split())
        >>> Constant().get_logprobs("Is it?", "yes it is")
        [-1.0, -1.0, -1.0]
    """

    api_url: str

    @abstractmethod
    def generate(self, prompt: str, **gen_args: Any) -> str:
        """The text the model generates after ``prompt``."""

    @abstractmethod
    def get_logprobs(self, input_prompt: str, target_str: str, tokenizer: Any = None) -> list[float]:
        """Log-probabilities of the tokens of ``target_str`` after ``input_prompt``."""


class OpenAICompatibleProvider(RemoteLLMProvider):
    """A provider for OpenAI-compatible completion servers, using only the standard library.

    ``api_url`` is the API root (e.g. ``http://127.0.0.1:8000/v1``); ``model_name`` None asks
    the server's ``/models`` for its first model; ``api_key`` is sent as a bearer token (default:
    ``$OPENAI_API_KEY`` if set). The server must echo prompt log-probabilities with text offsets
    (``echo=True, logprobs=0``), as vLLM and OpenAI's legacy completions do.

    Example:
        >>> provider = OpenAICompatibleProvider("http://127.0.0.1:9/v1", model_name="tiny")
        >>> provider.api_url, provider.model_name
        ('http://127.0.0.1:9/v1', 'tiny')
    """

    def __init__(self, api_url: str, model_name: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0) -> None:
        if not isinstance(api_url, str) or not api_url.startswith(("http://", "https://")):
            fail("api_url", "an http(s) URL of the API root, e.g. http://127.0.0.1:8000/v1", api_url)
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self._model_name = model_name

    @property
    def model_name(self) -> str:
        if self._model_name is None:
            models = self._request("GET", "/models").get("data") or []
            if not models:
                raise ValueError(f"`api_url`: the server at {self.api_url} lists no models under /models")
            self._model_name = str(models[0]["id"])
        return self._model_name

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.api_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:300]
            raise ConnectionError(f"{method} {self.api_url + path} failed: HTTP {error.code}: {detail}") from error
        except urllib.error.URLError as error:
            raise ConnectionError(f"cannot reach {self.api_url + path}: {error.reason}") from error

    def generate(self, prompt: str, **gen_args: Any) -> str:
        """Greedy by default; ``max_new_tokens`` (Hugging Face's name) becomes ``max_tokens``."""
        args = {k: v for k, v in gen_args.items() if v is not None and k != "do_sample"}
        args.setdefault("max_tokens", args.pop("max_new_tokens", 25))
        if not gen_args.get("do_sample", False):
            args.setdefault("temperature", 0.0)
        reply = self._request("POST", "/completions", {"model": self.model_name, "prompt": prompt, **args})
        return str(reply["choices"][0]["text"])

    def get_logprobs(self, input_prompt: str, target_str: str, tokenizer: Any = None) -> list[float]:
        return self.get_logprobs_batch([input_prompt], target_str, tokenizer)[0]

    def get_logprobs_batch(self, prompts: Sequence[str], target_str: str, tokenizer: Any = None) -> list[list[float]]:
        """Log-probabilities of ``target_str``'s tokens after each prompt, in one request."""
        if not target_str:
            fail("target_str", "a non-empty target", repr(target_str))
        expected = len(tokenizer.encode(target_str, add_special_tokens=False)) if tokenizer is not None else None
        reply = self._request("POST", "/completions", {
            "model": self.model_name, "prompt": [p + target_str for p in prompts], "max_tokens": 1,
            "temperature": 0.0, "echo": True, "logprobs": 0})
        choices = sorted(reply.get("choices", []), key=lambda c: c.get("index", 0))
        if len(choices) != len(prompts):
            raise ValueError(f"the server answered {len(choices)} choices for {len(prompts)} prompts")
        result = []
        for prompt, choice in zip(prompts, choices):
            logprobs = choice.get("logprobs") or {}
            offsets, values = logprobs.get("text_offset"), logprobs.get("token_logprobs")
            if offsets is None or values is None:
                raise KeyError("the server's reply has no logprobs.text_offset / token_logprobs: it must "
                               "support echo=True with logprobs (OpenAI legacy completions, vLLM)")
            end = len(prompt) + len(target_str)
            picked = [float(v) for o, v in zip(offsets, values) if len(prompt) <= o < end and v is not None]
            if expected is not None and len(picked) != expected:
                raise ValueError(f"the server scored {len(picked)} target tokens, the tokenizer gives {expected}: "
                                 "the server's tokenizer splits the target differently (pass the model's tokenizer)")
            result.append(picked)
        return result


class VLLMProvider(OpenAICompatibleProvider):
    """A vLLM server (``vllm serve <model>``), through the ``openai`` client as in Captum 0.9.

    Raises ImportError naming what to install when the ``openai`` client is absent; the
    standard-library :class:`OpenAICompatibleProvider` talks to the same server with no extra
    package.

    Example:
        >>> import sys
        >>> saved, sys.modules["openai"] = sys.modules.get("openai"), None
        >>> try:
        ...     VLLMProvider("http://127.0.0.1:8000/v1")
        ... except ImportError as error:
        ...     print(str(error).split(";")[0])
        VLLMProvider needs the `openai` client: pip install openai
        >>> sys.modules["openai"] = saved
    """

    def __init__(self, api_url: str, model_name: str | None = None) -> None:
        try:
            from openai import OpenAI  # type: ignore[import-not-found]
        except ImportError as error:
            raise ImportError("VLLMProvider needs the `openai` client: pip install openai; and a running vLLM "
                              "server (pip install vllm; vllm serve <model>). OpenAICompatibleProvider "
                              "talks to the same server with no extra package.") from error
        super().__init__(api_url, model_name)
        self.client = OpenAI(base_url=self.api_url, api_key=os.environ.get("OPENAI_API_KEY", "EMPTY"))


class _PlaceholderModel:
    """Stands in for the model of the wrapped method: a remote attribution never calls it."""

    device = torch.device("cpu")

    def __call__(self, *args: Any, **kwargs: Any) -> int:
        return 0


class RemoteLLMAttribution(LLMAttribution):
    """:class:`LLMAttribution` of a model behind ``provider`` (Captum 0.9's name and signature).

    Build the perturbation method on :attr:`placeholder_model`; prompts are sent as text (the
    tokens of a :class:`TextTokenInput` decoded, refused if the tokenizer cannot round-trip
    them) and a provider with ``get_logprobs_batch`` gets each chunk of perturbations in one
    request.

    Example:
        >>> from veracity.attr import FeatureAblation
        >>> from veracity.attr.llm import TextTemplateInput
        >>> from veracity.text.tiny import word_tokenizer
        >>> class Counting(RemoteLLMProvider):  # log p = -(number of words in the prompt)
        ...     api_url = "local"
        ...     def generate(self, prompt, **gen_args):
        ...         return "ok"
        ...     def get_logprobs(self, input_prompt, target_str, tokenizer=None):
        ...         return [-float(len(input_prompt.split()))]
        >>> tokenizer = word_tokenizer(["he", "is", "happy", "ok"])
        >>> llm = RemoteLLMAttribution(FeatureAblation(RemoteLLMAttribution.placeholder_model), tokenizer, Counting())
        >>> llm.attribute(TextTemplateInput("{} is {}", ["he", "happy"]), target="ok").seq_attr
        tensor([-1., -1.])
    """

    placeholder_model = _PlaceholderModel()

    def __init__(self, attr_method: Attribution, tokenizer: Any, provider: RemoteLLMProvider,
                 attr_target: str = "log_prob") -> None:
        super().__init__(attr_method, tokenizer, attr_target)
        if not callable(getattr(provider, "get_logprobs", None)):
            fail("provider", "a RemoteLLMProvider (with get_logprobs)", type(provider).__name__, TypeError)
        self.provider = provider

    def _generate(self, inp: InterpretableInput, gen_args: dict[str, Any] | None) -> Tensor:
        from veracity.attr.llm.attribution import DEFAULT_GEN_ARGS

        text = self.provider.generate(self._text(inp.to_model_input()), **(gen_args or DEFAULT_GEN_ARGS))
        return encode_target(self.tokenizer, text)

    def _text(self, model_input: Any) -> str:
        if isinstance(model_input, str):
            return model_input
        if isinstance(model_input, Tensor):
            return str(self.tokenizer.decode(model_input.flatten().tolist()))
        fail("inp", "an input whose model input is text or token ids", type(model_input).__name__, TypeError)

    def _prompts(self, inp: InterpretableInput, rows: Tensor, encoded: dict[str, Tensor]) -> list[Any]:
        if isinstance(inp, TextTokenInput):
            check_ids_round_trip(self.tokenizer, inp.inp_tensor[0].tolist(), "tokenizer")
            return [self._text(ids) for ids in inp.to_model_inputs(rows)]
        return [self._text(p) for p in (inp.to_model_inputs(rows) if hasattr(inp, "to_model_inputs")
                                        else [inp.to_model_input(r.unsqueeze(0)) for r in rows])]

    def _target_text(self, prompt: str, target: Tensor) -> str:
        """The target as the text that follows the prompt, with the separator (a space) that the
        tokenizer's decoding puts between them: the server sees ``prompt + target_text``."""
        prompt_ids = list(self.tokenizer.encode(prompt, add_special_tokens=False))
        head = str(self.tokenizer.decode(prompt_ids))
        joint = str(self.tokenizer.decode(prompt_ids + target.tolist()))
        return joint[len(head):] if joint.startswith(head) else str(self.tokenizer.decode(target.tolist()))

    def _log_probs(self, prompts: list[Any], target: Tensor, prefix_cache: bool) -> Tensor:
        target_str = self._target_text(prompts[0], target)
        batch = getattr(self.provider, "get_logprobs_batch", None)
        rows = (batch(prompts, target_str, self.tokenizer) if callable(batch)
                else [self.provider.get_logprobs(input_prompt=p, target_str=target_str, tokenizer=self.tokenizer)
                      for p in prompts])
        for row in rows:
            if len(row) != target.shape[0]:
                raise ValueError(f"`provider`: returned {len(row)} log-probabilities for a target of "
                                 f"{target.shape[0]} tokens")
        return torch.tensor(rows, dtype=torch.float32)
