"""FeaturePermutation (permutation importance, Breiman 2001; Fisher, Rudin & Dominici 2019)."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.batch_scores import scores
from veracity._core.call import Call
from veracity._core.validate import fail
from veracity.attr._base import PerturbationAttribution
from veracity.attr.perturbation._groups import prepare_feature_mask
from veracity.attr.perturbation.ablation import check_no_extra

TensorOrTuple = Tensor | tuple[Tensor, ...]


def random_derangement_rows(n_rows: int, batch: int, generator: torch.Generator | None) -> Tensor:
    """``n_rows`` random permutations of ``range(batch)``, none of them the identity."""
    perms = torch.rand(n_rows, batch, generator=generator).argsort(1)
    identity = torch.arange(batch)
    while True:
        still = (perms == identity).all(1)
        if not bool(still.any()):
            return perms
        perms[still] = torch.rand(int(still.sum()), batch, generator=generator).argsort(1)


class FeaturePermutation(PerturbationAttribution):
    """Attribution of a feature group = F(x) - F(x with the group shuffled across the batch).

    For each group of ``feature_mask`` the group's values are permuted between the examples
    of the batch (a random permutation other than the identity, the same for every input the
    group spans) and the drop in each example's output is its attribution. The batch must
    hold more than one example. ``perm_func(x, mask) -> permuted x`` replaces the default
    shuffle as in Captum (it is then called once per group and input); ``generator`` seeds
    the default shuffle. All perturbed batches go through the engine in chunks. With a model
    that returns one scalar for the whole batch (e.g. a loss), the attribution of a group is
    the change of that scalar when the group is shuffled, first dimension 1, as in Captum
    (``perturbations_per_eval`` 1 or None, masks with first dimension 1).

    Example:
        >>> import torch
        >>> from veracity.attr import FeaturePermutation
        >>> model = torch.nn.Linear(3, 1)
        >>> x = torch.randn(8, 3)
        >>> g = torch.Generator().manual_seed(0)
        >>> FeaturePermutation(model).attribute(x, generator=g).shape
        torch.Size([8, 3])
    """

    def __init__(self, forward_func: Callable[..., Any],
                 perm_func: Callable[[Tensor, Tensor], Tensor] | None = None) -> None:
        super().__init__(forward_func)
        if perm_func is not None and not callable(perm_func):
            fail("perm_func", "a callable (x, feature_mask) -> permuted x", perm_func, TypeError)
        self.perm_func = perm_func

    def attribute(self, inputs: TensorOrTuple, target: Any = None, additional_forward_args: Any = None,
                  feature_mask: Any = None, perturbations_per_eval: int | None = None, show_progress: bool = False, *,
                  generator: torch.Generator | None = None, **kwargs: Any) -> TensorOrTuple:
        check_no_extra(kwargs)
        call = Call.of(self.forward_func, inputs, target, additional_forward_args)
        return self.attribute_call(call, feature_mask, perturbations_per_eval, show_progress, generator=generator)

    def attribute_future(self, inputs: TensorOrTuple, target: Any = None, additional_forward_args: Any = None,
                         feature_mask: Any = None, perturbations_per_eval: int | None = None,
                         show_progress: bool = False, *, generator: torch.Generator | None = None,
                         **kwargs: Any) -> Any:
        """``attribute`` for a ``forward_func`` that returns ``torch.futures.Future``; returns a
        ``Future`` of the attributions."""
        return self._future_of(inputs=inputs, target=target, additional_forward_args=additional_forward_args,
                               feature_mask=feature_mask, perturbations_per_eval=perturbations_per_eval,
                               show_progress=show_progress, generator=generator, **kwargs)

    def attribute_call(self, call: Call, feature_mask: Any = None, perturbations_per_eval: int | None = None,
                       show_progress: bool = False, *, generator: torch.Generator | None = None) -> TensorOrTuple:
        if call.batch < 2:
            fail("inputs", "a batch of at least 2 examples (features are permuted across the batch)",
                 f"batch size {call.batch}")
        groups = prepare_feature_mask(feature_mask, call.inputs)
        device = call.inputs[0].device
        perms = torch.cat([torch.arange(call.batch).unsqueeze(0),
                           random_derangement_rows(groups.n_features, call.batch, generator)]).to(device)

        def build(start: int, stop: int) -> tuple[Tensor, ...]:
            removed = torch.arange(start, stop, device=device) - 1
            parts = []
            for x, ids in zip(call.inputs, groups.ids):
                selected = ids.unsqueeze(0) == removed.view(-1, *([1] * ids.dim()))
                if self.perm_func is None:
                    mixed = torch.where(selected, x[perms[start:stop]], x.unsqueeze(0))
                else:
                    mixed = torch.stack([x if f < 0 else self.perm_func(x, sel)
                                         for f, sel in zip(removed.tolist(), selected)])
                parts.append(mixed.expand(stop - start, *x.shape).reshape(-1, *x.shape[1:]))
            return tuple(parts)

        values = scores(call, groups.n_features + 1, build, perturbations_per_eval,
                        show_progress, f"{self.get_name()} attribution", groups.ids, every_output=True)
        per_feature = (values[:1] - values[1:]).t()
        return call.finish(groups.spread(per_feature, call.inputs))
