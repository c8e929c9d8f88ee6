"""veracity: model interpretability for PyTorch.

Captum-compatible attribution (``veracity.attr``) and fast, batched evaluation of whether
an explanation can be trusted.
"""

from veracity._core.config import set_memory_budget

__version__ = "0.1.0"
__all__ = ["__version__", "set_memory_budget"]
