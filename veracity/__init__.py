"""veracity: model interpretability for PyTorch.

Captum-compatible attribution (``veracity.attr``) and fast, batched evaluation of whether
an explanation can be trusted. ``memory_budget`` / ``set_memory_budget`` bound (and, with
``tune=False``, fix) how many points go into one model call.
"""

from veracity._core.config import memory_budget, set_memory_budget

__version__ = "0.1.0"
__all__ = ["__version__", "memory_budget", "set_memory_budget"]
