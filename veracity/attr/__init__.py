"""Captum-compatible attribution: ``from veracity.attr import IntegratedGradients``.

Each family lives in its own subpackage and lists its public names in ``__all__``; this
module re-exports them all.
"""

from veracity.attr import gradient as _gradient
from veracity.attr import perturbation as _perturbation
from veracity.attr._base import (
    Attribution,
    GradientAttribution,
    PerturbationAttribution,
)
from veracity.attr.gradient import *  # noqa: F403
from veracity.attr.perturbation import *  # noqa: F403

__all__ = ["Attribution", "GradientAttribution", "PerturbationAttribution", *_gradient.__all__,
           *_perturbation.__all__]
