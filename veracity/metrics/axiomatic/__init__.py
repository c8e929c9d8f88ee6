"""Axiomatic checks: completeness, non-sensitivity and input invariance."""

from veracity.metrics.axiomatic.axioms import completeness, input_invariance, non_sensitivity

__all__ = ["completeness", "non_sensitivity", "input_invariance"]
