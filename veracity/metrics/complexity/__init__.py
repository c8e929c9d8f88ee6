"""Complexity: how concentrated (sparse, low-entropy) is the explanation?"""

from veracity.metrics.complexity.measures import complexity_entropy, effective_complexity, sparseness

__all__ = ["sparseness", "complexity_entropy", "effective_complexity"]
