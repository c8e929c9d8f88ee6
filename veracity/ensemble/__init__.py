"""Ensembles of attribution maps (Borisov et al. 2021): mean, rank-mean, mean over standard
deviation, and the RBM ensemble with flip detection (a torch Bernoulli RBM)."""

from veracity.ensemble.combine import (
    mean_ensemble,
    normalise_maps,
    rank_mean_ensemble,
    stack_maps,
    variance_ensemble,
)
from veracity.ensemble.rbm import BernoulliRBM, RBMEnsemble, flip_preference, rbm_ensemble

__all__ = [
    "BernoulliRBM",
    "RBMEnsemble",
    "flip_preference",
    "mean_ensemble",
    "normalise_maps",
    "rank_mean_ensemble",
    "rbm_ensemble",
    "stack_maps",
    "variance_ensemble",
]
