"""Explanation vs prediction as a causal question (Karimi, Muandet, Kornblith, Schölkopf, Kim,
"On the Relationship Between Explanation and Prediction: A Causal View", ICML 2023).

Training hyperparameters (``seed``, ``learning_rate``, ``width``, ``data_order``, ``epochs``,
``train_fraction``) are treatments. :func:`train_grid` trains one small digits model per
setting of a :class:`TreatmentGrid`; :func:`explain_grid` explains and predicts a fixed
evaluation set with each; :func:`estimate_effects` gives each treatment's average effect on
explanations and on predictions over pairs of models that differ in it alone, and how much of
the explanation's change the prediction's change explains (Spearman and R^2 across units);
:func:`explanation_vs_prediction` does all three.
"""

from veracity.causal.effects import (
    EXPLANATION_DISTANCES,
    PREDICTION_DISTANCES,
    estimate_effects,
    explanation_distance,
    prediction_distance,
)
from veracity.causal.grid import TREATMENTS, TreatmentGrid, pairs_differing_in
from veracity.causal.result import AccuracyBin, ExplanationPredictionResult, TreatmentEffect
from veracity.causal.study import explain_grid, explanation_vs_prediction
from veracity.causal.training import DigitsMLP, ModelGrid, accuracy_on, train_grid, train_setting

__all__ = [
    "TREATMENTS", "TreatmentGrid", "pairs_differing_in", "DigitsMLP", "ModelGrid", "train_setting", "train_grid",
    "accuracy_on", "explain_grid", "estimate_effects", "explanation_distance", "prediction_distance",
    "EXPLANATION_DISTANCES", "PREDICTION_DISTANCES", "TreatmentEffect", "AccuracyBin",
    "ExplanationPredictionResult", "explanation_vs_prediction",
]
