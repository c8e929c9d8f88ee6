"""RemoteLLMAttribution against a real OpenAI-compatible server on 127.0.0.1 serving the tiny
GPT-2: the same attributions as the local LLMAttribution, perturbations sent in batches."""

from __future__ import annotations

import sys

import pytest
import torch

from tests.attr.llm.completion_server import CompletionServer
from veracity.attr import FeatureAblation, ShapleyValueSampling
from veracity.attr.llm import (
    LLMAttribution,
    OpenAICompatibleProvider,
    RemoteLLMAttribution,
    RemoteLLMProvider,
    TextTemplateInput,
    TextTokenInput,
    VLLMProvider,
)

TARGET = "it was good"


@pytest.fixture(scope="module")
def server(gpt2, tokenizer):
    with CompletionServer(gpt2, tokenizer) as running:
        yield running


def _remote(method, tokenizer, server):
    return RemoteLLMAttribution(method(RemoteLLMAttribution.placeholder_model), tokenizer,
                                OpenAICompatibleProvider(server.url))


@pytest.mark.parametrize("make_input", [
    lambda tok: TextTemplateInput("{} feels {} right {}", ["he", "happy", "now"], baselines=["she", "sad", "today"]),
    lambda tok: TextTokenInput("the cat sat on the mat", tok, baselines="[PAD]"),
], ids=["template", "tokens"])
def test_remote_equals_local(gpt2, tokenizer, server, make_input):
    assert server.url.startswith("http://127.0.0.1:")
    before = server.requests
    remote = _remote(FeatureAblation, tokenizer, server).attribute(make_input(tokenizer), target=TARGET)
    local = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(make_input(tokenizer), target=TARGET)
    torch.testing.assert_close(remote.token_attr, local.token_attr, atol=1e-5, rtol=0)
    torch.testing.assert_close(remote.seq_attr, local.seq_attr, atol=1e-5, rtol=0)
    assert remote.output_tokens == local.output_tokens
    n_prompts = local.seq_attr.shape[0] + 1
    assert server.requests - before < n_prompts  # chunks of prompts share a request


def test_remote_sampling_is_seeded_and_complete(gpt2, tokenizer, server):
    inp = TextTemplateInput("{} feels {} right {}", ["he", "happy", "now"])
    runs = [_remote(ShapleyValueSampling, tokenizer, server).attribute(
        inp, target=TARGET, n_samples=3, generator=torch.Generator().manual_seed(0)) for _ in range(2)]
    torch.testing.assert_close(runs[0].seq_attr, runs[1].seq_attr)
    local = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(
        inp, target=TARGET, feature_mask=torch.zeros(1, 3, dtype=torch.long))
    torch.testing.assert_close(runs[0].seq_attr.sum(), local.seq_attr[0], atol=1e-4, rtol=0)  # efficiency


def test_remote_generation(gpt2, tokenizer, server):
    inp = TextTemplateInput("{} feels {}", ["he", "happy"])
    remote = _remote(FeatureAblation, tokenizer, server).attribute(inp, gen_args={"max_new_tokens": 2})
    local = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(
        inp, gen_args={"max_new_tokens": 2, "do_sample": False})
    assert remote.output_tokens == local.output_tokens and len(local.output_tokens) == 2
    torch.testing.assert_close(remote.seq_attr, local.seq_attr, atol=1e-5, rtol=0)


def test_remote_refuses_a_tokenizer_that_cannot_round_trip(tokenizer, server):
    from tokenizers import decoders

    from tests.attr.llm.conftest import WORDS
    from veracity.text.tiny import word_tokenizer

    glued = word_tokenizer(WORDS)
    glued.backend_tokenizer.decoder = decoders.Fuse()  # decodes "the cat" as "thecat"
    with pytest.raises(ValueError, match="`tokenizer`"):
        _remote(FeatureAblation, glued, server).attribute(TextTokenInput("the cat sat", glued), target=TARGET)


def test_provider_with_a_wrong_count_is_reported(tokenizer):
    class Short(RemoteLLMProvider):
        api_url = "local"

        def generate(self, prompt, **gen_args):
            return "it"

        def get_logprobs(self, input_prompt, target_str, tokenizer=None):
            return [-1.0]

    llm = RemoteLLMAttribution(FeatureAblation(RemoteLLMAttribution.placeholder_model), tokenizer, Short())
    with pytest.raises(ValueError, match="`provider`: returned 1 log-probabilities for a target of 3"):
        llm.attribute(TextTemplateInput("{} feels", ["he"]), target=TARGET)


def test_vllm_provider_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(ImportError, match="pip install openai"):
        VLLMProvider("http://127.0.0.1:8000/v1")


def test_unreachable_server_is_a_connection_error():
    provider = OpenAICompatibleProvider("http://127.0.0.1:9/v1", model_name="x", timeout=2)
    with pytest.raises(ConnectionError, match="cannot reach"):
        provider.get_logprobs("a", "b")
