"""One public call, normalised once: the :class:`Call` every family and the engine work on.

A method's ``attribute(inputs, baselines, target, additional_forward_args, ...)`` builds one
``Call`` (:meth:`Call.of`), hands it to its algorithm and to the engine, and formats results
back with :meth:`Call.finish` (tensor in, tensor out; tuple in, tuple out; a list of layers
in, a list out). A method that reuses another (layer and neuron adapters, NoiseTunnel, the
metrics) derives a new ``Call`` (:meth:`with_forward`, :meth:`repeated`, :meth:`at_layers`)
and calls the other method's :meth:`~veracity.attr.Attribution.attribute_call`; nothing is
turned back into the user's form to be normalised again. A ``Call`` is immutable.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from veracity._core.inputs import (
    as_tuple,
    check_inputs,
    prepare_additional_args,
    prepare_baseline_distribution,
    prepare_baselines,
    repeat_args,
)
from veracity._core.layers import Site, as_layers, make_sites, user_format
from veracity._core.targets import TargetIndex, prepare_target

Values = tuple[Tensor, ...]
_MODE_DEPENDENT = (torch.nn.modules.dropout._DropoutNd, torch.nn.modules.batchnorm._BatchNorm)


def warn_if_training(forward_func: Any) -> None:
    """Attributions through dropout or batch statistics are random or batch-dependent."""
    module = forward_func if isinstance(forward_func, nn.Module) else getattr(forward_func, "__self__", None)
    if isinstance(module, nn.Module) and module.training and any(
        isinstance(m, _MODE_DEPENDENT) and m.training for m in module.modules()
    ):
        warnings.warn(
            f"`forward_func`: the model ({type(module).__name__}) is in training mode; dropout and "
            "batch-norm statistics make attributions random and batch-dependent. Call model.eval() "
            "first.",
            UserWarning,
            stacklevel=4,
        )


@dataclass(frozen=True)
class Call:
    """The normalised arguments of one call.

    ``forward_func`` is what the engine calls (the user's model, or a wrapper of it that an
    adapter derived); ``inputs`` a tuple of batch-first tensors; ``target`` the normalised
    target; ``args`` the additional forward arguments; ``sites`` the hooked layers of layer
    methods (``was_list``: the user passed a list of layers).

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(3, 2)
        >>> call = Call.of(model, torch.zeros(4, 3), target=1)
        >>> call.batch, call.target.index[:, 0].tolist()
        (4, [1, 1, 1, 1])
        >>> call.finish([torch.ones(4, 3)]).shape
        torch.Size([4, 3])
    """

    forward_func: Callable[..., Any]
    inputs: Values
    was_tuple: bool
    batch: int
    target: TargetIndex
    args: tuple[Any, ...] = ()
    sites: tuple[Site, ...] = ()
    was_list: bool = False
    grad_kwargs: dict[str, Any] | None = None  # extra torch.autograd.grad arguments (Captum's grad_kwargs)
    user_shapes: tuple[tuple[int, ...], ...] = ()  # the inputs' shapes as the user passed them (for errors)

    @classmethod
    def of(cls, forward_func: Callable[..., Any], inputs: Any, target: Any = None,
           additional_forward_args: Any = None, *, need_float: bool = False) -> "Call":
        """Check and normalise a public call's arguments; warn about a model in training mode."""
        tup, was_tuple = as_tuple(inputs)
        batch = check_inputs(tup, need_float=need_float)
        warn_if_training(forward_func)
        return cls(forward_func, tup, was_tuple, batch, prepare_target(target, batch),
                   prepare_additional_args(additional_forward_args), user_shapes=tuple(tuple(x.shape) for x in tup))

    def replace(self, **changes: Any) -> "Call":
        return dataclasses.replace(self, **changes)

    def grad_options(self) -> dict[str, Any]:
        """Keyword arguments of the engine's ``torch.autograd.grad`` calls for this call."""
        return {"allow_unused": True, **(self.grad_kwargs or {})}

    def with_forward(self, forward_func: Callable[..., Any], inputs: Values | None = None,
                     args: tuple[Any, ...] | None = None) -> "Call":
        """The same target and batch through a derived forward function (a hooked model, a
        neuron as output), optionally on other inputs (a layer's values) and arguments."""
        return self.replace(forward_func=forward_func, inputs=self.inputs if inputs is None else tuple(inputs),
                            args=self.args if args is None else args)

    def repeated(self, copies: int, inputs: Values) -> "Call":
        """``copies`` stacked versions of the batch (point-major) as one batch: ``inputs`` hold
        them; targets and per-example arguments are tiled to match."""
        return self.replace(inputs=tuple(inputs), batch=self.batch * copies, target=self.target.repeat(copies),
                            args=repeat_args(self.args, self.batch, copies))

    def at_layers(self, layer: Any, accepts_list: bool, to_input: bool) -> "Call":
        """This call with the layer(s) to hook: a module, or a list where the method takes one."""
        layers, was_list = as_layers(layer, accepts_list)
        return self.replace(sites=tuple(make_sites(self.forward_func, layers, to_input)), was_list=was_list)

    # baselines: normalised against this call's inputs --------------------------------------

    def baselines(self, baselines: Any) -> Values:
        """One baseline per input, broadcast to its shape (None: zeros)."""
        return prepare_baselines(baselines, self.inputs)

    def baseline_distribution(self, baselines: Any) -> Values:
        """Rows of baselines (SHAP-style), the same number for every input."""
        return prepare_baseline_distribution(baselines, self.inputs)

    # results back in the user's form ------------------------------------------------------

    def finish(self, values: Sequence[Tensor]) -> Tensor | tuple[Tensor, ...]:
        """Tensor in, tensor out; tuple in, tuple out."""
        return tuple(values) if self.was_tuple else values[0]

    def finish_layers(self, per_site: Sequence[Values]) -> Any:
        """Per layer a tensor (or a tuple for tuple outputs / several inputs); a list of them
        when a list of layers was given."""
        results = [user_format(values, site) for values, site in zip(per_site, self.sites)]
        return results if self.was_list else results[0]
