"""Evaluation of attributions: can this explanation be trusted?

One module per category; each lists its public names in ``__all__``.

The submodules are bound here under private aliases only: the function
:func:`veracity.metrics.evaluate` shares its name with the module
``veracity.metrics.evaluate``, and the package attribute must be the function (the star import of
``veracity.metrics.evaluate`` below rebinds it from the submodule to the function).
"""

from veracity.metrics import axiomatic as _axiomatic
from veracity.metrics import captum_compat as _captum_compat
from veracity.metrics import complexity as _complexity
from veracity.metrics import evaluate as _evaluate_module
from veracity.metrics import faithfulness as _faithfulness
from veracity.metrics import localisation as _localisation
from veracity.metrics import randomisation as _randomisation
from veracity.metrics import robustness as _robustness
from veracity.metrics import similarity as _similarity
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
    name
    for module in (_axiomatic, _captum_compat, _complexity, _evaluate_module, _faithfulness,
                   _localisation, _randomisation, _robustness, _similarity)
    for name in module.__all__
]
