"""LLMAttribution / LLMGradientAttribution against Captum 0.9 on the same calls (tiny GPT-2,
word-level tokenizer, both built offline) and against log-probabilities computed directly.

Captum's default decoding (``use_cached_outputs=True``) gives wrong log-probabilities for every
target token after the first under transformers 5 (pinned below): the parity tests use its
uncached token-by-token path, which equals the model's true log-probabilities.
"""

from __future__ import annotations

import pytest
import torch

captum_attr = pytest.importorskip("captum.attr")

from veracity import attr as V  # noqa: E402
from veracity.attr.llm import LLMAttribution, LLMGradientAttribution, TextTemplateInput, TextTokenInput  # noqa: E402

TARGET = "it was good"
TEMPLATE = ("{} feels {} right {}", ["he", "happy", "now"], ["she", "sad", "today"])
NAMED = ("{who} feels {how} {when}", {"who": "he", "how": "very happy", "when": "today"},
         {"who": "she", "how": "sad", "when": "now"})


def _log_probs(model, tokenizer, prompt_ids, target=TARGET):
    target_ids = torch.tensor(tokenizer.encode(target))
    ids = torch.cat([prompt_ids, target_ids]).unsqueeze(0)
    with torch.no_grad():
        logits = model(ids).logits[0, len(prompt_ids) - 1:-1].log_softmax(-1)
    return logits[torch.arange(len(target_ids)), target_ids]


def _inputs(kind, tokenizer, method="FeatureAblation", **options):
    if kind == "template":
        template, values, baselines = TEMPLATE
        return [cls(template, values, baselines=baselines, **options)
                for cls in (captum_attr.TextTemplateInput, TextTemplateInput)]
    if kind == "named":
        template, values, baselines = NAMED
        return [cls(template, values, baselines=baselines, mask={"who": 0, "how": 1, "when": 0})
                for cls in (captum_attr.TextTemplateInput, TextTemplateInput)]
    return [cls("the cat sat on the mat" if method == "FeatureAblation" else "the cat sat on", tokenizer, **options)
            for cls in (captum_attr.TextTokenInput, TextTokenInput)]


@pytest.mark.parametrize("method", ["FeatureAblation", "ShapleyValues"])
@pytest.mark.parametrize("kind", ["template", "named", "tokens"])
def test_perturbation_parity_with_captum(gpt2, tokenizer, method, kind):
    options = {"skip_tokens": ["the"], "baselines": "[PAD]"} if kind == "tokens" else {}
    theirs_inp, ours_inp = _inputs(kind, tokenizer, method, **options)
    theirs = captum_attr.LLMAttribution(getattr(captum_attr, method)(gpt2), tokenizer).attribute(
        theirs_inp, target=TARGET, use_cached_outputs=False)
    ours = LLMAttribution(getattr(V, method)(gpt2), tokenizer).attribute(ours_inp, target=TARGET)
    assert ours.input_tokens == theirs.input_tokens and ours.output_tokens == theirs.output_tokens
    torch.testing.assert_close(ours.seq_attr, theirs.seq_attr, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.token_attr, theirs.token_attr, atol=1e-5, rtol=0)


def test_prob_target_parity(gpt2, tokenizer):
    theirs_inp, ours_inp = _inputs("template", tokenizer)
    theirs = captum_attr.LLMAttribution(captum_attr.FeatureAblation(gpt2), tokenizer, attr_target="prob").attribute(
        theirs_inp, target=TARGET, use_cached_outputs=False)
    ours = LLMAttribution(V.FeatureAblation(gpt2), tokenizer, attr_target="prob").attribute(ours_inp, target=TARGET)
    torch.testing.assert_close(ours.token_attr, theirs.token_attr, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.seq_attr, theirs.seq_attr, atol=1e-7, rtol=0)


def test_captum_cached_decoding_is_off_under_transformers_5(gpt2, tokenizer):
    """Why the parity tests pass use_cached_outputs=False: Captum's default path scores the
    second and later target tokens wrongly; ours equals the direct log-probabilities."""
    seen = []
    captum_attr.LLMAttribution(captum_attr.FeatureAblation(gpt2), tokenizer).attribute(
        captum_attr.TextTokenInput("the cat sat on", tokenizer), target=TARGET,
        _inspect_forward=lambda prompt, response, probs: seen.append(probs))
    truth = _log_probs(gpt2, tokenizer, torch.tensor(tokenizer.encode("the cat sat on")))
    captum_logs = torch.tensor(seen[0][1:]).log()
    assert abs(float(captum_logs[0] - truth[0])) < 1e-5
    assert float((captum_logs[1:] - truth[1:]).abs().max()) > 1e-3


def test_ablation_equals_direct_log_prob_differences(gpt2, tokenizer):
    text = "the cat sat on the mat"
    ids = torch.tensor(tokenizer.encode(text))
    result = LLMAttribution(V.FeatureAblation(gpt2), tokenizer).attribute(TextTokenInput(text, tokenizer),
                                                                         target=TARGET)
    full = _log_probs(gpt2, tokenizer, ids)
    for i in range(len(ids)):
        ablated = ids.clone()
        ablated[i] = 0
        expected = full - _log_probs(gpt2, tokenizer, ablated)
        torch.testing.assert_close(result.token_attr[:, i], expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(result.seq_attr[i], expected.sum(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", ["LayerIntegratedGradients", "LayerGradientXActivation"])
def test_gradient_parity_with_captum(gpt2, tokenizer, method):
    kwargs = {"n_steps": 20} if method == "LayerIntegratedGradients" else {}
    theirs = captum_attr.LLMGradientAttribution(getattr(captum_attr, method)(gpt2, gpt2.transformer.wte),
                                                tokenizer).attribute(
        captum_attr.TextTokenInput("the cat sat on the mat", tokenizer, skip_tokens=["mat"]), target=TARGET, **kwargs)
    ours = LLMGradientAttribution(getattr(V, method)(gpt2, gpt2.transformer.wte), tokenizer).attribute(
        TextTokenInput("the cat sat on the mat", tokenizer, skip_tokens=["mat"]), target=TARGET, **kwargs)
    assert ours.input_tokens == theirs.input_tokens
    torch.testing.assert_close(ours.token_attr, theirs.token_attr, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.seq_attr, theirs.seq_attr, atol=1e-5, rtol=0)


def test_integrated_gradients_completeness(gpt2, tokenizer):
    """Each target token's attributions sum to log p(token | prompt) - log p(token | baseline
    prompt), the earlier target tokens given in both (to 2e-3 at 64 Gauss-Legendre steps)."""
    text = "the cat sat on the mat"
    ids = torch.tensor(tokenizer.encode(text))
    result = LLMGradientAttribution(V.LayerIntegratedGradients(gpt2, gpt2.transformer.wte), tokenizer).attribute(
        TextTokenInput(text, tokenizer), target=TARGET, n_steps=64)
    expected = _log_probs(gpt2, tokenizer, ids) - _log_probs(gpt2, tokenizer, torch.zeros_like(ids))
    torch.testing.assert_close(result.token_attr.sum(1), expected, atol=2e-3, rtol=0)
    torch.testing.assert_close(result.seq_attr.sum(), expected.sum(), atol=5e-3, rtol=0)


def test_gradient_shap_runs_and_is_seeded(gpt2, tokenizer):
    llm = LLMGradientAttribution(V.LayerGradientShap(gpt2, gpt2.transformer.wte), tokenizer)
    inp = TextTokenInput("the cat sat", tokenizer)
    runs = [llm.attribute(inp, target="on", baselines=torch.zeros(2, 3), n_samples=4,
                          generator=torch.Generator().manual_seed(1)) for _ in range(2)]
    torch.testing.assert_close(runs[0].token_attr, runs[1].token_attr)
    assert runs[0].token_attr.shape == (1, 3) and bool(runs[0].token_attr.abs().sum() > 0)
