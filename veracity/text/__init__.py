"""Text models: Hugging Face helpers (the ``text`` extra), MiniLM offline, text sanity checks,
token heatmaps. Submodules import ``transformers`` only when they build or load a model."""

from veracity.attr.llm.render import token_heatmap_html, token_heatmap_terminal, token_table_html
from veracity.text.classifier import SentenceClassifier, encode_batch, train_classifier
from veracity.text.data import sentiment_sentences
from veracity.text.decoder import score_continuations
from veracity.text.explain import TokenExplanation, embedding_attributions, explain_tokens, merge_subwords
from veracity.text.minilm import SentenceEncoder, SentenceSimilarity, load_minilm, mean_pool, minilm_path
from veracity.text.sanity import TextSanityResult, text_sanity_check

__all__ = ["token_heatmap_html", "token_heatmap_terminal", "token_table_html", "SentenceClassifier",
           "encode_batch", "train_classifier", "sentiment_sentences", "score_continuations", "TokenExplanation",
           "embedding_attributions", "explain_tokens", "merge_subwords", "SentenceEncoder", "SentenceSimilarity",
           "load_minilm", "mean_pool", "minilm_path", "TextSanityResult", "text_sanity_check"]
