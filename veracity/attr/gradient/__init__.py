"""Gradient attribution methods."""

from veracity.attr.gradient.integrated_gradients import IntegratedGradients
from veracity.attr.gradient.saliency import InputXGradient, Saliency

__all__ = ["IntegratedGradients", "InputXGradient", "Saliency"]
