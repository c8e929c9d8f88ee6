"""Training hyperparameters as treatments: the grid of settings and the pairs that differ in one.

Karimi, Muandet, Kornblith, Schölkopf, Kim, "On the Relationship Between Explanation and
Prediction: A Causal View" (ICML 2023): a hyperparameter ``h`` is a treatment; two models
trained with ``h_a`` and ``h_b`` and every other hyperparameter equal are the two arms of one
intervention on ``h``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from veracity._core.validate import describe, fail

# treatment -> (default, description); the default is used when the grid does not vary it
TREATMENTS: dict[str, tuple[Any, str]] = {
    "seed": (0, "seed of the weight initialisation"),
    "learning_rate": (1e-2, "Adam learning rate"),
    "width": (32, "hidden units of the MLP"),
    "data_order": (0, "seed of the minibatch order"),
    "epochs": (10, "passes over the training set"),
    "train_fraction": (1.0, "fraction of the training set used (a fixed seeded subset)"),
}
_INTEGER = {"seed", "width", "data_order", "epochs"}


def _check_value(name: str, value: Any) -> Any:
    if name in _INTEGER:
        minimum = 1 if name in ("width", "epochs") else 0
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            fail(f"treatments[{name!r}]", f"integers >= {minimum}", value)
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        fail(f"treatments[{name!r}]", "positive numbers", value)
    if name == "train_fraction" and value > 1:
        fail(f"treatments[{name!r}]", "fractions in (0, 1]", value)
    return float(value)


@dataclass(frozen=True)
class TreatmentGrid:
    """The full factorial grid over the values of each treatment; the others keep their defaults.

    ``treatments`` maps a name of :data:`TREATMENTS` (``seed``, ``learning_rate``, ``width``,
    ``data_order``, ``epochs``, ``train_fraction``) to the values it takes; ``fixed`` overrides
    defaults of treatments that do not vary.

    Example:
        >>> grid = TreatmentGrid({"seed": [0, 1], "width": [8, 16]})
        >>> len(grid), grid.configs()[1]["width"], grid.varied
        (4, 16, ('seed', 'width'))
    """

    treatments: Mapping[str, Sequence[Any]]
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.treatments, Mapping) or not self.treatments:
            fail("treatments", "a non-empty dict of treatment name -> values", self.treatments)
        if not isinstance(self.fixed, Mapping):
            fail("fixed", "a dict of treatment name -> value", self.fixed, TypeError)
        for argument, names in (("treatments", self.treatments), ("fixed", self.fixed)):
            unknown = sorted(set(names) - set(TREATMENTS), key=str)
            if unknown:
                fail(argument, "treatment names among " + ", ".join(TREATMENTS), ", ".join(map(repr, unknown)))
        clean: dict[str, tuple[Any, ...]] = {}
        for name, values in self.treatments.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                fail(f"treatments[{name!r}]", "a non-empty list of values", describe(values))
            checked = tuple(_check_value(name, v) for v in values)
            if len(set(checked)) != len(checked):
                fail(f"treatments[{name!r}]", "distinct values", describe(list(values)))
            clean[name] = checked
        both = sorted(set(self.fixed) & set(clean))
        if both:
            fail("fixed", "treatments that the grid does not vary", ", ".join(map(repr, both)))
        object.__setattr__(self, "treatments", clean)
        object.__setattr__(self, "fixed", {k: _check_value(k, v) for k, v in self.fixed.items()})

    @property
    def varied(self) -> tuple[str, ...]:
        """The treatments with more than one value, in the grid's order."""
        return tuple(name for name, values in self.treatments.items() if len(values) > 1)

    def __len__(self) -> int:
        count = 1
        for values in self.treatments.values():
            count *= len(values)
        return count

    def configs(self) -> list[dict[str, Any]]:
        """Every setting of the grid (last treatment varies fastest), each a full dict of
        every treatment of :data:`TREATMENTS`."""
        base = {name: default for name, (default, _) in TREATMENTS.items()}
        base.update(self.fixed)
        names = list(self.treatments)
        return [{**base, **dict(zip(names, combo))} for combo in itertools.product(*self.treatments.values())]


def pairs_differing_in(configs: Sequence[Mapping[str, Any]], treatment: str) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of settings that differ in ``treatment`` only.

    Example:
        >>> configs = TreatmentGrid({"seed": [0, 1], "width": [8, 16]}).configs()
        >>> pairs_differing_in(configs, "seed")
        [(0, 2), (1, 3)]
    """
    if treatment not in TREATMENTS:
        fail("treatment", "a treatment name among " + ", ".join(TREATMENTS), repr(treatment))
    others = [name for name in TREATMENTS if name != treatment]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, config in enumerate(configs):
        groups.setdefault(tuple(config.get(name) for name in others), []).append(index)
    pairs = [(i, j) for members in groups.values() for i, j in itertools.combinations(members, 2)
             if configs[i].get(treatment) != configs[j].get(treatment)]
    return sorted(pairs)
