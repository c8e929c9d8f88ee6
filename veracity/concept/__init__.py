"""Concept-based interpretation: TCAV with Captum 0.9's names, and the significance test.

``Concept``, ``CAV``, ``ConceptInterpreter``, ``TCAV``, ``Classifier`` and ``DefaultClassifier``
follow ``captum.concept``; :func:`tcav_significance` adds the paper's t-test against random
concepts with a Bonferroni correction, a result table and a plot.
"""

from veracity.concept.cav import CAV, model_fingerprint
from veracity.concept.classifier import Classifier, DefaultClassifier, SklearnClassifier
from veracity.concept.concept import Concept, ConceptInterpreter
from veracity.concept.significance import SignificanceRow, TCAVSignificance, tcav_significance
from veracity.concept.tcav import TCAV

__all__ = ["CAV", "Classifier", "Concept", "ConceptInterpreter", "DefaultClassifier", "SignificanceRow",
           "SklearnClassifier", "TCAV", "TCAVSignificance", "model_fingerprint", "tcav_significance"]
