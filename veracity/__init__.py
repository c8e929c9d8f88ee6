"""veracity: model interpretability for PyTorch.

Captum-compatible attribution (``veracity.attr``) and fast, batched evaluation of whether
an explanation can be trusted. ``memory_budget`` / ``set_memory_budget`` bound (and, with
``tune=False``, fix) how many points go into one model call. ``attribute_dataset`` /
``evaluate_dataset`` run over a whole data set into a resumable store (:mod:`veracity.dataset`,
imported on first use).
"""

from typing import Any

from veracity._core.config import memory_budget, set_memory_budget

__version__ = "0.1.0"
__all__ = ["__version__", "attribute_dataset", "evaluate_dataset", "memory_budget", "set_memory_budget"]


def __getattr__(name: str) -> Any:
    """``attribute_dataset`` and ``evaluate_dataset`` from :mod:`veracity.dataset`, imported on first
    use (``import veracity`` stays cheap and needs no zarr)."""
    if name in ("attribute_dataset", "evaluate_dataset"):
        import veracity.dataset

        return getattr(veracity.dataset, name)
    raise AttributeError(f"module 'veracity' has no attribute {name!r}")
