"""LLMAttribution's own behaviour: one forward pass per chunk, chunk and cache invariance,
the methods without per-token results, results' HTML and plots, and bad input."""

from __future__ import annotations

import pytest
import torch

from veracity.attr import FeatureAblation, IntegratedGradients, KernelShap, LayerIntegratedGradients, Lime
from veracity.attr.llm import (
    LLMAttribution,
    LLMAttributionResult,
    LLMGradientAttribution,
    TextTemplateInput,
    TextTokenInput,
)

TARGET = "it was good"
TEXT = "the cat sat on the mat and the dog was happy"


def _count_forwards(model):
    calls = []
    handle = model.register_forward_hook(lambda module, args, kwargs, output: calls.append(1), with_kwargs=True)
    return calls, handle


@pytest.mark.parametrize("chunk", [1, 4, None])
def test_one_forward_per_chunk_for_all_target_tokens(gpt2, tokenizer, chunk):
    inp = TextTokenInput(TEXT, tokenizer)
    calls, handle = _count_forwards(gpt2)
    try:
        result = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(inp, target=TARGET,
                                                                             perturbations_per_eval=chunk)
    finally:
        handle.remove()
    n_points = inp.n_itp_features + 1
    expected = -(-n_points // chunk) if chunk else None
    if expected is not None:
        assert len(calls) == expected  # Captum: n_points * 3 target tokens model calls
    else:
        assert len(calls) <= n_points
    reference = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(inp, target=TARGET,
                                                                            perturbations_per_eval=2)
    torch.testing.assert_close(result.token_attr, reference.token_attr, atol=1e-5, rtol=0)


def test_prefix_cache_gives_the_same_scores(gpt2, tokenizer):
    inp = TextTemplateInput("the cat sat on the mat and {} feels {}", ["he", "happy"], baselines=["she", "sad"])
    plain = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(inp, target=TARGET)
    cached = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(inp, target=TARGET, prefix_cache=True)
    torch.testing.assert_close(cached.token_attr, plain.token_attr, atol=1e-5, rtol=0)


def test_varying_prompt_lengths_in_one_chunk(gpt2, tokenizer):
    """Baselines of other lengths (here the empty string) give prompts of different lengths,
    right-padded into one pass: each equals its own unpadded score."""
    inp = TextTemplateInput("{} feels {} {}", ["he", "very happy", "right now"])
    one = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(inp, target=TARGET, perturbations_per_eval=1)
    all_at_once = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(inp, target=TARGET)
    torch.testing.assert_close(all_at_once.token_attr, one.token_attr, atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", [Lime, KernelShap])
def test_surrogate_methods_give_sequence_attributions_only(gpt2, tokenizer, method):
    inp = TextTemplateInput("{} feels {} right {}", ["he", "happy", "now"])
    llm = LLMAttribution(method(gpt2), tokenizer, attr_target="prob")
    runs = [llm.attribute(inp, target=TARGET, n_samples=40, generator=torch.Generator().manual_seed(3))
            for _ in range(2)]
    assert runs[0].token_attr is None and runs[0].seq_attr.shape == (3,)
    torch.testing.assert_close(runs[0].seq_attr, runs[1].seq_attr)


def test_num_trials_averages(gpt2, tokenizer):
    inp = TextTemplateInput("{} feels {}", ["he", "happy"])
    one = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(inp, target=TARGET)
    three = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(inp, target=TARGET, num_trials=3)
    torch.testing.assert_close(three.seq_attr, one.seq_attr)


def test_generated_target(gpt2, tokenizer):
    inp = TextTemplateInput("{} feels {}", ["he", "happy"])
    result = LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(inp, gen_args={"max_new_tokens": 3})
    assert len(result.output_tokens) == 3 and result.token_attr.shape == (3, 2)


def test_html_escapes_every_token_and_plots_draw():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    result = LLMAttributionResult(input_tokens=["<script>", "a&b"], output_tokens=['"x"', "<y>"],
                                  seq_attr=[1.0, -2.0], token_attr=[[0.5, -1.0], [0.5, -1.0]])
    page = result.to_html()
    assert "<script>" not in page and "&lt;script&gt;" in page and "a&amp;b" in page and "&lt;y&gt;" in page
    fig, ax = result.plot_token_attr()
    assert len(ax.get_xticklabels()) == 2
    fig, ax = result.plot_seq_attr()
    assert [round(p.get_height(), 6) for p in ax.patches] == [1.0, -2.0]
    assert "a&b(-2.000)" in result.to_terminal(color=False)


def test_result_shapes_are_checked():
    with pytest.raises(ValueError, match="`token_attr`"):
        LLMAttributionResult(input_tokens=["a"], output_tokens=["b", "c"], seq_attr=[1.0], token_attr=[[1.0]])


def test_template_slots_must_match_values():
    with pytest.raises(ValueError, match="`values`: expected 2 values for the 2 positional slots"):
        TextTemplateInput("{} feels {}", ["he", "happy", "today"])
    with pytest.raises(ValueError, match="`values`: expected one value per slot"):
        TextTemplateInput("{who} feels {how}", {"who": "he", "mood": "happy"})
    with pytest.raises(TypeError, match="`baselines`"):
        TextTemplateInput("{} feels {}", ["he", "happy"], baselines=["she"])


def test_target_the_tokenizer_cannot_round_trip(gpt2, tokenizer):
    llm = LLMAttribution(FeatureAblation(gpt2), tokenizer)
    with pytest.raises(ValueError, match="`target`: expected text the tokenizer can round-trip.*unknown token"):
        llm.attribute(TextTemplateInput("{} feels", ["he"]), target="it was zebra")


def test_target_longer_than_the_context(gpt2, tokenizer):
    llm = LLMAttribution(FeatureAblation(gpt2), tokenizer)
    with pytest.raises(ValueError, match="`target`: expected a target that fits the model's context of 64 tokens"):
        llm.attribute(TextTemplateInput("{} feels", ["he"]), target=" ".join(["good"] * 63))
    gradient = LLMGradientAttribution(LayerIntegratedGradients(gpt2, gpt2.transformer.wte), tokenizer)
    with pytest.raises(ValueError, match="`target`"):
        gradient.attribute(TextTokenInput("he feels", tokenizer), target=torch.full((63,), 5))


def test_wrong_method_input_and_arguments(gpt2, tokenizer):
    with pytest.raises(TypeError, match="`attr_method`"):
        LLMAttribution(IntegratedGradients(gpt2), tokenizer)
    with pytest.raises(ValueError, match="`attr_target`"):
        LLMAttribution(FeatureAblation(gpt2), tokenizer, attr_target="logit")
    gradient = LLMGradientAttribution(LayerIntegratedGradients(gpt2, gpt2.transformer.wte), tokenizer)
    with pytest.raises(TypeError, match="`inp`"):
        gradient.attribute(TextTemplateInput("{} feels", ["he"]), target=TARGET)
    with pytest.raises(ValueError, match="`gen_args`"):
        LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(TextTemplateInput("{}", ["he"]), target=TARGET,
                                                                   gen_args={"max_new_tokens": 2})


def test_model_and_inputs_untouched(gpt2, tokenizer):
    state = {k: v.clone() for k, v in gpt2.state_dict().items()}
    inp = TextTokenInput("the cat sat", tokenizer)
    ids = inp.inp_tensor.clone()
    LLMGradientAttribution(LayerIntegratedGradients(gpt2, gpt2.transformer.wte), tokenizer).attribute(
        inp, target=TARGET, n_steps=4)
    LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(inp, target=TARGET)
    assert all(torch.equal(v, state[k]) for k, v in gpt2.state_dict().items())
    assert torch.equal(inp.inp_tensor, ids) and not gpt2.training
    assert not gpt2.transformer.wte._forward_hooks


def test_inspect_forward_reports_probabilities_of_each_prompt(gpt2, tokenizer):
    seen = []
    LLMAttribution(FeatureAblation(gpt2), tokenizer).attribute(
        TextTemplateInput("{} feels {}", ["he", "happy"]), target=TARGET,
        _inspect_forward=lambda prompt, response, probs: seen.append((prompt, response, probs)))
    prompts = {prompt for prompt, _, _ in seen}
    assert prompts == {"he feels happy", "feels happy", "he feels"} and seen[0][1] == TARGET
    for _, _, probs in seen:
        assert abs(probs[0] - probs[1] * probs[2] * probs[3]) < 1e-6 and all(0 < p < 1 for p in probs)
