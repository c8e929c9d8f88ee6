"""Concepts (named sets of examples) and the interface of concept-based interpreters."""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch import Tensor, nn

from veracity._core.validate import fail


class Concept:
    """A human-friendly idea illustrated by examples: ``data_iter`` yields batches of inputs.

    Captum's ``Concept(id, name, data_iter)``. ``data_iter`` is a DataLoader (or any iterable)
    of input batches (a tensor, or a tuple/list of tensors for models with several inputs);
    a tensor is accepted as one batch. Ids key the CAV cache, so one id means one concept.

    Example:
        >>> import torch
        >>> stripes = Concept(0, "stripes", torch.zeros(5, 3))
        >>> stripes.identifier, stripes
        ('stripes-0', Concept(0, 'stripes'))
    """

    def __init__(self, id: int, name: str, data_iter: Any) -> None:
        self.id = id
        self.name = name
        self.data_iter = data_iter

    @property
    def identifier(self) -> str:
        return f"{self.name}-{self.id}"

    def __repr__(self) -> str:
        return f"Concept({self.id!r}, {self.name!r})"


def concept_batches(concept: Concept) -> Iterator[tuple[Tensor, ...]]:
    """The concept's batches as tuples of tensors; a clear error when there is nothing to read."""
    source = concept.data_iter
    if source is None:
        fail("experimental_sets", "concepts with examples (a DataLoader or a tensor as data_iter)",
             f"{concept!r} whose data_iter is None")
    batches = [source] if isinstance(source, Tensor) else source
    count = 0
    for batch in batches:
        parts = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
        if not parts or not all(isinstance(p, Tensor) for p in parts):
            fail("experimental_sets", "concept batches that are tensors or tuples of tensors",
                 f"a batch of {concept!r} that is {type(batch).__name__}", TypeError)
        if parts[0].shape[0] == 0:
            continue
        count += parts[0].shape[0]
        yield parts
    if count == 0:
        fail("experimental_sets", "concepts with at least one example", f"{concept!r} with no examples")


class ConceptInterpreter:
    """Base of concept-based interpreters (Captum's): holds the model; ``interpret`` computes.

    Example:
        >>> import torch
        >>> ConceptInterpreter(torch.nn.Linear(2, 1)).model
        Linear(in_features=2, out_features=1, bias=True)
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def interpret(self, inputs: Tensor | tuple[Tensor, ...], *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def check_sets(experimental_sets: Any) -> list[list[Concept]]:
    """Lists of at least two distinct concepts; one instance per id across all sets."""
    if not isinstance(experimental_sets, (list, tuple)) or not experimental_sets:
        fail("experimental_sets", "a non-empty list of lists of Concept", experimental_sets, TypeError)
    by_id: dict[int, Concept] = {}
    result = []
    for position, concepts in enumerate(experimental_sets):
        if not isinstance(concepts, (list, tuple)) or not all(isinstance(c, Concept) for c in concepts):
            fail("experimental_sets", "a list of lists of Concept",
                 f"entry {position}: {type(concepts).__name__} {concepts!r}", TypeError)
        if len(concepts) < 2:
            fail("experimental_sets", "sets of at least two concepts (a concept against random or other concepts)",
                 f"set {position} with {len(concepts)} concept(s) {list(concepts)}")
        ids = [c.id for c in concepts]
        if len(set(ids)) != len(ids):
            fail("experimental_sets", "distinct concepts in each set", f"set {position} with ids {ids}")
        for concept in concepts:
            known = by_id.setdefault(concept.id, concept)
            if known is not concept and (known.name != concept.name or known.data_iter is not concept.data_iter):
                fail("experimental_sets", "one Concept per id (ids key the CAV cache)",
                     f"{known!r} and {concept!r} sharing id {concept.id}")
        result.append(list(concepts))
    return result


def sets_key(concepts: list[Concept]) -> str:
    """``'0-1'``: the concept ids joined by hyphens (Captum's key of an experimental set)."""
    return "-".join(str(c.id) for c in concepts)


def stack_batches(batches: list[tuple[Tensor, ...]]) -> tuple[Tensor, ...]:
    return tuple(torch.cat(column) for column in zip(*batches))
