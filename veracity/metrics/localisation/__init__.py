"""Localisation: does the explanation point at the ground-truth region (masks, mosaic tiles)?"""

from veracity.metrics.localisation.five_band import FiveBandResult, five_band_score
from veracity.metrics.localisation.ground_truth import (
    attribution_localisation,
    focus,
    pointing_game,
    relevance_mass_accuracy,
    relevance_rank_accuracy,
    roc_auc,
    top_k_intersection,
)

__all__ = ["pointing_game", "attribution_localisation", "top_k_intersection",
           "relevance_rank_accuracy", "relevance_mass_accuracy", "roc_auc", "focus",
           "five_band_score", "FiveBandResult"]
