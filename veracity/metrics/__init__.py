"""Evaluation of attributions: can this explanation be trusted?

One subpackage per category (``faithfulness``, ``robustness``, ``localisation``, ``complexity``,
``axiomatic``, ``randomisation``, ``similarity``), each listing its public names in
``__all__``; :mod:`~veracity.metrics.grid` runs every method against every metric
(:func:`evaluate`), :mod:`veracity.metrics.plot` draws curves (import it explicitly; matplotlib
is optional). Captum's ``captum.metrics`` names (``infidelity``,
``infidelity_perturb_func_decorator``, ``sensitivity_max``) live in their categories and are
importable from here. The shared machinery is in the private ``_engine``.
"""

from veracity.metrics import (
    axiomatic,
    complexity,
    faithfulness,
    grid,
    localisation,
    randomisation,
    robustness,
    similarity,
)
from veracity.metrics.axiomatic import *  # noqa: F403
from veracity.metrics.complexity import *  # noqa: F403
from veracity.metrics.faithfulness import *  # noqa: F403
from veracity.metrics.grid import *  # noqa: F403
from veracity.metrics.localisation import *  # noqa: F403
from veracity.metrics.randomisation import *  # noqa: F403
from veracity.metrics.robustness import *  # noqa: F403
from veracity.metrics.similarity import *  # noqa: F403

__all__ = [
    name
    for package in (axiomatic, complexity, faithfulness, localisation, randomisation, robustness,
                    similarity, grid)
    for name in package.__all__
]
