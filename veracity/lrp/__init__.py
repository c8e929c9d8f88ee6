"""Layer-wise Relevance Propagation with Zennit's vocabulary, and Concept Relevance Propagation.

* rules (:mod:`veracity.lrp.rules`): ``Epsilon``, ``Gamma``, ``ZPlus``, ``AlphaBeta``,
  ``Alpha1Beta0``, ``Flat``, ``WSquare``, ``ZBox``, ``Pass``, ``Norm``;
* composites (:mod:`veracity.lrp.composites`): which module gets which rule, e.g.
  ``EpsilonPlusFlat(canonizers=[SequentialMergeBatchNorm()])``; use one with
  ``veracity.attr.LRP(model, composite=...)``;
* canonizers (:mod:`veracity.lrp.canonizers`): ``SequentialMergeBatchNorm``,
  ``MergeBatchNorm``, ``ResNetCanonizer``, ``CompositeCanonizer``;
* CRP (:mod:`veracity.lrp.crp`): ``conditional_relevance``, ``concept_relevance``,
  ``relevance_maximization``, and the concept atlas (:mod:`veracity.lrp.atlas`).

Example:
    >>> import torch
    >>> from veracity.attr import LRP
    >>> from veracity.data.toy import toy_cnn
    >>> model, x = toy_cnn()
    >>> LRP(model, composite=EpsilonPlusFlat()).attribute(x, target=0).shape
    torch.Size([2, 1, 8, 8])
"""

from veracity.lrp import atlas, canonizers, composites, crp, maximization, rules
from veracity.lrp.atlas import *  # noqa: F403
from veracity.lrp.canonizers import *  # noqa: F403
from veracity.lrp.composites import *  # noqa: F403
from veracity.lrp.crp import *  # noqa: F403
from veracity.lrp.maximization import *  # noqa: F403
from veracity.lrp.rules import *  # noqa: F403

__all__ = [*rules.__all__, *composites.__all__, *canonizers.__all__, *crp.__all__, *maximization.__all__,
           *atlas.__all__]
