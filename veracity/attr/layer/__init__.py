"""Layer attribution: every input-space algorithm explained at a hidden layer, through one adapter."""

from veracity.attr.layer.activation import LayerActivation, LayerGradientXActivation
from veracity.attr.layer.adapter import LayerAttribution
from veracity.attr.layer.deeplift import LayerDeepLift, LayerDeepLiftShap
from veracity.attr.layer.gradient_shap import LayerGradientShap
from veracity.attr.layer.integrated import InternalInfluence, LayerConductance, LayerIntegratedGradients
from veracity.attr.layer.perturbation import LayerFeatureAblation, LayerFeaturePermutation

__all__ = [
    "InternalInfluence",
    "LayerActivation",
    "LayerAttribution",
    "LayerConductance",
    "LayerDeepLift",
    "LayerDeepLiftShap",
    "LayerFeatureAblation",
    "LayerFeaturePermutation",
    "LayerGradientShap",
    "LayerGradientXActivation",
    "LayerIntegratedGradients",
]
