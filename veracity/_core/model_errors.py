"""Errors about the model's input and output, told in the user's terms: the inputs as passed
(not the engine's stacked chunks) and the likely cause, e.g. a missing batch dimension."""

from __future__ import annotations

from typing import Any, NoReturn

from torch import Tensor

from veracity._core.validate import fail

NO_BATCH_HINT = ("If `inputs` is a single example, add the batch dimension first (x.unsqueeze(0)): "
                 "dimension 0 of every input indexes the examples.")


def _inputs_as_passed(shapes: tuple[tuple[int, ...], ...]) -> str:
    if not shapes:
        return "the inputs"
    if len(shapes) == 1:
        return f"inputs of shape {shapes[0]}"
    return "inputs of shapes " + ", ".join(str(s) for s in shapes)


def fail_rows(output: Tensor, rows: int, batch: int, user_shapes: tuple[tuple[int, ...], ...]) -> NoReturn:
    """The model's output does not have one row per input row: ``rows`` rows were ``rows // batch``
    stacked copies of the user's ``batch`` examples."""
    copies = max(rows // max(batch, 1), 1)
    shape = tuple(output.shape)
    if output.dim() and copies > 1 and shape[0] % copies == 0:
        got = f"an output of shape {(shape[0] // copies, *shape[1:])} per copy of the batch"
    else:
        got = f"an output of shape {shape}" + (f" for {copies} stacked copies of the batch" if copies > 1 else "")
    fail("inputs", f"tensors whose first dimension indexes the examples, with forward_func returning one output "
         f"row per example ({batch} for {_inputs_as_passed(user_shapes)})", f"{got}. {NO_BATCH_HINT}")


def explained(error: RuntimeError, rows: int, batch: int, user_shapes: tuple[tuple[int, ...], ...]) -> Exception:
    """A model error (shape mismatch inside the model) with the inputs as the user passed them."""
    copies = max(rows // max(batch, 1), 1)
    where = f" (the engine ran it on {copies} stacked copies of the batch, {rows} rows)" if copies > 1 else ""
    return RuntimeError(f"{error}\n\nforward_func failed on {_inputs_as_passed(user_shapes)}{where}. "
                        f"{NO_BATCH_HINT}")


def is_plain_runtime_error(error: Any) -> bool:
    """A RuntimeError of the model's own (not out-of-memory, which the chunking retries)."""
    return type(error) is RuntimeError
