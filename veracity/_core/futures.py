"""Forward functions that return ``torch.futures.Future`` (Captum's ``attribute_future``)."""

from __future__ import annotations

from typing import Any, Callable

import torch


def waiting_on_futures(forward_func: Callable[..., Any]) -> Callable[..., Any]:
    """``forward_func`` whose ``Future`` results are waited on: the engine gets the value.

    Example:
        >>> import torch
        >>> def remote(x):
        ...     future = torch.futures.Future()
        ...     future.set_result(2 * x)
        ...     return future
        >>> waiting_on_futures(remote)(torch.ones(2)).tolist()
        [2.0, 2.0]
    """

    def forward(*args: Any, **kwargs: Any) -> Any:
        output = forward_func(*args, **kwargs)
        return output.wait() if isinstance(output, torch.futures.Future) else output

    return forward


def completed_future(value: Any) -> torch.futures.Future:
    """A ``Future`` already holding ``value``."""
    future: torch.futures.Future = torch.futures.Future()
    future.set_result(value)
    return future
