"""Evaluation of attributions: can this explanation be trusted?

One module per category; each lists its public names in ``__all__``.
"""

from veracity.metrics import (
    axiomatic,
    captum_compat,
    complexity,
    evaluate,
    faithfulness,
    localisation,
    randomisation,
    robustness,
    similarity,
)
from veracity.metrics.axiomatic import *  # noqa: F403
from veracity.metrics.captum_compat import *  # noqa: F403
from veracity.metrics.complexity import *  # noqa: F403
from veracity.metrics.evaluate import *  # noqa: F403
from veracity.metrics.faithfulness import *  # noqa: F403
from veracity.metrics.localisation import *  # noqa: F403
from veracity.metrics.randomisation import *  # noqa: F403
from veracity.metrics.robustness import *  # noqa: F403
from veracity.metrics.similarity import *  # noqa: F403

__all__ = [
    *axiomatic.__all__, *captum_compat.__all__, *complexity.__all__, *evaluate.__all__,
    *faithfulness.__all__, *localisation.__all__, *randomisation.__all__, *robustness.__all__,
    *similarity.__all__,
]
