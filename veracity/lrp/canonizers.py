"""Canonizers with Zennit's names: rewrite a model into an equivalent one whose LRP rules are
well defined, for one pass, and restore it exactly (the same Parameter objects, no forward
left patched, no module left added), also when the model raises.

A canonizer is a description; a composite binds it to the model when an attribution runs, or
use :meth:`Canonizer.context` yourself. Merging needs BatchNorms in eval mode.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Sequence

import torch  # noqa: F401  (the examples use it)
from torch import Tensor, nn

from veracity._core.canonizers import Compose, Sum
from veracity._core.canonizers import MergeBatchNorm as _Merge
from veracity._core.lrp_canonizers import example_probe, merge_sequential, resnet_canonizer
from veracity._core.validate import fail

__all__ = ["Canonizer", "SequentialMergeBatchNorm", "MergeBatchNorm", "ResNetCanonizer", "CompositeCanonizer", "Sum"]

Probe = Callable[[], Any]


class Canonizer:
    """Base: :meth:`bind` ``(model, probe)`` returns the context manager that changes ``model``
    (``probe()`` runs the model on one example, for canonizers that look at a forward pass).

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)).eval()
        >>> with SequentialMergeBatchNorm().context(model):
        ...     type(model[1].forward).__name__
        'function'
        >>> 'forward' in vars(model[1])
        False
    """

    def bind(self, model: nn.Module, probe: Probe) -> contextlib.AbstractContextManager:
        raise NotImplementedError

    @contextlib.contextmanager
    def context(self, model: nn.Module, example: Tensor | tuple[Tensor, ...] | None = None) -> Iterator[nn.Module]:
        """Apply to ``model`` within a ``with`` block; ``example`` inputs (one example is enough)
        for canonizers that probe a forward pass."""
        if not isinstance(model, nn.Module):
            fail("model", "a torch.nn.Module", model, TypeError)

        probe = example_probe(model, example, type(self).__name__)
        with self.bind(model, probe):
            yield model


class SequentialMergeBatchNorm(Canonizer):
    """Each BatchNorm that follows a Linear/Conv in an ``nn.Sequential`` is folded into it:
    ``W' = s W``, ``b' = s (b - mean) + beta`` with ``s = gamma / sqrt(var + eps)``; the
    BatchNorm becomes the identity.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)).eval()
        >>> x = torch.rand(2, 1, 5, 5)
        >>> with SequentialMergeBatchNorm().context(model):
        ...     inside = model(x)
        >>> torch.allclose(inside, model(x), atol=1e-6)
        True
    """

    def bind(self, model: nn.Module, probe: Probe) -> contextlib.AbstractContextManager:
        return merge_sequential(model)


class MergeBatchNorm(Canonizer):
    """Named pairs folded as in :class:`SequentialMergeBatchNorm`: ``pairs`` is a list of
    ``(layer name, batchnorm name)``; Zennit's ``NamedMergeBatchNorm`` form
    ``([layer name], batchnorm name)`` is accepted too.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.BatchNorm1d(2)).eval()
        >>> canonizer = MergeBatchNorm([("0", "2")])  # not neighbours: merged by name only
        >>> with canonizer.context(model):
        ...     'forward' in vars(model[2])
        True
    """

    def __init__(self, pairs: Sequence[tuple[Any, str]]) -> None:
        self.pairs = list(pairs)

    def bind(self, model: nn.Module, probe: Probe) -> contextlib.AbstractContextManager:
        named = dict(model.named_modules())
        resolved = []
        for pair in self.pairs:
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                fail("pairs", "(layer name, batchnorm name) pairs", pair, TypeError)
            layer, bn = pair
            if isinstance(layer, (list, tuple)):
                if len(layer) != 1:
                    fail("pairs", "one layer per BatchNorm", f"{len(layer)} layers for {bn!r}")
                layer = layer[0]
            for name in (layer, bn):
                if name not in named:
                    fail("pairs", "names from model.named_modules()", repr(name))
            resolved.append((named[layer], named[bn]))
        return _Merge(model, pairs=resolved)


class ResNetCanonizer(Canonizer):
    """For residual networks of the common shape: BatchNorms merged into the Linear/Conv that
    produces their input, and every addition of two same-shape tensors that both carry
    relevance, made directly in a module's forward (``out + identity``), routed through a
    :class:`Sum` module added to that module (a composite gives ``Sum`` the Norm rule). Both
    are found by one probe forward pass on one example.

    Example:
        >>> class Block(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.conv = torch.nn.Conv2d(2, 2, 3, padding=1)
        ...     def forward(self, x):
        ...         return torch.relu(self.conv(x)) + x
        >>> block = Block().eval()
        >>> with ResNetCanonizer().context(block, torch.rand(1, 2, 4, 4)):
        ...     [n for n, _ in block.named_modules()]
        ['', 'conv', 'residual_sum']
    """

    def bind(self, model: nn.Module, probe: Probe) -> contextlib.AbstractContextManager:
        return resnet_canonizer(model, probe)


class CompositeCanonizer(Canonizer):
    """Several canonizers as one, applied in order and undone in reverse.

    Example:
        >>> len(CompositeCanonizer([SequentialMergeBatchNorm(), ResNetCanonizer()]).canonizers)
        2
    """

    def __init__(self, canonizers: Sequence[Canonizer]) -> None:
        self.canonizers = _check_canonizers(canonizers)

    def bind(self, model: nn.Module, probe: Probe) -> contextlib.AbstractContextManager:
        return Compose(*(_Bound(c, model, probe) for c in self.canonizers))


class _Bound(contextlib.AbstractContextManager):
    """Binds when entered, so that a later canonizer sees the earlier one's changes."""

    def __init__(self, canonizer: Canonizer, model: nn.Module, probe: Probe) -> None:
        self.canonizer, self.model, self.probe = canonizer, model, probe
        self.active: contextlib.AbstractContextManager | None = None

    def __enter__(self) -> Any:
        self.active = self.canonizer.bind(self.model, self.probe)
        return self.active.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        active, self.active = self.active, None
        return None if active is None else active.__exit__(*exc)


def _check_canonizers(canonizers: Any) -> list[Canonizer]:
    """``None`` or a list of :class:`Canonizer`; anything else is an error naming it."""
    if canonizers is None:
        return []
    if not isinstance(canonizers, (list, tuple)) or not all(isinstance(c, Canonizer) for c in canonizers):
        fail("canonizers", "a list of veracity.lrp canonizers (e.g. [SequentialMergeBatchNorm()])",
             canonizers, TypeError)
    return list(canonizers)


def _factory(canonizer: Canonizer) -> Callable[[nn.Module, Probe], contextlib.AbstractContextManager]:
    """The engine's form: ``(model, probe) -> context manager``, bound on entry."""
    return lambda model, probe: _Bound(canonizer, model, probe)


_ = Sum
