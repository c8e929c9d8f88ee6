"""Faithfulness metrics: does removing what the explanation calls important change the output?

The metrics live in ``faithfulness_curves`` (ordered removal: deletion/insertion, pixel
flipping, region perturbation, selectivity, IROF, ROAD, ABPC, monotonicity),
``faithfulness_subsets`` (random or single-group perturbations: faithfulness correlation and
estimate, monotonicity correlation, sensitivity-n) and ``faithfulness_confidence`` (average
drop / increase, Gupta et al.'s completeness and soundness, sufficiency); all share the
perturbation engine in ``_perturbation_curves``. This module re-exports them.
"""

from veracity.metrics import faithfulness_confidence as _confidence
from veracity.metrics import faithfulness_curves as _curves
from veracity.metrics import faithfulness_subsets as _subsets
from veracity.metrics.faithfulness_confidence import *  # noqa: F403
from veracity.metrics.faithfulness_curves import *  # noqa: F403
from veracity.metrics.faithfulness_subsets import *  # noqa: F403

__all__ = [*_curves.__all__, *_subsets.__all__, *_confidence.__all__]
