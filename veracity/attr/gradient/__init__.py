"""Gradient attribution methods."""

from veracity.attr.gradient.blur_ig import BlurIntegratedGradients
from veracity.attr.gradient.deeplift import DeepLift, DeepLiftShap
from veracity.attr.gradient.geometric_ig import GeometricallyGuidedIntegratedGradients
from veracity.attr.gradient.gradient_shap import GradientShap
from veracity.attr.gradient.guided import Deconvolution, GuidedBackprop
from veracity.attr.gradient.guided_ig import GuidedIntegratedGradients
from veracity.attr.gradient.integrated_gradients import IntegratedGradients
from veracity.attr.gradient.noise_tunnel import NoiseTunnel
from veracity.attr.gradient.saliency import InputXGradient, Saliency
from veracity.attr.gradient.split_ig import SplitIntegratedGradients, SplitResult

__all__ = [
    "BlurIntegratedGradients",
    "Deconvolution",
    "DeepLift",
    "DeepLiftShap",
    "GeometricallyGuidedIntegratedGradients",
    "GradientShap",
    "GuidedBackprop",
    "GuidedIntegratedGradients",
    "IntegratedGradients",
    "InputXGradient",
    "NoiseTunnel",
    "Saliency",
    "SplitIntegratedGradients",
    "SplitResult",
]
