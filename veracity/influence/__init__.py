"""Training-data influence (Captum's ``captum.influence``): TracIn over checkpoints (TracInCP,
TracInCPFast, TracInCPFastRandProj), influence functions (naive and Arnoldi) and similarity of
layer activations."""

from veracity.influence._data import KMostInfluentialResults, load_flexible_state_dict
from veracity.influence.base import DataInfluence, TracInCPBase
from veracity.influence.influence_function import ArnoldiInfluenceFunction, NaiveInfluenceFunction
from veracity.influence.similarity import SimilarityInfluence, cosine_similarity, euclidean_distance
from veracity.influence.tracincp import TracInCP
from veracity.influence.tracincp_fast import (
                                              FaissNearestNeighbors,
                                              TorchNearestNeighbors,
                                              TracInCPFast,
                                              TracInCPFastRandProj,
)

__all__ = [
    "ArnoldiInfluenceFunction", "DataInfluence", "FaissNearestNeighbors", "KMostInfluentialResults",
    "NaiveInfluenceFunction",
    "SimilarityInfluence", "TorchNearestNeighbors", "TracInCP", "TracInCPBase", "TracInCPFast",
    "TracInCPFastRandProj", "cosine_similarity", "euclidean_distance", "load_flexible_state_dict",
]
