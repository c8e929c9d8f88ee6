"""Model calls for training-data influence: per-example loss gradients as one matrix, the last
layer's input activations and output gradients (TracInCPFast), loss Hessians and
Hessian-vector products (influence functions).

Every function takes the model to differentiate (``veracity.influence`` hands in its own working
copy with a checkpoint loaded, never the user's), a batch of inputs and labels, and a loss that
gives one value per example. Per-example gradients come from
:func:`veracity._core.parameters.parameter_gradients` (one vectorised call per chunk).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

from veracity._core.inputs import call_forward
from veracity._core.parameters import parameter_gradients, select_parameters
from veracity._core.validate import fail

PerExampleLoss = Callable[[Tensor, Any], Tensor]


def gradient_matrix(model: nn.Module, inputs: tuple[Tensor, ...], labels: Any, loss_fn: PerExampleLoss,
                    parameters: list[str] | None = None) -> Tensor:
    """Per-example gradients of ``loss_fn(model(*inputs), labels)`` with respect to
    ``parameters`` (all that require grad when None), flattened and joined: ``(batch, P)``.
    The batch is one vectorised call: its size is the caller's memory choice (Captum's
    ``batch_size``), as the result holds ``batch * P`` numbers anyway."""
    grads = parameter_gradients(model, inputs, loss_fn=loss_fn, labels=labels, parameters=parameters,
                                per_example=True, chunk_rows=inputs[0].shape[0])
    batch = inputs[0].shape[0]
    return torch.cat([g.reshape(batch, -1) for g in grads.values()], dim=1)


def layer_input_and_output_gradient(model: nn.Module, layer: nn.Module, inputs: tuple[Tensor, ...], labels: Any,
                                    loss_of: Callable[[Tensor, Any], Tensor]) -> tuple[Tensor, Tensor]:
    """For a linear ``layer``: its input activations ``(batch, in)`` and the gradient of the
    summed loss ``loss_of(outputs, labels)`` with respect to its output ``(batch, out)``; one
    forward and one backward for the batch. The hook is removed on exit, also on error."""
    seen: list[tuple[Tensor, Tensor]] = []

    def record(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if not isinstance(output, Tensor) or not args or not isinstance(args[0], Tensor):
            fail("final_fc_layer", "a layer with one tensor input and one tensor output", describe_module(module))
        seen.append((args[0], output))

    handle = layer.register_forward_hook(record)
    try:
        with torch.enable_grad():
            outputs = call_forward(model, inputs, ())
            if len(seen) != 1:
                fail("final_fc_layer", "a layer the model calls exactly once per forward",
                     f"{len(seen)} calls of {describe_module(layer)}")
            activation, layer_output = seen[0]
            loss = loss_of(outputs, labels)
            if not loss.requires_grad:
                fail("loss_fn", "a loss that depends on the model outputs through autograd", loss)
            (output_grad,) = torch.autograd.grad(loss.sum(), layer_output)
    finally:
        handle.remove()
    batch = inputs[0].shape[0]
    return activation.detach().reshape(batch, -1), output_grad.reshape(batch, -1)


def describe_module(module: nn.Module) -> str:
    return f"module {type(module).__name__}"


def loss_hessian(model: nn.Module, inputs: tuple[Tensor, ...], labels: Any, loss_fn: PerExampleLoss,
                 parameters: list[str] | None = None) -> Tensor:
    """Hessian ``(P, P)`` of the summed per-example loss of a batch with respect to the chosen
    parameters (flattened in ``named_parameters()`` order), by ``torch.func.hessian``."""
    chosen = select_parameters(model, parameters)
    frozen = {n: p.detach() for n, p in model.named_parameters() if n not in chosen}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    shapes = [(n, p.shape, p.numel()) for n, p in chosen.items()]
    flat = torch.cat([p.detach().reshape(-1) for p in chosen.values()])

    def total_loss(vector: Tensor) -> Tensor:
        leaves, start = {}, 0
        for name, shape, size in shapes:
            leaves[name] = vector[start:start + size].reshape(shape)
            start += size
        outputs = functional_call(model, (leaves, frozen, buffers), inputs)
        return loss_fn(outputs, labels).sum()

    return torch.func.hessian(total_loss)(flat)


def loss_hvp(model: nn.Module, batches: list[tuple[tuple[Tensor, ...], Any]], loss_fn: PerExampleLoss,
             parameters: list[str] | None, vector: Tensor) -> Tensor:
    """``H @ vector`` for the Hessian of the per-example loss summed over all ``batches``, by
    double backward (one forward and two backward passes per batch)."""
    chosen = select_parameters(model, parameters)
    frozen = {n: p.detach() for n, p in model.named_parameters() if n not in chosen}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    result = torch.zeros_like(vector)
    for inputs, labels in batches:
        with torch.enable_grad():
            leaves = {n: p.detach().requires_grad_() for n, p in chosen.items()}
            outputs = functional_call(model, (leaves, frozen, buffers), inputs)
            loss = loss_fn(outputs, labels).sum()
            grads = torch.autograd.grad(loss, list(leaves.values()), create_graph=True, allow_unused=True)
            flat = torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                              for g, p in zip(grads, leaves.values())])
            if not flat.requires_grad:
                continue
            second = torch.autograd.grad(flat @ vector, list(leaves.values()), allow_unused=True)
        result += torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                             for g, p in zip(second, leaves.values())])
    return result


