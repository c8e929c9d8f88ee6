"""A model fed from a DataLoader's batches: the attributed elements first, as the engine
stacks them, handed back to the model in the DataLoader's order."""

from __future__ import annotations

from typing import Any, Callable, Sequence


def reordered_forward(forward_func: Callable[..., Any], attributed: Sequence[int],
                      passed: Sequence[int]) -> Callable[..., Any]:
    """``forward_func`` called as ``f(*attributed_values, *passed_values)``: the values go back to
    their positions (``attributed`` and ``passed`` index the model's arguments) before the call.

    Example:
        >>> f = reordered_forward(lambda a, b, c: (a, b, c), attributed=[2, 0], passed=[1])
        >>> f("c", "a", "b")
        ('a', 'b', 'c')
    """
    positions = [*attributed, *passed]
    order = sorted(range(len(positions)), key=positions.__getitem__)

    def forward(*values: Any) -> Any:
        return forward_func(*(values[i] for i in order))

    return forward
