"""Layer attribution: every input-space algorithm explained at a hidden layer, through one adapter."""

from veracity.attr.layer._adapter import LayerAttribution
from veracity.attr.layer.activation import LayerActivation, LayerGradientXActivation
from veracity.attr.layer.integrated import InternalInfluence, LayerConductance, LayerIntegratedGradients

__all__ = [
    "InternalInfluence",
    "LayerActivation",
    "LayerAttribution",
    "LayerConductance",
    "LayerGradientXActivation",
    "LayerIntegratedGradients",
]
