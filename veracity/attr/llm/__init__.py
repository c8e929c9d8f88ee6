"""Attribution for language models (Captum 0.9's LLM API): interpretable inputs,
LLMAttribution over perturbation methods, LLMGradientAttribution over layer gradient methods,
RemoteLLMAttribution over a server that returns log-probabilities, and LLMAttributionResult."""

from veracity.attr.llm.attribution import LLMAttribution, LLMGradientAttribution
from veracity.attr.llm.image_input import ImageMaskInput
from veracity.attr.llm.inputs import InterpretableInput, TextTemplateInput, TextTokenInput
from veracity.attr.llm.remote import (
    OpenAICompatibleProvider,
    RemoteLLMAttribution,
    RemoteLLMProvider,
    VLLMProvider,
)
from veracity.attr.llm.result import LLMAttributionResult

__all__ = ["InterpretableInput", "TextTemplateInput", "TextTokenInput", "ImageMaskInput", "LLMAttribution",
           "LLMGradientAttribution", "LLMAttributionResult", "RemoteLLMAttribution", "RemoteLLMProvider",
           "OpenAICompatibleProvider", "VLLMProvider"]
