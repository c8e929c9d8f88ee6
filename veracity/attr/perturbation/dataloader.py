"""``DataLoaderAttribution``: feature ablation against a metric over a whole DataLoader."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.chunking import Points
from veracity._core.dataloader import reordered_forward
from veracity._core.engine import forward_points
from veracity._core.progress import progress_bar
from veracity._core.validate import check_optional_positive_int, fail
from veracity.attr._base import Attribution
from veracity.attr.perturbation._engine import presence_builder
from veracity.attr.perturbation._groups import FeatureGroups, prepare_feature_mask
from veracity.attr.perturbation.ablation import FeatureAblation

ATTRIBUTED, FORWARD_ONLY, EXCLUDED = 0, 1, 2


def _concat(accum: Any, output: Tensor, inputs: Any) -> Tensor:
    """The default ``reduce``: every batch's outputs, concatenated."""
    return output if accum is None else torch.cat([accum, output])


class DataLoaderAttribution(Attribution):
    """Feature ablation against a corpus-level metric (Captum 0.9's ``DataLoaderAttribution``).

    ``attr_method`` must be a :class:`FeatureAblation` (Captum's only supported method); its
    model is used. Each element of a DataLoader batch has a role (``input_roles``): 0 passed to
    the model and attributed, 1 passed but not attributed, 2 not passed (labels, ids). One
    ``feature_mask`` and one ``baselines`` (first dimension 1, for the role-0 elements) serve
    every batch; with no mask each element of an example is its own feature. For the original
    data and for each feature set to its baseline, the model's outputs over the whole
    DataLoader are folded with ``reduce(accum, output, batch)`` (default: concatenated) and
    turned into a metric by ``to_metric(accum)`` (default: the accumulated value). The
    attribution of a feature is ``metric(original) - metric(feature ablated)``, per metric
    entry: ``(n_metric, *example shape)`` per input with ``return_input_shape``, otherwise
    ``(n_metric, n_features)``.

    ``perturbations_per_pass`` perturbations are evaluated per traversal of the DataLoader
    (``None``, the default here: all in one traversal; Captum's default 1 traverses it once
    per feature). Within a batch, the engine stacks the perturbations in chunks. The model
    must return one output row per example.

    Example:
        >>> import torch
        >>> from torch.utils.data import DataLoader, TensorDataset
        >>> from veracity.attr import DataLoaderAttribution, FeatureAblation
        >>> x, labels = torch.randn(10, 3), torch.zeros(10)
        >>> model = lambda x: x @ torch.tensor([1.0, 2.0, 3.0])
        >>> total = lambda accum, output, batch: output.sum() + (0 if accum is None else accum)
        >>> attr = DataLoaderAttribution(FeatureAblation(model)).attribute(
        ...     DataLoader(TensorDataset(x, labels), batch_size=4), input_roles=(0, 2), reduce=total)
        >>> bool(torch.allclose(attr[0], (x * torch.tensor([1.0, 2.0, 3.0])).sum(0, keepdim=True)))
        True
    """

    SUPPORTED_METHODS = (FeatureAblation,)
    _multiply_by_inputs = True

    def __init__(self, attr_method: Attribution) -> None:
        if type(attr_method) not in self.SUPPORTED_METHODS:
            fail("attr_method", "a FeatureAblation instance (the method DataLoaderAttribution supports)",
                 type(attr_method).__name__, TypeError)
        super().__init__(attr_method.forward_func)
        self.attr_method = attr_method

    def attribute(self, dataloader: Any, input_roles: tuple[int, ...] | None = None, baselines: Any = None,
                  feature_mask: Any = None, reduce: Callable[..., Any] | None = None,
                  to_metric: Callable[[Any], Tensor] | None = None, perturbations_per_pass: int | None = None,
                  show_progress: bool = False, return_input_shape: bool = True) -> Tensor | tuple[Tensor, ...]:
        check_optional_positive_int("perturbations_per_pass", perturbations_per_pass)
        first = next(iter(dataloader), None)
        if first is None:
            fail("dataloader", "a DataLoader with at least one batch", "an empty one")
        was_tuple = isinstance(first, (tuple, list))
        n_elements = len(first) if was_tuple else 1
        roles = tuple(input_roles) if input_roles is not None else (ATTRIBUTED,) * n_elements
        if len(roles) != n_elements or any(r not in (ATTRIBUTED, FORWARD_ONLY, EXCLUDED) for r in roles):
            fail("input_roles", f"{n_elements} roles (one per element of a batch) among 0, 1, 2", input_roles)
        attributed = [i for i, r in enumerate(roles) if r == ATTRIBUTED]
        passed = [i for i, r in enumerate(roles) if r == FORWARD_ONLY]
        if not attributed:
            fail("input_roles", "at least one element with role 0 (attributed)", input_roles)
        forward = reordered_forward(self.forward_func, [sum(1 for r in roles[:i] if r != EXCLUDED) for i in attributed],
                                    [sum(1 for r in roles[:i] if r != EXCLUDED) for i in passed])
        reduce = _concat if reduce is None else reduce

        def calls() -> Any:
            for batch in dataloader:
                elements = tuple(batch) if was_tuple else (batch,)
                inputs = tuple(elements[i] for i in attributed)
                if any(not isinstance(x, Tensor) for x in inputs):
                    fail("dataloader", "tensors in the attributed (role 0) elements", elements, TypeError)
                yield elements, Call.of(forward, inputs, None, tuple(elements[i] for i in passed) or None)

        groups: FeatureGroups | None = None
        accum: list[Any] | None = None
        n_points = None
        start = 0
        try:
            total = len(dataloader)
        except TypeError:
            total = 0
        with progress_bar(total, show_progress, f"{self.get_name()} attribution") as bar:
            while n_points is None or start < n_points:
                stop_pass = None
                for elements, call in calls():
                    found = prepare_feature_mask(feature_mask, call.inputs)
                    if any(ids.shape[0] != 1 for ids in found.ids):
                        fail("feature_mask", "masks with first dimension 1 (one mask for every batch)", feature_mask)
                    if groups is None:
                        groups, n_points = found, found.n_features + 1
                        accum = [None] * n_points
                    elif found.n_features != groups.n_features:
                        fail("dataloader", f"batches whose examples have the same shape (the first gave "
                             f"{groups.n_features} features)", f"a batch giving {found.n_features}")
                    assert accum is not None and n_points is not None
                    stop_pass = n_points if perturbations_per_pass is None else min(
                        n_points, start + perturbations_per_pass)
                    self._pass(call, baselines, found, elements, reduce, accum, start, stop_pass)
                    bar.update(1)
                if stop_pass is None:
                    fail("dataloader", "a DataLoader that yields batches on every traversal", "an exhausted one")
                start = stop_pass
        assert groups is not None and accum is not None
        metrics = [a if to_metric is None else to_metric(a) for a in accum]
        for value in metrics:
            if not isinstance(value, Tensor):
                fail("to_metric", "a tensor metric (or reduce returning one)", value, TypeError)
        flat = torch.stack([m.reshape(-1).to(torch.promote_types(m.dtype, torch.float32)) for m in metrics])
        per_feature = (flat[:1] - flat[1:]).t()
        if not return_input_shape:
            return per_feature
        examples = tuple(ids.expand(per_feature.shape[0], *ids.shape[1:]) for ids in groups.ids)
        result = groups.spread(per_feature, examples)
        return result if was_tuple else result[0]

    @staticmethod
    def _pass(call: Call, baselines: Any, groups: FeatureGroups, elements: tuple[Any, ...],
              reduce: Callable[..., Any], accum: list[Any], start: int, stop: int) -> None:
        """Points ``start..stop-1`` of one batch (point 0: nothing ablated; point f+1: feature f)."""
        base = call.baselines(baselines)
        features = torch.arange(groups.n_features, device=call.inputs[0].device)

        def presence(first: int, last: int) -> Tensor:
            removed = torch.arange(first, last, device=features.device) - 1
            return features.unsqueeze(0) != removed.unsqueeze(1)

        build = presence_builder(call, base, groups, presence)
        points = Points.of(stop - start, call.inputs, lambda s, e: build(start + s, start + e))

        def consume(first: int, last: int, values: Tensor) -> None:
            for offset in range(last - first):
                index = start + first + offset
                accum[index] = reduce(accum[index], values[offset], elements)

        forward_points(call, points, consume, raw=True)

    def attribute_future(self) -> Callable[..., Any]:
        raise NotImplementedError("DataLoaderAttribution does not support attribute_future (as in Captum)")
