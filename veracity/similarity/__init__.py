"""Explanations of a similarity between two inputs, for any embedding model.

Self-supervised, Siamese and retrieval models score *pairs*: ``s(g(x1), g(x2))`` for an
embedding model ``g``, cosine by default. Sammani, Joukovsky & Deligiannis ("Visualizing and
Understanding Self-Supervised Vision Learning", arXiv 2206.09753) explain that score with

* :class:`ConditionalOcclusion`: occlude windows of one view, the other held fixed;
* :class:`PairwiseOcclusion`: erase random boxes in both views at once, weight each erasure
  by the softmax of its similarity drop;
* :class:`InteractionCAM`: a CAM of the similarity at a layer, its channels weighted by what
  both views share.

:func:`plot_pair` draws the two views with their maps. (``veracity.metrics.similarity``
is another thing: it compares two attribution maps.)
"""

from veracity._core.similarity import cosine, dot
from veracity.similarity.interaction_cam import InteractionCAM
from veracity.similarity.occlusion import ConditionalOcclusion
from veracity.similarity.pairwise import PairwiseOcclusion
from veracity.similarity.plot import plot_pair

__all__ = ["ConditionalOcclusion", "InteractionCAM", "PairwiseOcclusion", "cosine", "dot", "plot_pair"]
