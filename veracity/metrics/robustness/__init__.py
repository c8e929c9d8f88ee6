"""Robustness: does the explanation stay put when the input barely moves?

``sensitivity`` (max / average sensitivity, local Lipschitz estimate, relative input, output and
representation stability, top-k intersection and rank correlation under noise),
``continuity_and_consistency`` and ``captum_sensitivity`` (Captum's ``sensitivity_max``); the
perturbed copies are explained in budgeted chunks by :mod:`veracity.metrics._engine.perturbed`.
"""

from veracity.metrics.robustness.captum_sensitivity import sensitivity_max
from veracity.metrics.robustness.continuity_and_consistency import consistency, continuity
from veracity.metrics.robustness.sensitivity import (
    avg_sensitivity,
    local_lipschitz_estimate,
    max_sensitivity,
    rank_correlation_under_perturbation,
    relative_input_stability,
    relative_output_stability,
    relative_representation_stability,
    top_k_intersection_under_perturbation,
)

__all__ = [
    "max_sensitivity", "avg_sensitivity", "local_lipschitz_estimate", "continuity", "consistency",
    "relative_input_stability", "relative_output_stability", "relative_representation_stability",
    "top_k_intersection_under_perturbation", "rank_correlation_under_perturbation",
    "sensitivity_max",
]
