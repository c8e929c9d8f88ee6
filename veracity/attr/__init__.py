"""Captum-compatible attribution: ``from veracity.attr import IntegratedGradients``.

Each family lives in its own subpackage and lists its public names in ``__all__``; this
module re-exports them all.
"""

from veracity.attr import cam as _cam
from veracity.attr import gradient as _gradient
from veracity.attr import layer as _layer
from veracity.attr import llm as _llm
from veracity.attr import lrp as _lrp
from veracity.attr import neuron as _neuron
from veracity.attr import perturbation as _perturbation
from veracity.attr import summary as _summary
from veracity.attr import visualization
from veracity.attr._base import (
    Attribution,
    GradientAttribution,
    PerturbationAttribution,
)
from veracity.attr.cam import *  # noqa: F403
from veracity.attr.embedding import (
    InterpretableEmbeddingBase,
    ModelInputWrapper,
    TokenReferenceBase,
    configure_interpretable_embedding_layer,
    remove_interpretable_embedding_layer,
)
from veracity.attr.gradient import *  # noqa: F403
from veracity.attr.layer import *  # noqa: F403
from veracity.attr.llm import *  # noqa: F403
from veracity.attr.lrp import *  # noqa: F403
from veracity.attr.neuron import *  # noqa: F403
from veracity.attr.perturbation import *  # noqa: F403
from veracity.attr.summary import *  # noqa: F403

__all__ = ["Attribution", "GradientAttribution", "PerturbationAttribution", *_gradient.__all__,
           *_perturbation.__all__, *_layer.__all__, *_neuron.__all__, *_cam.__all__, *_lrp.__all__,
           "InterpretableEmbeddingBase", "ModelInputWrapper", "TokenReferenceBase",
           "configure_interpretable_embedding_layer", "remove_interpretable_embedding_layer", *_summary.__all__,
           "visualization", *_llm.__all__]
