"""Randomisation sanity checks: does the explanation depend on what the model learned?

``mprt`` (model parameter randomisation, Adebayo et al. 2018: layers re-initialised on a deep
copy, cascading or one at a time) and ``checks`` built on it (random logit, data randomisation,
SmoothMPRT, EfficientMPRT). Lower similarity = the method passes.
"""

from veracity.metrics.randomisation.checks import (
    data_randomisation_test,
    discrete_entropy,
    efficient_mprt,
    random_logit,
    smooth_mprt,
    smoothed_explain_func,
)
from veracity.metrics.randomisation.mprt import (
    RandomisationResult,
    model_parameter_randomisation,
    randomisable_layers,
    randomise_layer,
    randomised_models,
)

__all__ = [
    "RandomisationResult", "randomisable_layers", "randomise_layer", "randomised_models",
    "model_parameter_randomisation",
    "random_logit", "data_randomisation_test", "smooth_mprt", "efficient_mprt",
    "smoothed_explain_func", "discrete_entropy",
]
