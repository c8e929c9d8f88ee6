"""Faithfulness metrics: does removing what the explanation calls important change the output?

``curves`` (ordered removal: deletion/insertion, pixel flipping, selectivity, ABPC,
monotonicity), ``regions`` (region perturbation, IROF), ``remove_and_debias`` (ROAD),
``subsets`` (random or single-group perturbations: faithfulness correlation and estimate,
monotonicity correlation, sensitivity-n), ``confidence`` (average drop / increase, Gupta et
al.'s completeness and soundness, sufficiency) and ``captum_infidelity`` (Captum's
``infidelity``); all share the perturbation engine in :mod:`veracity.metrics._engine`.
"""

from veracity.metrics.faithfulness.captum_infidelity import infidelity, infidelity_perturb_func_decorator
from veracity.metrics.faithfulness.confidence import (
    average_drop,
    average_increase,
    mask_completeness,
    mask_soundness,
    sufficiency,
)
from veracity.metrics.faithfulness.curves import (
    CurveResult,
    abpc,
    deletion,
    insertion,
    monotonicity,
    pixel_flipping,
    selectivity,
)
from veracity.metrics.faithfulness.regions import irof, region_perturbation
from veracity.metrics.faithfulness.remove_and_debias import road
from veracity.metrics.faithfulness.subsets import (
    faithfulness_correlation,
    faithfulness_estimate,
    monotonicity_correlation,
    sensitivity_n,
)

__all__ = [
    "CurveResult", "deletion", "insertion", "pixel_flipping", "region_perturbation", "selectivity",
    "irof", "road", "abpc", "monotonicity",
    "faithfulness_correlation", "faithfulness_estimate", "monotonicity_correlation", "sensitivity_n",
    "average_drop", "average_increase", "mask_completeness", "mask_soundness", "sufficiency",
    "infidelity", "infidelity_perturb_func_decorator",
]
