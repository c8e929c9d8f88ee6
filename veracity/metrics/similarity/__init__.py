"""Similarity of two batches of attribution maps, one score per example (higher = more alike).

Used by the randomisation sanity checks (Adebayo et al., "Sanity Checks for Saliency Maps",
NeurIPS 2018) and the robustness metrics. Every function takes two tensors of the same shape
``(batch, ...)`` and returns a ``(batch,)`` tensor on their device. A constant map has no
defined correlation: the correlations return NaN for it (documented, never a silent 0).
``correlations``: Pearson, Spearman, ranks, histogram correlation, top-k overlap;
``images``: SSIM and HOG.
"""

from veracity.metrics.similarity.correlations import (
    against_reference,
    gradient_histogram_correlation,
    pearson,
    rank,
    spearman,
    spearman_abs,
    top_k_overlap,
)
from veracity.metrics.similarity.images import hog, hog_similarity, ssim

__all__ = [
    "pearson", "spearman", "spearman_abs", "rank", "ssim", "hog", "hog_similarity",
    "gradient_histogram_correlation", "top_k_overlap", "against_reference",
]
