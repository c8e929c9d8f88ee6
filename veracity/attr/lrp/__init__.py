"""Layer-wise Relevance Propagation with Captum's names: ``LRP``, ``LayerLRP`` and Captum's
rule classes (public here; Captum keeps them under a private path)."""

from veracity.attr.lrp.lrp import LRP, LayerLRP
from veracity.attr.lrp.rules import Alpha1_Beta0_Rule, EpsilonRule, GammaRule, IdentityRule, PropagationRule

__all__ = ["LRP", "LayerLRP", "PropagationRule", "EpsilonRule", "GammaRule", "Alpha1_Beta0_Rule", "IdentityRule"]
