"""``ProductBaselines``: baselines drawn from the Cartesian product of per-feature options."""

from __future__ import annotations

import random
from typing import Any

from veracity._core.validate import fail


class ProductBaselines:
    """A callable that returns one random baseline combination: for each feature, one of its
    options (Captum 0.9's ``ProductBaselines``, e.g. for ``TextTemplateInput`` baselines).

    ``baseline_values`` is a list of option lists (a sample is a list) or a dict from feature
    name to options (a sample is a dict); a tuple of names as key groups features whose
    baselines go together, its options being tuples. Draws use Python's ``random`` (as Captum's,
    so ``random.seed`` makes them repeatable) unless ``seed`` (an addition) gives this object
    its own generator.

    Example:
        >>> baselines = ProductBaselines({"name": ["Alex", "Sam"], ("city", "country"): [("Paris", "France")]},
        ...                              seed=0)
        >>> sorted(baselines())
        ['city', 'country', 'name']
        >>> baselines()["country"]
        'France'
    """

    def __init__(self, baseline_values: list[list[Any]] | dict[str | tuple[str, ...], list[Any]], *,
                 seed: int | None = None) -> None:
        items: list[tuple[Any, Any]]
        if isinstance(baseline_values, dict):
            items = list(baseline_values.items())
        elif isinstance(baseline_values, list):
            items = list(enumerate(baseline_values))
        else:
            fail("baseline_values", "a list of option lists or a dict of them", baseline_values, TypeError)
        for key, options in items:
            if not isinstance(options, (list, tuple)) or not options:
                fail("baseline_values", f"a non-empty list of options for {key!r}", options, TypeError)
            if isinstance(key, tuple) and any(not isinstance(o, tuple) or len(o) != len(key) for o in options):
                fail("baseline_values", f"options of {len(key)} values (tuples) for the grouped key {key!r}",
                     options, TypeError)
        self.baseline_values = baseline_values
        self._rng = random.Random(seed) if seed is not None else None

    def _choice(self, options: list[Any]) -> Any:
        return (self._rng or random).choice(options)

    def sample(self) -> list[Any] | dict[str, Any]:
        """One combination: a list (list form) or a dict by feature name (dict form)."""
        if isinstance(self.baseline_values, list):
            return [self._choice(options) for options in self.baseline_values]
        result: dict[str, Any] = {}
        for key, options in self.baseline_values.items():
            picked = self._choice(options)
            if isinstance(key, tuple):
                result.update(zip(key, picked))
            else:
                result[key] = picked
        return result

    def __call__(self) -> list[Any] | dict[str, Any]:
        return self.sample()
